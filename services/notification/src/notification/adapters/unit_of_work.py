from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from notification.adapters.repository import NotificationRepository


class SqlNotificationUnitOfWork(SqlUnitOfWork):
    notifications: NotificationRepository

    def _open(self) -> None:
        self.notifications = NotificationRepository(self.session)
