from common.db import run_migrations_online
from notification.adapters.tables import NotificationTable

run_migrations_online(NotificationTable.metadata)
