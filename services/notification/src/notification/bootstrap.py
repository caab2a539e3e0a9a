"""Composition root of the notification service."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import structlog
from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from notification.adapters.tables import MESSAGING
from notification.adapters.templates import load_catalogue
from notification.adapters.unit_of_work import SqlNotificationUnitOfWork
from notification.adapters.webhook import WebhookClient
from notification.adapters.wechat import WeChatClient
from notification.config import NotificationSettings
from notification.domain.delivery import RetryPolicy
from notification.domain.messages import TemplateId
from notification.entrypoints.admin_http import build_admin_router
from notification.entrypoints.consumers import reporter_feedback_consumer
from notification.entrypoints.http import build_router
from notification.entrypoints.preferences_http import build_preferences_router
from notification.service_layer.handlers import WeChatRouting
from notification.service_layer.notices import NOTICES, NoticeBook
from notification.service_layer.sending import (
    ChannelSender,
    DeliverySender,
    WebhookChannel,
    WeChatChannel,
)

_log = structlog.get_logger("gridloop.notification")

SERVICE = "notification"
CHANNELS = ("webhook", "wechat")
OUTCOMES = ("sent", "retried", "failed", "suppressed")
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: NotificationSettings | None = None) -> FastAPI:
    settings = settings or NotificationSettings()
    # Templates that name a variable their event lacks stop the service here.
    book = NoticeBook(NOTICES, load_catalogue(settings.template_overrides_dir, settings.locale))
    wechat_on = bool(settings.wechat_appid and settings.wechat_secret)
    # So are WeChat settings naming unknown templates or data parts.
    wechat_routing = (
        WeChatRouting(settings.wechat_template_ids, settings.wechat_data_keys, settings.wechat_page)
        if wechat_on
        else None
    )
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)

    unit_of_work = runtime.unit_of_work_factory(SqlNotificationUnitOfWork)
    webhook_client = WebhookClient(timeout=settings.webhook_timeout_seconds)
    channels: dict[str, ChannelSender] = {"webhook": WebhookChannel(webhook_client)}
    wechat_client: WeChatClient | None = None
    if settings.wechat_appid and settings.wechat_secret:
        wechat_client = WeChatClient(
            settings.wechat_appid,
            settings.wechat_secret.get_secret_value(),
            base_url=settings.wechat_api_base,
            timeout=settings.webhook_timeout_seconds,
            miniprogram_state=settings.wechat_miniprogram_state,
        )
        channels["wechat"] = WeChatChannel(wechat_client)

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
            wechat_routing,
        ),
        Topic.WORKORDERS,
        Topic.POINTS,
    )
    deliveries = Counter(
        "gridloop_notification_deliveries_total",
        "Delivery attempts beyond the inbox, by channel and outcome "
        "(sent, retried, failed for good, suppressed)",
        ["service", "channel", "outcome"],
        registry=runtime.metrics.registry,
    )
    for channel in CHANNELS:
        for outcome in OUTCOMES:
            deliveries.labels(SERVICE, channel, outcome)
    sender = DeliverySender(
        unit_of_work,
        channels,
        RetryPolicy(
            max_attempts=settings.delivery_max_attempts,
            base_seconds=settings.delivery_backoff_base_seconds,
            cap_seconds=settings.delivery_backoff_cap_seconds,
        ),
        on_outcome=lambda channel, outcome: deliveries.labels(SERVICE, channel, outcome).inc(),
        batch=settings.delivery_batch_size,
    )

    async def send_deliveries() -> None:
        """The sender loop: apart from the consumer, so a slow receiver holds up nobody."""
        try:
            while True:
                try:
                    attempted = await sender.send_due(datetime.now(UTC))
                except Exception as error:
                    _log.warning("sender.failed", error=repr(error)[:300])
                    attempted = 0
                if attempted < settings.delivery_batch_size:
                    await asyncio.sleep(settings.delivery_poll_seconds)
        finally:
            await webhook_client.aclose()
            if wechat_client is not None:
                await wechat_client.aclose()

    app = create_service_app(
        runtime,
        title="gridloop notification",
        description="Tells reporters, assignees and supervisors what happens to work orders: "
        "in-app inbox and signed webhooks.",
        routers=[
            build_router(unit_of_work),
            build_admin_router(unit_of_work),
            build_preferences_router(unit_of_work),
        ],
        background=[send_deliveries],
    )
    app.state.sender = sender  # one pass at a chosen time, for tests and tools
    return app
