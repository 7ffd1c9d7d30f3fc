"""The service processes' log lines: one format for every line ``seqedit serve`` and ``seqedit worker``
write on stderr, chosen with ``--log-format text|json`` (``SEQEDIT_LOG_FORMAT``).

A line is an *event* with *fields*: the code logs a short, constant message and passes what varies as
keyword fields (``log.info("job completed", extra={"prediction": pid, "ms": 812})``), so that a log
shipper can index them and a person can still read them:

* ``text`` — ``2026-12-01T14:50:01.123Z INFO seqedit.runner: job completed prediction=3f… ms=812``:
  the message, then each field as ``key=value``; a value with a space, a quote, an ``=`` or a control
  character is written as a JSON string, so a field can never start a new line or fake another field.
* ``json`` — one JSON object per line: ``ts`` (ISO-8601 UTC, milliseconds, ``Z``), ``level``,
  ``logger``, ``msg``, then the fields as keys (a field named like one of those four is dropped, they
  win), and ``exc`` with the traceback when one was logged. Values JSON cannot hold are written with
  ``str``.

What is logged is decided where it is logged, never here: no line carries an API key, a bearer token,
a URL's query string (file signatures, sign-in tokens) or a request or response body (see
``api.access`` and ``jobs.runner``). This module only formats.

``configure(fmt)`` installs one handler on the ``seqedit`` and ``uvicorn`` loggers (uvicorn's own
logging config is off, ``api.server``), replacing the one an earlier call installed. The handler
writes to whatever ``sys.stderr`` is when a line is written, so a test runner that swaps stderr does
not leave it writing to a closed stream.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from datetime import UTC, datetime
from typing import Any, Literal, TextIO

__all__ = ["FORMATS", "LogFormat", "configure", "fields", "JsonFormatter", "TextFormatter"]

LogFormat = Literal["text", "json"]
FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOGGERS = ("seqedit", "uvicorn")  # the loggers whose lines are ours to format
RESERVED = ("ts", "level", "logger", "msg")  # the keys of every JSON line; fields never replace them

# every attribute a bare LogRecord has (plus what formatting adds): the rest came in through ``extra=``
_STANDARD = frozenset(logging.LogRecord("x", logging.INFO, "x", 0, "x", None, None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}
_PLAIN = re.compile(r"[^\s\"'=\\\x00-\x1f\x7f]+")  # a text value that needs no quoting


def fields(record: logging.LogRecord) -> dict[str, Any]:
    """The event's own fields: what the caller passed with ``extra=``, in the order given."""
    return {k: v for k, v in record.__dict__.items() if k not in _STANDARD and not k.startswith("_")}


def _ts(record: logging.LogRecord) -> str:
    return datetime.fromtimestamp(record.created, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _plain(value: Any) -> Any:
    """``value`` as JSON can hold it (nested containers included), else its ``str``."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_plain(v) for v in value]
    return str(value)


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ``ts``, ``level``, ``logger``, ``msg``, the fields, ``exc``."""

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "ts": _ts(record),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in fields(record).items():
            if key not in RESERVED:
                line[key] = _plain(value)
        if record.exc_info:
            line["exc"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exc"] = record.exc_text
        return json.dumps(line, ensure_ascii=False, allow_nan=False, default=str)


class TextFormatter(logging.Formatter):
    """``<ts> <LEVEL> <logger>: <msg> key=value …``, then the traceback (if any) on the lines below."""

    def format(self, record: logging.LogRecord) -> str:
        parts = [f"{_ts(record)} {record.levelname} {record.name}: {record.getMessage()}"]
        parts.extend(f"{key}={_text_value(value)}" for key, value in fields(record).items())
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _text_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    text = value if isinstance(value, str) else json.dumps(_plain(value), ensure_ascii=False, default=str)
    if text and _PLAIN.fullmatch(text):
        return text
    return json.dumps(text, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """A stream handler on the current ``sys.stderr`` (looked up per line)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:  # StreamHandler.__init__ assigns one; ours is always stderr
        pass


_MARK = "_seqedit_handler"


def configure(fmt: str = "text", *, level: int = logging.INFO) -> logging.Handler:
    """Send seqedit's and uvicorn's log lines to stderr in ``fmt`` (``text`` or ``json``); ``level`` for
    seqedit's own loggers. Idempotent: a second call replaces the first one's handler."""
    if fmt not in FORMATS:
        raise ValueError(f"log format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    handler = _StderrHandler()
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    setattr(handler, _MARK, True)
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for old in [h for h in logger.handlers if getattr(h, _MARK, False)]:
            logger.removeHandler(old)
        logger.addHandler(handler)
    logging.getLogger("seqedit").setLevel(level)
    return handler
