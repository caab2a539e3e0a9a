"""What a reporter's withdrawal (撤回) does to the order of their report, decided without I/O."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from dispatch.domain.withdrawal import WithdrawalOutcome, withdrawal_outcome
from dispatch.domain.work_orders import (
    Actor,
    ActorRole,
    Assignee,
    AssigneeKind,
    IllegalTransition,
    NotAllowed,
    WorkOrderState,
)
from gridloop_tools.testing.work_orders import OrderStory

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
REPORT, REPORTER = "rep-wo-1", "rider-wo-1"
AS_REPORTER = Actor(REPORTER, ActorRole.REPORTER)
WORKER = Assignee(AssigneeKind.GRID_WORKER, "w-1", "张网格")


def story(*, review: bool = False) -> OrderStory:
    return OrderStory("wo-1", "370812", T0, review=review)


def test_the_only_report_of_an_unclaimed_order_voids_it_once() -> None:
    for order in (
        story(review=True).order,
        story().order,
        story().dispatch(T0, due=T0 + timedelta(hours=4), to=WORKER).order,
    ):
        assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.VOIDED
        order.void_withdrawn(AS_REPORTER, at=T0, reason="上报人已撤回")
        assert order.state is WorkOrderState.VOIDED and order.assignee is None
        assert (order.history[-1].action, order.history[-1].actor) == ("withdraw", REPORTER)
        assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.ALREADY


def test_a_claimed_order_goes_on() -> None:
    order = story().dispatch(T0, due=T0 + timedelta(hours=4), to=WORKER).claim(T0).order
    assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.TOO_LATE
    with pytest.raises(IllegalTransition):
        order.void_withdrawn(AS_REPORTER, at=T0, reason="上报人已撤回")
    assert order.state is WorkOrderState.CLAIMED


def test_a_merged_report_is_detached_once_and_no_longer_follows() -> None:
    order = story().order
    order.attach("rep-2", "rider-2", at=T0)
    version = order.version
    assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.SHARED
    with pytest.raises(NotAllowed):
        order.void_withdrawn(AS_REPORTER, at=T0, reason="上报人已撤回")
    assert withdrawal_outcome(order, "rep-2", "rider-2") is WithdrawalOutcome.DETACHED
    assert order.detach("rep-2", at=T0) is True
    assert (order.reporters, order.report_ids, order.version) == ([REPORTER], [REPORT], version)
    assert withdrawal_outcome(order, "rep-2", "rider-2") is WithdrawalOutcome.ALREADY
    assert order.detach("rep-2", at=T0) is False
    assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.VOIDED


def test_only_the_orders_reporter_withdraws_it() -> None:
    order = story().order
    with pytest.raises(NotAllowed):
        order.void_withdrawn(Actor("rider-9", ActorRole.REPORTER), at=T0, reason="撤回")
    with pytest.raises(NotAllowed):
        order.void_withdrawn(Actor("s-1", ActorRole.SUPERVISOR), at=T0, reason="撤回")
    assert order.state is WorkOrderState.FILED


def test_a_rejected_report_or_another_orders_report() -> None:
    order = story(review=True).order
    order.reject(Actor("s-1", ActorRole.SUPERVISOR), at=T0, reason="不属实")
    assert withdrawal_outcome(order, REPORT, REPORTER) is WithdrawalOutcome.REJECTED_ALREADY
    assert withdrawal_outcome(story().order, "rep-9", "rider-9") is WithdrawalOutcome.UNKNOWN
