"""One logging configuration for web, worker and beat: JSON lines (or text for a terminal).

Every line carries time, level, logger and message, plus what is known where it was
written: the request's id, trace id, actor, tenant, reason, route, status and duration
on the web; the job id, attempt and trace id in a worker. A message that is itself a
JSON object (the governance event lines) is merged into the line, not nested as a string.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import json
import logging

from app import tracing

# Set by the web per request and by the worker per job; read by every line written meanwhile.
LOG_CONTEXT: contextvars.ContextVar[dict | None] = contextvars.ContextVar(
    "taskplane_log_context", default=None)
RESERVED = frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message"}


def bind(**fields) -> contextvars.Token:
    """Add `fields` to every line logged in this context; `unbind(token)` takes them away."""
    return LOG_CONTEXT.set({**(LOG_CONTEXT.get() or {}), **fields})


def unbind(token: contextvars.Token) -> None:
    """Restore the context `bind` replaced."""
    LOG_CONTEXT.reset(token)


def note(job_id: str, **fields) -> None:
    """Add `fields` to the current context if it is the run of job `job_id` (its attempt)."""
    context = LOG_CONTEXT.get()
    if context is not None and context.get("job_id") == job_id:
        context.update(fields)


def json_object(text: str) -> dict | None:
    """`text` as a dict when it is a JSON object (a structured line), else None."""
    if not text.startswith("{"):
        return None
    try:
        document = json.loads(text)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def fields_of(record: logging.LogRecord) -> dict:
    """The structured fields of `record`: context, `extra=` keys and a JSON-object message."""
    fields = dict(LOG_CONTEXT.get() or {})
    trace_id = tracing.current_trace_id()
    if trace_id:
        fields["trace_id"] = trace_id
    fields.update((k, v) for k, v in vars(record).items() if k not in RESERVED)
    message = record.getMessage()
    document = json_object(message)
    if document is not None:
        fields.update(document)
        message = str(document.get("event") or document.get("msg") or document.get("audit")
                      or "")
    fields["message"] = message
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the structured fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one JSON line."""
        line = {"time": dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat(),
                "level": record.levelname, "logger": record.name}
        line.update(fields_of(record))
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


class TextFormatter(logging.Formatter):
    """`time level logger message key=value …` for people reading a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as one readable line."""
        fields = fields_of(record)
        message = fields.pop("message")
        extra = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        line = (f"{self.formatTime(record)} {record.levelname:<7} {record.name}: {message}"
                + (f"  {extra}" if extra else ""))
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def configure_logging(log_format: str = "json", level: str = "INFO") -> None:
    """Send every logger's lines to stderr in `log_format` (`json` or `text`)."""
    handler = logging.StreamHandler()
    handler.setFormatter(formatter(log_format))
    handler.set_name("taskplane")
    root = logging.getLogger()
    for old in list(root.handlers):  # ours from an earlier call, or a bare default one
        if old.get_name() == "taskplane" or type(old) is logging.StreamHandler:
            root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level.upper())


def formatter(log_format: str) -> logging.Formatter:
    """The formatter of `log_format` (`json` or `text`)."""
    return JsonFormatter() if log_format == "json" else TextFormatter()
