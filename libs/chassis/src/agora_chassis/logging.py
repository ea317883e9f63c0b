"""JSON logs on the standard library, with a correlation id, trace ids and no PII.

One JSON object per line goes to stderr and, when a log directory is configured, to a rotating
``app.log`` (everything) and ``error.log`` (``ERROR`` and above). Every record carries the service
name, the request's correlation id (set by ``HttpHardeningMiddleware``) and the current
OpenTelemetry trace and span ids, so a log line leads to its trace and to its siblings.

Masking happens in a filter on the handlers, not on loggers: a logger's filter does not see records
that propagate from its children, a handler's filter sees every record it writes.
"""

from __future__ import annotations

import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime
from logging.handlers import RotatingFileHandler
from pathlib import Path
from typing import Any, override

from opentelemetry import trace
from pydantic_core import to_json

correlation_id: ContextVar[str | None] = ContextVar("correlation_id", default=None)
"""The id of the request (or message) being handled; ``None`` outside one."""

ONE_MEBIBYTE = 1024 * 1024
LOG_FILE_MAX_BYTES = 10 * ONE_MEBIBYTE
LOG_FILE_BACKUPS = 5
APP_LOG_NAME = "app.log"
ERROR_LOG_NAME = "error.log"
HANDLER_NAME_PREFIX = "agora."
MASK = "***"
ACCESS_LOGGER = "uvicorn.access"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", ACCESS_LOGGER)

_SENSITIVE_KEY = (
    r"[A-Za-z0-9_-]*(?:password|passwd|passphrase|token|secret|authorization|api[_-]?key|cookie)"
    r"[A-Za-z0-9_-]*"
)
_SENSITIVE_KEY_RE = re.compile(rf"^{_SENSITIVE_KEY}$", re.IGNORECASE)
# "password": "x" (JSON) and 'password': 'x' (a dict's repr).
_QUOTED_PAIR_RE = re.compile(
    rf"""(?P<key>(?P<q>["']){_SENSITIVE_KEY}(?P=q)\s*:\s*)(?P<vq>["'])(?:\\.|(?!(?P=vq)).)*(?P=vq)""",
    re.IGNORECASE,
)
# password=x, token: x, Authorization: Basic x (query strings, headers, free text).
_PLAIN_PAIR_RE = re.compile(
    rf"""(?P<key>\b{_SENSITIVE_KEY}\s*[=:]\s*)(?![\s"'])"""
    r"""(?:(?:Bearer|Basic|Digest|Token)\s+)?[^\s&,;"'}]+""",
    re.IGNORECASE,
)
_BEARER_RE = re.compile(r"\b(?P<scheme>Bearer)\s+[A-Za-z0-9._~+/=-]+", re.IGNORECASE)
_URL_PASSWORD_RE = re.compile(r"(?P<prefix>\b[A-Za-z][A-Za-z0-9+.-]*://[^:/@\s]*:)[^@\s/]+@")
_JWT_RE = re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")
# Every pattern above and below needs one of these (lower-cased); text without any (most lines)
# is returned untouched. Substring tests: a case-insensitive regex alternation costs ten times more.
_TRIGGERS = (
    "@",
    "eyj",
    "bearer",
    "passw",
    "passphrase",
    "token",
    "secret",
    "authorization",
    "apikey",
    "api_key",
    "api-key",
    "cookie",
)
_EMAIL_RE = re.compile(
    r"\b(?P<first>[A-Za-z0-9_%+-])[A-Za-z0-9._%+-]*@(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)

# Set on a record once masked and once rendered: each handler runs its own filter and formatter,
# and the work is the same for all of them.
_MASKED = "_agora_masked"
_RENDERED = "_agora_json"
# Attributes every LogRecord has; anything else on a record came from ``extra=``.
_RECORD_ATTRIBUTES = frozenset(
    logging.LogRecord("", logging.NOTSET, "", 0, "", (), None).__dict__
) | {"message", "asctime", "correlation_id", "trace_id", "span_id", _MASKED, _RENDERED}


def mask_pii(text: str) -> str:
    """Mask e-mail addresses, secrets and tokens in free text.

    E-mails keep their first character and domain (``a***@agora.local``); values of keys such as
    ``password``, ``token`` or ``authorization`` (``key=value``, ``key: value`` and JSON or
    ``repr`` pairs), passwords in URLs, Bearer credentials and JWT-shaped strings become ``***``.

    Args:
        text: Any text about to be logged.

    Returns:
        The text with sensitive parts replaced.
    """
    lowered = text.lower()
    if not any(trigger in lowered for trigger in _TRIGGERS):
        return text
    text = _QUOTED_PAIR_RE.sub(lambda m: f"{m['key']}{m['vq']}{MASK}{m['vq']}", text)
    text = _PLAIN_PAIR_RE.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _BEARER_RE.sub(lambda m: f"{m['scheme']} {MASK}", text)
    text = _URL_PASSWORD_RE.sub(lambda m: f"{m['prefix']}{MASK}@", text)
    text = _JWT_RE.sub(MASK, text)
    return _EMAIL_RE.sub(lambda m: f"{m['first']}{MASK}@{m['domain']}", text)


def _mask_value(key: str, value: Any) -> Any:
    """Mask one ``extra`` value: whole values under sensitive keys, PII inside the rest."""
    if _SENSITIVE_KEY_RE.match(key):
        return MASK
    if isinstance(value, str):
        return mask_pii(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value("", item) for item in value]
    return value


def _message_of(record: logging.LogRecord) -> str:
    try:
        return record.getMessage()
    except (TypeError, ValueError):
        # A bad format string must not make the logging call raise; keep what we have.
        return f"{record.msg} {record.args!r}"


class PiiMaskingFilter(logging.Filter):
    """Mask PII in the message, its arguments, ``extra`` values and exception text.

    It also stamps the record with the correlation id and the current trace and span ids, because
    a filter runs in the caller's context while a formatter may not.
    """

    @override
    def filter(self, record: logging.LogRecord) -> bool:
        if record.__dict__.get(_MASKED):
            return True  # another handler's filter did it
        record.msg = mask_pii(_message_of(record))
        record.args = None
        for key in record.__dict__.keys() - _RECORD_ATTRIBUTES:
            setattr(record, key, _mask_value(key, record.__dict__[key]))
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_pii(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_pii(record.stack_info)
        _stamp_context(record)
        setattr(record, _MASKED, True)
        return True


def _stamp_context(record: logging.LogRecord) -> None:
    if not hasattr(record, "correlation_id"):
        record.correlation_id = correlation_id.get()
    span_context = trace.get_current_span().get_span_context()
    record.trace_id = (
        trace.format_trace_id(span_context.trace_id) if span_context.is_valid else None
    )
    record.span_id = trace.format_span_id(span_context.span_id) if span_context.is_valid else None


class JsonFormatter(logging.Formatter):
    """Render a record as one JSON object on one line.

    Args:
        service_name: Written into every record as ``service``.
    """

    def __init__(self, service_name: str) -> None:
        super().__init__()
        self.service_name = service_name

    @override
    def format(self, record: logging.LogRecord) -> str:
        rendered = record.__dict__.get(_RENDERED)
        if isinstance(rendered, tuple) and rendered[0] == self.service_name:
            return str(rendered[1])  # the same line another handler already rendered
        timestamp = datetime.fromtimestamp(record.created, tz=UTC)
        payload: dict[str, Any] = {
            "timestamp": timestamp.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "service": self.service_name,
            "module": record.module,
            "function": record.funcName,
            "line": record.lineno,
            "correlation_id": getattr(record, "correlation_id", None),
            "trace_id": getattr(record, "trace_id", None),
            "span_id": getattr(record, "span_id", None),
        }
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exception"] = record.exc_text
        if record.stack_info:
            payload["stack"] = record.stack_info
        for key in record.__dict__.keys() - _RECORD_ATTRIBUTES:
            payload.setdefault(key, record.__dict__[key])
        line = to_json(payload, fallback=str).decode()  # a quarter of json.dumps's time
        setattr(record, _RENDERED, (self.service_name, line))
        return line


def _handler(handler: logging.Handler, name: str, service_name: str) -> logging.Handler:
    handler.set_name(HANDLER_NAME_PREFIX + name)
    handler.setFormatter(JsonFormatter(service_name))
    handler.addFilter(PiiMaskingFilter())
    return handler


def _rotating(path: Path) -> RotatingFileHandler:
    return RotatingFileHandler(
        path, maxBytes=LOG_FILE_MAX_BYTES, backupCount=LOG_FILE_BACKUPS, encoding="utf-8"
    )


def configure_logging(
    service_name: str, *, log_dir: Path | None, level: str = "INFO", access_log: bool = False
) -> None:
    """Send every log record, as masked JSON lines, to stderr and optionally to rotating files.

    Calling it again replaces the handlers it installed before (no duplicate lines), so tests and
    reloads may call it freely. Uvicorn's loggers are routed through the same handlers.

    Uvicorn's line per request is off unless ``access_log`` is set: the gateway's JSON access log
    has every request, with the ``X-Request-ID`` the service answered (its ``correlation_id``
    here), and writing the line again here cost a cached read about a tenth of its CPU.

    Args:
        service_name: Written into every record as ``service``.
        log_dir: Directory for ``app.log`` and ``error.log`` (10 MB x 5 each); ``None`` logs to
            the console only.
        level: Root log level name (``DEBUG``, ``INFO``, ...).
        access_log: Also log a line per request (``uvicorn.access`` at ``INFO``).
    """
    root = logging.getLogger()
    for old in [h for h in root.handlers if (h.get_name() or "").startswith(HANDLER_NAME_PREFIX)]:
        root.removeHandler(old)
        old.close()
    handlers = [_handler(logging.StreamHandler(sys.stderr), "console", service_name)]
    if log_dir is not None:
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(_handler(_rotating(log_dir / APP_LOG_NAME), "app-file", service_name))
        error_handler = _handler(_rotating(log_dir / ERROR_LOG_NAME), "error-file", service_name)
        error_handler.setLevel(logging.ERROR)
        handlers.append(error_handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level.upper())
    # Uvicorn installs its own plain-text handlers; send its records through ours instead.
    for name in UVICORN_LOGGERS:
        uvicorn_logger = logging.getLogger(name)
        uvicorn_logger.handlers.clear()
        uvicorn_logger.propagate = True
    # A level, not a filter: a disabled line costs one comparison, not a record.
    logging.getLogger(ACCESS_LOGGER).setLevel(logging.NOTSET if access_log else logging.WARNING)
