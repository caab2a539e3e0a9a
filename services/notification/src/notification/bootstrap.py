"""Composition root of the notification service."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from notification.adapters.tables import MESSAGING
from notification.adapters.templates import load_catalogue
from notification.adapters.unit_of_work import SqlNotificationUnitOfWork
from notification.config import NotificationSettings
from notification.domain.messages import TemplateId
from notification.entrypoints.consumers import reporter_feedback_consumer
from notification.entrypoints.http import build_router
from notification.service_layer.notices import NOTICES, NoticeBook

SERVICE = "notification"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    # Templates that name a variable their event lacks stop the service here.
    book = NoticeBook(NOTICES, load_catalogue(settings.template_overrides_dir, settings.locale))
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)

    unit_of_work = runtime.unit_of_work_factory(SqlNotificationUnitOfWork)

    written = Counter(
        "gridloop_inbox_messages_total",
        "Messages written to inboxes (reporters, assignees, supervisors)",
        ["service", "template"],
        registry=runtime.metrics.registry,
    )
    for template in TemplateId:
        written.labels(SERVICE, template.value)
    runtime.add_consumer(
        reporter_feedback_consumer(
            unit_of_work,
            runtime.publish,
            runtime.metrics.consumers,
            lambda template: written.labels(SERVICE, template).inc(),
            book,
        ),
        Topic.WORKORDERS,
        Topic.POINTS,
    )
    return create_service_app(
        runtime,
        title="gridloop notification",
        description="Tells reporters, assignees and supervisors what happens to work orders: "
        "in-app inbox.",
        routers=[build_router(unit_of_work)],
    )
