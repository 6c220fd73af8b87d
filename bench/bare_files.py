"""The bare web side for file transfer: Flask streaming a request body to a file and back.

Run as `gunicorn bench.bare_files:app` with `BENCH_FILES_DIR` set. The body is read the
way Taskplane reads an upload (`app.api.artifacts.uploads.request_chunks`: 1 MiB blocks
from gunicorn's socket), written with the same durability (fsync) as Taskplane's local
object store, with no hashing, no database and no identity.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Flask, Response, request

from app.api.artifacts.uploads import request_chunks

CHUNK = 1024 * 1024
FOLDER = Path(os.environ.get("BENCH_FILES_DIR", "."))
app = Flask(__name__)


@app.put("/files/<int:number>")
def put(number: int):
    """Stream the body into file `number`, fsync it, answer its size."""
    size = 0
    with (FOLDER / str(number)).open("wb") as handle:
        for chunk in request_chunks(request):
            handle.write(chunk)
            size += len(chunk)
        handle.flush()
        os.fsync(handle.fileno())
    return {"size": size}


@app.get("/files/<int:number>")
def get(number: int):
    """Stream file `number` back in 1 MiB chunks."""
    path = FOLDER / str(number)

    def chunks():
        with path.open("rb") as handle:
            while chunk := handle.read(CHUNK):
                yield chunk

    return Response(chunks(), mimetype="application/octet-stream", direct_passthrough=True,
                    headers={"Content-Length": str(path.stat().st_size)})


@app.get("/livez")
def livez():
    """The process is alive."""
    return {"status": "ok"}
