"""HTTP API tests (a package, so module names never clash with tests elsewhere)."""
