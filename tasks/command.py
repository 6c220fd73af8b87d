"""Command handlers: an allow-listed argv template run without a shell, in its own folder.

stdout and stderr become live log lines; cancel and time limits kill the whole process
group; files written to `$TASKPLANE_OUTPUT_DIR` become artifacts of the job (named by
their path inside that folder) and are listed in the result.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from celery.exceptions import SoftTimeLimitExceeded

from config.catalog import placeholder
from tasks.errors import JobCancelled, JobError

KILL_GRACE_SECONDS = 3.0
PASSED_ENV = ("PATH", "LANG", "LC_ALL", "TZ", "PYTHONPATH")


def render_argv(template: tuple[str, ...], payload: dict) -> list[str]:
    """The argv of one run: each `{field}` element replaced by that payload value."""
    argv = []
    for part in template:
        field = placeholder(part)
        argv.append(part if field is None else str(payload[field]))
    return argv


def kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM the process group, then SIGKILL what is still alive after a grace period."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=KILL_GRACE_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
    except ProcessLookupError:
        pass


def _pump(ctx, pipe, stream: str) -> None:
    from app.extensions import db

    try:
        for line in iter(pipe.readline, ""):
            ctx.write_log(line.rstrip("\n"), stream=stream,
                          level="error" if stream == "stderr" else "info")
    finally:
        pipe.close()
        db.release()


def _outputs(ctx, folder: Path) -> list[dict]:
    """Store each regular file of `folder` as an artifact of the job (links are not followed)."""
    outputs = []
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            stored = ctx.add_artifact(str(path.relative_to(folder)), path)
            outputs.append({"name": stored["name"], "size": stored["size"],
                            "artifact_id": stored["id"], "digest": stored["digest"]})
    return outputs


def run_command(ctx, spec, payload: dict) -> dict:
    """Run the command of job type `spec` for `payload`; non-zero exit fails the job."""
    argv = render_argv(spec.command, payload)
    root = Path(tempfile.mkdtemp(prefix=f"taskplane-{ctx.job_id}-"))
    workdir, outdir = root / "work", root / "output"
    workdir.mkdir()
    outdir.mkdir()
    env = {name: os.environ[name] for name in PASSED_ENV if name in os.environ}
    env.update(HOME=str(workdir), TASKPLANE_OUTPUT_DIR=str(outdir), TASKPLANE_JOB_ID=ctx.job_id,
               TASKPLANE_TENANT=ctx.tenant, TASKPLANE_PROJECT=ctx.project,
               TASKPLANE_ATTEMPT=str(ctx.attempt))
    try:
        proc = subprocess.Popen(argv, cwd=workdir, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True,
                                bufsize=1, start_new_session=True)
    except OSError as exc:
        shutil.rmtree(root, ignore_errors=True)
        raise JobError(f"cannot start {argv[0]}: {exc}") from exc
    pumps = [threading.Thread(target=_pump, args=(ctx, pipe, name), daemon=True)
             for pipe, name in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
    for pump in pumps:
        pump.start()
    ctx.on_cancel(lambda: kill_group(proc))
    try:
        while proc.poll() is None:
            time.sleep(0.05)
        for pump in pumps:
            pump.join()
        ctx.check_cancelled()
        if proc.returncode != 0:
            raise JobError(f"{argv[0]} exited with status {proc.returncode}")
        return {"exit_code": proc.returncode, "outputs": _outputs(ctx, outdir)}
    except (SoftTimeLimitExceeded, JobCancelled):
        kill_group(proc)
        raise
    finally:
        kill_group(proc)
        for pump in pumps:  # every line is buffered before the attempt's end is stored
            pump.join(timeout=KILL_GRACE_SECONDS)
        shutil.rmtree(root, ignore_errors=True)
