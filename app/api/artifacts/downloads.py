"""Streaming artifact bytes over HTTP: ETag, Content-Length, Range (206), If-None-Match (304)."""

from __future__ import annotations

from urllib.parse import quote

from flask import Response, request, stream_with_context
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from app.api.artifacts import transfers
from app.services import artifact_integrity
from app.storage import CHUNK


def _span(size: int, tag: str) -> tuple[int, int] | None:
    """(start, stop) of a single satisfiable `Range`, None for the whole body; 416 otherwise."""
    wanted = request.range
    if wanted is None or len(wanted.ranges) != 1 or wanted.units != "bytes":
        return None
    if "If-Range" in request.headers and request.if_range.etag != tag:
        return None  # changed since the caller's copy (or a date we cannot check): whole
    span = wanted.range_for_length(size)
    if span is None:
        raise RequestedRangeNotSatisfiable(length=size)
    return span


def content_response(artifact, manifest) -> Response:
    """The manifest's bytes as a streamed response honouring conditional and range requests."""
    tag = manifest.digest.removeprefix("sha256:")
    headers = {"Accept-Ranges": "bytes", "Cache-Control": "private, no-cache",
               "Content-Disposition": f"attachment; filename*=UTF-8''{quote(artifact.name, '')}",
               "X-Artifact-Version": str(manifest.version)}
    if request.if_none_match.contains(tag):
        response = Response(status=304, headers=headers)
        response.set_etag(tag)
        return response
    span = _span(manifest.size, tag)
    return transfers.download(request.environ,
                              lambda hold: _body(artifact, manifest, tag, headers, span, hold))


def _body(artifact, manifest, tag: str, headers: dict, span, hold) -> Response:
    """The 200 or 206 answer streaming the bytes (`span`: a range, or None for all)."""
    start, stop = span or (0, manifest.size)
    # Checked against the digest (artifact_integrity): a missing or rotten object is an
    # error answer here, or a transfer cut short of its Content-Length, never wrong bytes.
    body = artifact_integrity.body(artifact.id, manifest, start, stop, whole=span is None)
    if hasattr(body, "fileno"):  # a whole local file: the server may send it with sendfile()
        body = wrap_file(request.environ, hold(body), CHUNK)
    else:
        body = hold(stream_with_context(body))  # a fault found at the end is reported in the app
    response = Response(body, status=206 if span else 200, mimetype=None,
                        content_type=manifest.content_type, headers=headers,
                        direct_passthrough=True)
    response.content_length = stop - start
    if span:
        response.content_range = f"bytes {start}-{stop - 1}/{manifest.size}"
    response.set_etag(tag)
    return response
