"""Built-in job types, one module each: its payload schema, its `JobType` and its handler.

The catalog (`config.catalog.build_catalog`) takes `JOB_TYPES` from here, so the web
process imports these modules for their schemas (payload validation, `GET /job-types`)
too: at their top they import only what the API loads anyway (services, marshmallow,
`tasks.errors`), never the runner, the job context or Celery. A handler is still named by
dotted path (`handler=f"{__name__}:run"`), and the runner resolves it.
"""

from __future__ import annotations

from tasks.builtin import artifact_bundle, audit_report, echo, eval_run, plan_build, sleep

JOB_TYPES = (echo.JOB_TYPE, sleep.JOB_TYPE, plan_build.JOB_TYPE, eval_run.JOB_TYPE,
             audit_report.JOB_TYPE, artifact_bundle.JOB_TYPE)
