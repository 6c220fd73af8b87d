"""Settings and the job-type catalog: everything Taskplane reads before it runs."""
