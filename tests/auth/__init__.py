"""Authentication modes, tenancy and the role matrix."""
