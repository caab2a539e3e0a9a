from __future__ import annotations

from common.messaging.unit_of_work import SqlUnitOfWork
from dispatch.adapters.repository import GridRepository, ReferenceRepository, WorkOrderRepository


class SqlDispatchUnitOfWork(SqlUnitOfWork):
    grids: GridRepository
    reference: ReferenceRepository
    work_orders: WorkOrderRepository

    def _open(self) -> None:
        self.grids = GridRepository(self.session)
        self.reference = ReferenceRepository(self.session)
        self.work_orders = WorkOrderRepository(self.session)
