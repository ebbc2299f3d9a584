"""Structured logging: structlog, JSON lines to stdout, with context variables bound.

Bind ``request_id`` and ``job_id`` with :func:`bind` (structlog contextvars); every
line logged inside that context carries them, and the current trace id when a span
is active.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import Any

import structlog
from opentelemetry import trace

_configured = False


def _add_trace_ids(_: Any, __: str, event_dict: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    span = trace.get_current_span()
    ctx = span.get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict


class _StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """A stream handler that always writes to the current ``sys.stdout`` (which test
    runners and embedding hosts may replace after logging was configured)."""

    @property  # type: ignore[override]
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


def configure_logging(level: str = "info", fmt: str = "json") -> None:
    """Configure structlog and the standard library root logger (idempotent).

    Args:
        level: ``debug``, ``info``, ``warning`` or ``error``.
        fmt: ``json`` (one JSON object per line) or ``console`` (coloured, for humans).
    """
    global _configured
    numeric = getattr(logging, level.upper(), logging.INFO)
    renderer: Any = (
        structlog.processors.JSONRenderer() if fmt == "json" else structlog.dev.ConsoleRenderer(colors=False)
    )
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _add_trace_ids,
    ]
    structlog.configure(
        processors=[*shared, structlog.processors.format_exc_info, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(),  # sys.stdout looked up at each use
        cache_logger_on_first_use=False,
    )
    handler = _StdoutHandler()
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer],
            foreign_pre_chain=shared,
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(numeric)
    for noisy in ("aiokafka", "faster_whisper", "httpx", "uvicorn.access", "alembic", "kafka"):
        logging.getLogger(noisy).setLevel(max(numeric, logging.WARNING))
    _configured = True


def get_logger(name: str | None = None, **initial: Any) -> Any:
    """A structlog logger, optionally with initial key-value pairs bound."""
    return structlog.get_logger(name, **initial)


def bind(**values: Any) -> Any:
    """Bind context values (``request_id``, ``job_id``...) for the current task; returns reset tokens."""
    return structlog.contextvars.bind_contextvars(**values)


def unbind(*keys: str) -> None:
    """Remove context values bound with :func:`bind`."""
    structlog.contextvars.unbind_contextvars(*keys)
