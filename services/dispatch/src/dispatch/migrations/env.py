from common.db import run_migrations_online
from dispatch.adapters.tables import DispatchTable

run_migrations_online(DispatchTable.metadata)
