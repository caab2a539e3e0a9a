from common.db import run_migrations_online
from ledger.adapters.tables import LedgerTable

run_migrations_online(LedgerTable.metadata)
