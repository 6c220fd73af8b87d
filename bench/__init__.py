"""Benchmarks of Taskplane against the bare stack it is built on (see bench/README.md)."""
