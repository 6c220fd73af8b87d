"""`/api-keys`: API key administration."""
