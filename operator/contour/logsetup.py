"""Server logs as Contour writes them: one line per record, logfmt-like text or one JSON object.

Contour logs through logrus with the fields `time`, `level`, `msg` and a few of its own (`context`,
`kind`, `namespace`, `name`, `stream_id`, `node_id`), so log pipelines built for it keep working.
Code passes those fields with stdlib logging's ``extra=``; the object's `name` is passed as
``object_name``, since a LogRecord's own `name` (the logger's) cannot be overwritten:

    log.info("stream opened", extra={"stream_id": 3, "node_id": "envoy-1"})
    log.info("status written", extra={"kind": "HTTPProxy", "namespace": "ns", "object_name": "app"})

A record without a `context` gets its logger's name as the context. An exception is written as the
`error` field (its traceback as `stack`). `configure_logging` replaces the root logger's handlers with
one on stderr; it is for processes (`contour serve`), not libraries.
"""

from __future__ import annotations

import datetime
import json
import logging
import sys
from typing import Any, Final, Literal, TextIO

LogFormat = Literal["text", "json"]
LOG_FORMATS: Final = ("text", "json")

# Contour's structured fields, in the order the text format writes them.
FIELDS: Final = ("context", "kind", "namespace", "name", "stream_id", "node_id")

# Loggers that are noisy at info level: one line per HTTP request.
_QUIET_LOGGERS: Final = ("httpx", "httpcore", "kr8s", "aiohttp.access")


def _level(record: logging.LogRecord) -> str:
    return "warning" if record.levelno == logging.WARNING else record.levelname.lower()


def _time(record: logging.LogRecord) -> str:
    moment = datetime.datetime.fromtimestamp(record.created, datetime.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def record_fields(record: logging.LogRecord, formatter: logging.Formatter) -> dict[str, Any]:
    """The record as ordered fields: time, level, msg, Contour's fields, error and stack."""
    fields: dict[str, Any] = {"time": _time(record), "level": _level(record), "msg": record.getMessage()}
    for name in FIELDS:
        # LogRecord has a `name` of its own (the logger's): an object's name comes as `object_name`.
        value = record.__dict__.get("object_name" if name == "name" else name)
        if value is None and name == "context":
            value = record.name
        if value is not None and value != "":
            fields[name] = value
    if record.exc_info and record.exc_info[1] is not None:
        fields["error"] = f"{type(record.exc_info[1]).__name__}: {record.exc_info[1]}"
        fields["stack"] = formatter.formatException(record.exc_info)
    elif record.stack_info:
        fields["stack"] = record.stack_info
    return fields


def _logfmt_value(value: Any) -> str:
    text = str(value)
    if text and not any(c in text for c in ' "=\\\n\t') and text.isprintable():
        return text
    return json.dumps(text, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """`time=... level=info msg="..." context=...`: logfmt, as logrus's text formatter writes it."""

    def format(self, record: logging.LogRecord) -> str:
        fields = record_fields(record, self)
        return " ".join(f"{key}={_logfmt_value(value)}" for key, value in fields.items())


class JSONFormatter(logging.Formatter):
    """One JSON object per line with the same fields as the text format."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(record_fields(record, self), ensure_ascii=False, default=str)


def formatter_for(fmt: LogFormat) -> logging.Formatter:
    if fmt == "json":
        return JSONFormatter()
    if fmt == "text":
        return TextFormatter()
    raise ValueError(f"unknown log format {fmt!r}: expected one of {', '.join(LOG_FORMATS)}")


def configure_logging(fmt: LogFormat, debug: bool, stream: TextIO | None = None) -> logging.Handler:
    """Log every record of level info (debug with `debug`) to `stream` (stderr) in `fmt`.

    The root logger's previous handlers are removed; the handler installed is returned.
    """
    handler = logging.StreamHandler(stream if stream is not None else sys.stderr)
    handler.setFormatter(formatter_for(fmt))
    root = logging.getLogger()
    for previous in list(root.handlers):
        root.removeHandler(previous)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug else logging.INFO)
    for name in _QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug else logging.WARNING)
    return handler
