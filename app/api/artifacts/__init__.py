"""`/artifacts` and the artifacts of a job."""
