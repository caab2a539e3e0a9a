"""structlog JSON logging with the correlation id carried in context variables."""

from __future__ import annotations

import logging
import sys
import uuid
from typing import Any

import orjson
import structlog

CORRELATION_HEADER = "X-Correlation-ID"


def configure_logging(service: str, level: str = "INFO", *, json: bool | None = None) -> None:
    """JSON lines on stdout (pretty output when attached to a terminal and ``json`` is None)."""
    render_json = (not sys.stdout.isatty()) if json is None else json

    def add_service(_logger: Any, _name: str, event: dict[str, Any]) -> dict[str, Any]:
        event.setdefault("service", service)
        return event

    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        add_service,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_dumps)
        if render_json
        else structlog.dev.ConsoleRenderer(exception_formatter=structlog.dev.plain_traceback)
    )
    # Tracebacks as data, never with local variables: locals hold request bodies, headers and
    # tokens, and a log line must not carry them.
    exception_formatter: list[Any] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
        if render_json
        else []
    )
    structlog.configure(
        processors=[*shared, *exception_formatter, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping().get(level.upper(), logging.INFO)
        ),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout),
        cache_logger_on_first_use=False,
    )
    # Third-party libraries (uvicorn, aiokafka, alembic) log through the standard library;
    # render them through the same JSON pipeline so one parser reads every line.
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *exception_formatter,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("aiokafka", "aiokafka.consumer.group_coordinator", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _dumps(value: Any, **_: Any) -> str:
    """orjson: a log line costs a fraction of the standard library's json."""
    return orjson.dumps(value, default=str).decode()


def new_correlation_id() -> str:
    return str(uuid.uuid4())


def current_correlation_id() -> str | None:
    value = structlog.contextvars.get_contextvars().get("correlation_id")
    return str(value) if value else None
