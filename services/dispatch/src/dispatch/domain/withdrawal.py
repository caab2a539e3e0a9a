"""What a reporter's withdrawal (撤回) does to the work order of their report, pure.

Dispatch triages a report as soon as it consumes the submission, so the order usually exists
when the withdrawal (the next event of the report, on the same partition) arrives:

- the order waits for review, or is filed or dispatched but not claimed, and the report is its
  only one → **voided** (作废, reason code ``withdrawn_by_reporter``);
- the report was merged into another reporter's case (并单) → **detached**: its reporter no
  longer follows the case (not told of it, not asked to rate it); the case goes on;
- the report is the order's own but other reports were merged into it → **shared**: the case
  goes on for them;
- the order was claimed already, or is past that (resolved, closed, voided…) → **too_late**: a
  grid worker is on it, the case goes on;
- the report was rejected (at triage or on review) → **rejected_already**;
- dispatch never saw the report (its submission was dead-lettered) → **unknown**.

Applying a withdrawal twice changes nothing the second time (**already**).
"""

from __future__ import annotations

from enum import StrEnum

from dispatch.domain.work_orders import (
    WITHDRAWABLE_STATES,
    Action,
    WorkOrder,
    WorkOrderState,
)


class WithdrawalOutcome(StrEnum):
    VOIDED = "voided"
    DETACHED = "detached"
    SHARED = "shared"
    TOO_LATE = "too_late"
    REJECTED_ALREADY = "rejected_already"
    UNKNOWN = "unknown"
    ALREADY = "already"


def withdrawal_outcome(order: WorkOrder, report_id: str, reporter_id: str) -> WithdrawalOutcome:
    """What the withdrawal of ``report_id`` (of ``reporter_id``) does to ``order``, the order it
    was filed as or merged into."""
    if report_id != order.report_id:
        merged = next((r for r in order.attached if r.report_id == report_id), None)
        if merged is None:
            return WithdrawalOutcome.UNKNOWN
        return WithdrawalOutcome.DETACHED if merged.following else WithdrawalOutcome.ALREADY
    if order.state is WorkOrderState.REJECTED:
        return WithdrawalOutcome.REJECTED_ALREADY
    if order.state is WorkOrderState.VOIDED and _voided_by(order, reporter_id):
        return WithdrawalOutcome.ALREADY
    if order.state not in WITHDRAWABLE_STATES:
        return WithdrawalOutcome.TOO_LATE
    if order.merged_reports:
        return WithdrawalOutcome.SHARED
    return WithdrawalOutcome.VOIDED


def _voided_by(order: WorkOrder, reporter_id: str) -> bool:
    last = order.history[-1] if order.history else None
    return last is not None and last.action == Action.WITHDRAW.value and last.actor == reporter_id
