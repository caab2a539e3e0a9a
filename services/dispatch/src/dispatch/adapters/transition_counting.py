"""A dispatch unit of work that counts each work-order transition it commits — every history
row written, whoever wrote it (triage, staff over HTTP, reporters' events, the scanner) — once
the transaction has committed, so a rolled-back or retried attempt is never counted."""

from __future__ import annotations

from collections.abc import Callable

from sqlmodel.ext.asyncio.session import AsyncSession

from dispatch.adapters.repository import WorkOrderRepository
from dispatch.adapters.unit_of_work import SqlDispatchUnitOfWork
from dispatch.domain.work_orders import WorkOrder

TransitionCounter = Callable[[str, str], None]
"""(district, action) — one call per history row committed."""


def _ignore(district: str, action: str) -> None:
    return None


class CountingWorkOrderRepository(WorkOrderRepository):
    def __init__(
        self,
        session: AsyncSession,
        after_commit: Callable[[Callable[[], None]], None],
        on_transition: TransitionCounter,
    ) -> None:
        super().__init__(session)
        self._after_commit = after_commit
        self._on_transition = on_transition

    async def add(self, order: WorkOrder) -> None:
        await super().add(order)
        self._count(order, already=0)

    async def save(self, order: WorkOrder, *, history_before: int) -> None:
        await super().save(order, history_before=history_before)
        self._count(order, already=history_before)

    def _count(self, order: WorkOrder, *, already: int) -> None:
        district, actions = order.district, [step.action for step in order.history[already:]]
        if not actions:
            return

        def count() -> None:
            for action in actions:
                self._on_transition(district, action)

        self._after_commit(count)


class TransitionCountingUnitOfWork(SqlDispatchUnitOfWork):
    on_transition: TransitionCounter = staticmethod(_ignore)

    def _open(self) -> None:
        super()._open()
        self.work_orders = CountingWorkOrderRepository(
            self.session, self.after_commit, self.on_transition
        )


def counting_transitions(
    unit_of_work: Callable[[], TransitionCountingUnitOfWork], on_transition: TransitionCounter
) -> Callable[[], TransitionCountingUnitOfWork]:
    """``unit_of_work``'s units, each reporting its committed transitions to ``on_transition``."""

    def counted() -> TransitionCountingUnitOfWork:
        uow = unit_of_work()
        uow.on_transition = on_transition
        return uow

    return counted
