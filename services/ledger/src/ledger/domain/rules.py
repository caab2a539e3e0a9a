"""Point rules per district, each set effective from a time.

A district's rule sets form a history: the set in force for an event is the newest one whose
``effective_from`` is not after the event's own time (``filed_at``, ``closed_at``…), so a replay
of an old event is paid by the rules of its day. A district without a set of its own is paid by
the deployment's defaults (settings).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime

from ledger.domain.points import TransferCode

BEGINNING = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RuleSet:
    """What each reward pays, and the most a rider earns in one Asia/Shanghai day."""

    report_accepted: int = 10
    corroboration: int = 2
    closure_bonus: int = 5
    rating: int = 1
    daily_cap: int = 50
    effective_from: datetime = BEGINNING

    def __post_init__(self) -> None:
        if min(self.report_accepted, self.corroboration, self.closure_bonus, self.rating) < 0:
            raise ValueError("a reward is never negative")
        if self.daily_cap < 0:
            raise ValueError("the daily cap is never negative")
        if self.effective_from.tzinfo is None:
            raise ValueError("a rule set takes effect at a moment with a timezone")

    def reward(self, code: TransferCode) -> int:
        rewards = {
            TransferCode.REPORT_ACCEPTED: self.report_accepted,
            TransferCode.CORROBORATION: self.corroboration,
            TransferCode.CLOSURE_BONUS: self.closure_bonus,
            TransferCode.RATING: self.rating,
        }
        return rewards[code]

    def capped(self, requested: int, earned_today: int) -> int:
        """What is paid of ``requested`` when the rider already earned ``earned_today``."""
        return max(0, min(requested, self.daily_cap - earned_today))


def in_force(rule_sets: Iterable[RuleSet], at: datetime, default: RuleSet) -> RuleSet:
    """The newest set effective at ``at``; ``default`` when none is."""
    effective = [r for r in rule_sets if r.effective_from <= at]
    return max(effective, key=lambda r: r.effective_from, default=default)
