"""`/audit` and the hook that writes the audit log."""
