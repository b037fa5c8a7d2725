"""JSON log lines carrying the id of the request (or task) that wrote them."""

from __future__ import annotations

import contextvars
import json
import logging
import re
import uuid
from datetime import UTC, datetime

request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

_VALID_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


def new_request_id(incoming: str | None = None) -> str:
    """Keep a well-formed incoming id (so a trace spans services); otherwise make one."""
    if incoming and _VALID_ID.match(incoming):
        return incoming
    return uuid.uuid4().hex


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, tz=UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", request_id.get()),
        }
        for key in ("poll_id", "user_id", "status", "path", "method", "duration_ms"):
            if hasattr(record, key):
                entry[key] = getattr(record, key)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry)


def connect_celery_signals() -> None:
    """Carry the request id into the tasks a request enqueues, and into their log lines."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _add_header(headers=None, **kwargs):
        if headers is not None:
            headers.setdefault("request_id", request_id.get())

    @task_prerun.connect(weak=False)
    def _set(task=None, **kwargs):
        # From the message header on a worker; in eager mode the caller's id is still current.
        incoming = getattr(task.request, "request_id", None) or request_id.get()
        task.request.nexus_token = request_id.set(new_request_id(None if incoming == "-" else incoming))

    @task_postrun.connect(weak=False)
    def _reset(task=None, **kwargs):
        token = getattr(task.request, "nexus_token", None)
        if token is not None:
            request_id.reset(token)
