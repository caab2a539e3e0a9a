from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from notification.adapters.deliveries import DeliveryRepository, WebhookRepository
from notification.adapters.preferences import (
    PreferenceRepository,
    WeChatOpenIdRepository,
    WorkOrderVersionRepository,
)
from notification.adapters.repository import NotificationRepository


class SqlNotificationUnitOfWork(SqlUnitOfWork):
    notifications: NotificationRepository
    deliveries: DeliveryRepository
    webhooks: WebhookRepository
    preferences: PreferenceRepository
    work_orders: WorkOrderVersionRepository
    wechat: WeChatOpenIdRepository

    def _open(self) -> None:
        self.notifications = NotificationRepository(self.session)
        self.deliveries = DeliveryRepository(self.session)
        self.webhooks = WebhookRepository(self.session)
        self.preferences = PreferenceRepository(self.session)
        self.work_orders = WorkOrderVersionRepository(self.session)
        self.wechat = WeChatOpenIdRepository(self.session)
