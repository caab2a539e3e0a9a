from common.db import run_migrations_online
from reporting.adapters.tables import ReportingTable

run_migrations_online(ReportingTable.metadata)
