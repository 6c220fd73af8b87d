-- wrk script: every request submits one `echo` job as Taskplane's POST /jobs expects it.
-- The bare app (bench/bare_app.py) gets the very same request.
wrk.method = "POST"
wrk.body = '{"job_type": "echo", "payload": {"message": "bench"}, "project": "bench"}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["X-Actor"] = "bench"
wrk.headers["X-Roles"] = "viewer"
wrk.headers["X-Tenant"] = "bench-http"
