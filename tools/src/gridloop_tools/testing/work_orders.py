"""Work orders with a history chosen by the test, for dispatch's tests: each step is the
domain's own transition, at the moment the test names, so what is stored is what the service
would have written::

    story = (
        OrderStory("wo-1", "370812", at(3))
        .dispatch(at(3), due=at(3, 17), to=WORKER)
        .claim(at(3, 9, 30))
        .resolve(at(3, 12))
        .verify(at(3, 14))
    )
    await uow.work_orders.add(story.order)
"""

from __future__ import annotations

from datetime import datetime, timedelta

from dispatch.domain.work_orders import Actor, ActorRole, Assignee, Deadlines, WorkOrder

SUPERVISOR = Actor("s-1", ActorRole.SUPERVISOR)
"""Who verifies, accepts, refuses and voids in a story."""


def clock(start: datetime, due: datetime) -> Deadlines:
    """A clock started at ``start`` with its handling deadline ``due`` (claim within 30 minutes,
    the warning at 80 %)."""
    return Deadlines(start, start + timedelta(minutes=30), start + (due - start) * 0.8, due)


class OrderStory:
    """One order, filed at ``created`` (sent to review if ``review``), and what happens to it."""

    def __init__(
        self,
        work_order_id: str,
        district: str,
        created: datetime,
        *,
        category: str = "0501",
        category_group: str = "05",
        street: str = "鼓楼街道",
        grid: str = "g-east",
        review: bool = False,
    ) -> None:
        self.order = WorkOrder.file(
            work_order_id=work_order_id,
            district=district,
            report_id=f"rep-{work_order_id}",
            reporter_id=f"rider-{work_order_id}",
            category=category,
            category_group=category_group,
            priority="urgent",
            grid_id=grid,
            street=street,
            lat=35.505,
            lon=116.815,
            text="随手拍的问题",
            at=created,
            needs_review=review,
        )

    @property
    def _assignee(self) -> Actor:
        assert self.order.assignee is not None, "dispatch the order first"
        return Actor(self.order.assignee.id, ActorRole.ASSIGNEE)

    @property
    def _reporter(self) -> Actor:
        return Actor(self.order.reporter_id, ActorRole.REPORTER)

    def dispatch(self, when: datetime, *, due: datetime, to: Assignee) -> OrderStory:
        self.order.dispatch(to, clock(when, due), at=when)
        return self

    def merge(self, report_id: str, when: datetime) -> OrderStory:
        """并单: another report joins the (open) order."""
        self.order.attach(report_id, f"rider-{report_id}", at=when, distance_m=10.0)
        return self

    def claim(self, when: datetime) -> OrderStory:
        self.order.claim(self._assignee, at=when)
        return self

    def resolve(self, when: datetime) -> OrderStory:
        self.order.resolve(self._assignee, at=when, note="已处理")
        return self

    def verify(self, when: datetime, *, rework_due: datetime | None = None) -> OrderStory:
        """Passed (结案), or, given the new clock's deadline, failed (返工)."""
        passed = rework_due is None
        self.order.verify(SUPERVISOR, at=when, passed=passed, note="" if passed else "未整改")
        if rework_due is not None:
            self.order.rework_deadlines(clock(when, rework_due))
        return self

    def return_(self, when: datetime) -> OrderStory:
        self.order.return_(self._assignee, at=when, reason="不属于本网格")
        return self

    def rate(self, when: datetime, score: int) -> OrderStory:
        self.order.rate(self._reporter, at=when, score=score)
        return self

    def reopen(self, when: datetime) -> OrderStory:
        self.order.reopen(self._reporter, at=when, reason="没修好", window=timedelta(days=7))
        return self

    def accept(self, when: datetime) -> OrderStory:
        self.order.accept(SUPERVISOR, at=when)
        return self

    def reject(self, when: datetime) -> OrderStory:
        self.order.reject(SUPERVISOR, at=when, reason="重复上报")
        return self

    def void(self, when: datetime) -> OrderStory:
        self.order.void(SUPERVISOR, at=when, reason="误报")
        return self
