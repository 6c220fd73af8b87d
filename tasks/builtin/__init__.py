"""Built-in job types; each module's `run(ctx, payload)` is named in the catalog."""
