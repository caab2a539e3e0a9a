"""Use cases of the ledger service: rewards for a report's life, and their reversal.

Every reward is a transfer whose id is derived from its business key (``award:<report>``,
``corroboration:<report>``, ``bonus:<report>``, ``rating:<report>``, ``reversal:<report>``), so
a replay finds the decision already taken and changes nothing. A second cause with the same id
and different content (another rider, another amount by the rules of its time…) is a conflict:
refused, logged and counted, never applied.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Literal

import structlog

from common.contracts.events import (
    PointsAwarded,
    PointsCapped,
    PointsReversed,
    WorkOrderFiled,
)
from common.contracts.workorder_events import (
    WorkOrderClosed,
    WorkOrderMerged,
    WorkOrderRated,
    WorkOrderVoided,
)
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    AwardRules,
    Transfer,
    TransferCode,
    Withheld,
    WithheldKind,
    award_transfer_id,
    bonus_transfer_id,
    corroboration_transfer_id,
    earns_points,
    fingerprint,
    ledger_day,
    post_transfer,
    rating_transfer_id,
    reversal_transfer_id,
    rider_account,
)
from ledger.domain.rules import RuleSet, in_force
from ledger.service_layer.unit_of_work import AbstractLedgerUnitOfWork

_log = structlog.get_logger("gridloop.ledger")


def _nothing(district: str, amount: int) -> None:
    return None


@dataclass(frozen=True)
class LedgerObserver:
    """Callbacks the composition root turns into metrics; each runs after the commit."""

    issued: Callable[[str, int], None] = _nothing
    reversed: Callable[[str, int], None] = _nothing
    capped: Callable[[str, int], None] = _nothing
    conflict: Callable[[str], None] = field(default=lambda code: None)


@dataclass(frozen=True)
class Reward:
    """A reward a rider is owed for a report, before the rules and the cap decide it."""

    transfer_id: str
    code: TransferCode
    rider_id: str
    report_id: str
    work_order_id: str | None
    district: str
    at: datetime
    """The event's own time: it picks the rule set and the cap's day."""


Decision = Literal["new", "same", "conflict"]


class Rewards:
    """The rewards and reversals of a report's life, with the deployment's default rules."""

    def __init__(self, defaults: RuleSet, observer: LedgerObserver | None = None) -> None:
        self.defaults = defaults
        self.observer = observer or LedgerObserver()
        self._opened: set[str] = set()  # system accounts known to exist (committed)

    # --- handlers (the consumer's table) ------------------------------------------------------

    async def on_filed(
        self, filed: WorkOrderFiled, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        reward = Reward(
            award_transfer_id(filed.report_id),
            TransferCode.REPORT_ACCEPTED,
            filed.reporter_id,
            filed.report_id,
            filed.work_order_id,
            meta.district,
            filed.filed_at,
        )
        return await self.pay(reward, meta, uow)

    async def on_merged(
        self, merged: WorkOrderMerged, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        reward = Reward(
            corroboration_transfer_id(merged.merged_report_id),
            TransferCode.CORROBORATION,
            merged.merged_reporter_id,
            merged.merged_report_id,
            merged.work_order_id,
            meta.district,
            merged.merged_at,
        )
        return await self.pay(reward, meta, uow)

    async def on_closed(
        self, closed: WorkOrderClosed, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        """The closure bonus goes to the original reporter (the one the order was filed for),
        once per report however often the order is reopened and closed again."""
        reporter = await self._original_reporter(uow, closed.report_id, closed.reporter_ids)
        if reporter is None:
            _log.warning("points.bonus_without_reporter", report_id=closed.report_id)
            return "ignored"
        reward = Reward(
            bonus_transfer_id(closed.report_id),
            TransferCode.CLOSURE_BONUS,
            reporter,
            closed.report_id,
            closed.work_order_id,
            meta.district,
            closed.closed_at,
        )
        return await self.pay(reward, meta, uow)

    async def on_rated(
        self, rated: WorkOrderRated, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        """The rating reward is paid for the rater's own report of the order: the filed one for
        the original reporter, the merged one for a corroborating reporter."""
        report_id = await self._report_of(uow, rated)
        if report_id is None:
            _log.warning(
                "points.rating_by_unknown_reporter",
                work_order_id=rated.work_order_id,
                rated_by=rated.rated_by,
            )
            return "ignored"
        reward = Reward(
            rating_transfer_id(report_id),
            TransferCode.RATING,
            rated.rated_by,
            report_id,
            rated.work_order_id,
            meta.district,
            rated.rated_at,
        )
        return await self.pay(reward, meta, uow)

    async def on_voided(
        self, voided: WorkOrderVoided, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        """A voided case (作废, a false report) takes back everything paid for each of its
        reports: one ``reversal:<report>`` each. What the rider already spent cannot be taken
        back: the balance stops at zero and the shortfall is recorded under the reversal's id
        (policy: floor at zero, never silent)."""
        earnings = await uow.ledger.earnings_of_order(voided.work_order_id)
        paid: dict[str, dict[str, int]] = {}
        for transfer in earnings:
            if transfer.report_id is None:
                continue
            by_rider = paid.setdefault(transfer.report_id, {})
            by_rider[transfer.rider_id] = by_rider.get(transfer.rider_id, 0) + transfer.amount
        riders = sorted({rider for by_rider in paid.values() for rider in by_rider})
        accounts: dict[str, Account] = {}
        if riders:
            await self._open_issuance(uow)
        for rider in riders:  # a fixed order: no deadlock with another transaction
            account_id = rider_account(rider)
            accounts[rider] = await uow.ledger.open_account(account_id, must_not_go_negative=True)
        outcome: HandlerOutcome = "ignored"
        for report_id in sorted(paid):
            for rider, amount in sorted(paid[report_id].items()):
                transfer_id = reversal_transfer_id(report_id)
                if len(paid[report_id]) > 1:  # never by design: one rider is paid per report
                    transfer_id = f"{transfer_id}:{rider}"
                print_ = fingerprint(
                    TransferCode.REVERSAL,
                    rider,
                    report_id,
                    voided.work_order_id,
                    meta.district,
                    amount,
                )
                decision = await self._decided(uow, transfer_id, print_, TransferCode.REVERSAL)
                if decision != "new":
                    continue
                accounts[rider] = await self._reverse(
                    uow, accounts[rider], transfer_id, report_id, amount, print_, voided, meta
                )
                outcome = "processed"
        return outcome

    # --- paying ------------------------------------------------------------------------------

    async def pay(
        self, reward: Reward, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        if not earns_points(reward.rider_id):
            _log.debug("points.partner_reporter", transfer_id=reward.transfer_id)
            return "ignored"
        rules = in_force(await uow.ledger.rule_sets(reward.district), reward.at, self.defaults)
        requested = rules.reward(reward.code)
        print_ = fingerprint(
            reward.code,
            reward.rider_id,
            reward.report_id,
            reward.work_order_id,
            reward.district,
            requested,
        )
        if await self._decided(uow, reward.transfer_id, print_, reward.code) != "new":
            return "ignored"
        if await self._reversed(uow, reward.report_id):
            _log.info("points.report_already_reversed", transfer_id=reward.transfer_id)
            return "ignored"
        if requested == 0:
            return "processed"
        await self._open_issuance(uow)
        account_id = rider_account(reward.rider_id)
        rider = await uow.ledger.open_account(account_id, must_not_go_negative=True)
        day = ledger_day(reward.at)
        amount = rules.capped(requested, await uow.ledger.awarded_on(reward.rider_id, day))
        now = datetime.now(UTC)
        if amount > 0:
            transfer = Transfer(
                id=reward.transfer_id,
                debit_account_id=ISSUANCE_ACCOUNT,
                credit_account_id=account_id,
                amount=amount,
                code=reward.code,
                rider_id=reward.rider_id,
                report_id=reward.report_id,
                work_order_id=reward.work_order_id,
                ledger_day=day,
                caused_by_event_id=meta.id,
                created_at=now,
                district=reward.district,
                fingerprint=print_,
            )
            # The issuance account's balance is derived: its starting point never matters.
            _, rider = post_transfer(Account(ISSUANCE_ACCOUNT), rider, transfer)
            await uow.ledger.record(transfer, [rider])
            await uow.outbox.add(
                PointsAwarded(
                    transfer_id=transfer.id,
                    rider_id=reward.rider_id,
                    amount=amount,
                    balance=rider.balance,
                    rule=reward.code.value,
                    report_id=reward.report_id,
                    work_order_id=reward.work_order_id,
                    awarded_at=now,
                ),
                subject=reward.rider_id,
                sequence=rider.version,
            )
            district = reward.district
            uow.after_commit(lambda: self.observer.issued(district, amount))
        withheld = requested - amount
        if withheld > 0:
            rider = replace(rider, version=rider.version + 1)
            await uow.ledger.advance(rider)
            await uow.ledger.record_withheld(
                Withheld(
                    id=reward.transfer_id,
                    kind=WithheldKind.CAPPED,
                    code=reward.code,
                    rider_id=reward.rider_id,
                    report_id=reward.report_id,
                    work_order_id=reward.work_order_id,
                    district=reward.district,
                    amount=withheld,
                    fingerprint=print_,
                    ledger_day=day,
                    caused_by_event_id=meta.id,
                    created_at=now,
                )
            )
            await uow.outbox.add(
                PointsCapped(
                    transfer_id=reward.transfer_id,
                    rider_id=reward.rider_id,
                    rule=reward.code.value,
                    requested=requested,
                    paid=amount,
                    withheld=withheld,
                    daily_cap=rules.daily_cap,
                    ledger_day=day,
                    report_id=reward.report_id,
                    work_order_id=reward.work_order_id,
                    capped_at=now,
                ),
                subject=reward.rider_id,
                sequence=rider.version,
            )
            district = reward.district
            uow.after_commit(lambda: self.observer.capped(district, withheld))
            _log.info(
                "points.daily_cap_reached",
                rider_id=reward.rider_id,
                transfer_id=reward.transfer_id,
                withheld=withheld,
                day=day.isoformat(),
            )
        return "processed"

    async def _reverse(
        self,
        uow: AbstractLedgerUnitOfWork,
        rider: Account,
        transfer_id: str,
        report_id: str,
        paid: int,
        print_: str,
        voided: WorkOrderVoided,
        meta: EventMeta,
    ) -> Account:
        rider_id = rider.id.removeprefix("rider:")
        amount = min(paid, max(0, rider.available))
        shortfall = paid - amount
        day = ledger_day(voided.voided_at)
        now = datetime.now(UTC)
        if amount > 0:
            transfer = Transfer(
                id=transfer_id,
                debit_account_id=rider.id,
                credit_account_id=ISSUANCE_ACCOUNT,
                amount=amount,
                code=TransferCode.REVERSAL,
                rider_id=rider_id,
                report_id=report_id,
                work_order_id=voided.work_order_id,
                ledger_day=day,
                caused_by_event_id=meta.id,
                created_at=now,
                district=meta.district,
                fingerprint=print_,
            )
            rider, _ = post_transfer(rider, Account(ISSUANCE_ACCOUNT), transfer)
            await uow.ledger.record(transfer, [rider])
        if amount == 0:  # nothing moved: the event still gets a sequence of its own
            rider = replace(rider, version=rider.version + 1)
            await uow.ledger.advance(rider)
        if shortfall > 0:
            await uow.ledger.record_withheld(
                Withheld(
                    id=transfer_id,
                    kind=WithheldKind.SHORTFALL,
                    code=TransferCode.REVERSAL,
                    rider_id=rider_id,
                    report_id=report_id,
                    work_order_id=voided.work_order_id,
                    district=meta.district,
                    amount=shortfall,
                    fingerprint=print_,
                    ledger_day=day,
                    caused_by_event_id=meta.id,
                    created_at=now,
                )
            )
            _log.warning(
                "points.reversal_shortfall",
                rider_id=rider_id,
                report_id=report_id,
                shortfall=shortfall,
            )
        await uow.outbox.add(
            PointsReversed(
                transfer_id=transfer_id,
                rider_id=rider_id,
                amount=amount,
                shortfall=shortfall,
                balance=rider.balance,
                report_id=report_id,
                work_order_id=voided.work_order_id,
                reason=voided.reason,
                reversed_at=now,
            ),
            subject=rider_id,
            sequence=rider.version,
        )
        district = meta.district
        uow.after_commit(lambda: self.observer.reversed(district, amount))
        return rider

    # --- decisions already taken -------------------------------------------------------------

    async def _decided(
        self, uow: AbstractLedgerUnitOfWork, transfer_id: str, print_: str, code: TransferCode
    ) -> Decision:
        """``same`` when this id was decided for the same content (a replay: a no-op),
        ``conflict`` when for another (refused, logged, counted), ``new`` otherwise."""
        transfer = await uow.ledger.get_transfer(transfer_id)
        stored: str | None
        if transfer is not None:
            stored = transfer.fingerprint
        else:
            withheld = await uow.ledger.get_withheld(transfer_id)
            if withheld is None:
                return "new"
            stored = withheld.fingerprint
        if stored is None or stored == print_:  # None: paid before fingerprints were kept
            return "same"
        _log.error(
            "points.transfer_conflict",
            transfer_id=transfer_id,
            stored_fingerprint=stored,
            fingerprint=print_,
        )
        uow.after_commit(lambda: self.observer.conflict(code.value))
        return "conflict"

    async def _reversed(self, uow: AbstractLedgerUnitOfWork, report_id: str) -> bool:
        reversal = reversal_transfer_id(report_id)
        if await uow.ledger.get_transfer(reversal) is not None:
            return True
        return await uow.ledger.get_withheld(reversal) is not None

    async def _original_reporter(
        self, uow: AbstractLedgerUnitOfWork, report_id: str, reporter_ids: list[str]
    ) -> str | None:
        award = award_transfer_id(report_id)
        transfer = await uow.ledger.get_transfer(award)
        if transfer is not None:
            return transfer.rider_id
        withheld = await uow.ledger.get_withheld(award)
        if withheld is not None:
            return withheld.rider_id
        return reporter_ids[0] if reporter_ids else None

    async def _report_of(self, uow: AbstractLedgerUnitOfWork, rated: WorkOrderRated) -> str | None:
        if await self._original_reporter(uow, rated.report_id, rated.reporter_ids) == (
            rated.rated_by
        ):
            return rated.report_id
        for transfer in await uow.ledger.earnings_of_order(rated.work_order_id):
            if transfer.code is TransferCode.CORROBORATION and transfer.rider_id == rated.rated_by:
                return transfer.report_id
        for withheld in await uow.ledger.withheld_of_order(rated.work_order_id):
            if withheld.code is TransferCode.CORROBORATION and withheld.rider_id == rated.rated_by:
                return withheld.report_id
        return None

    async def _open_issuance(self, uow: AbstractLedgerUnitOfWork) -> None:
        if ISSUANCE_ACCOUNT not in self._opened:
            await uow.ledger.open_account(ISSUANCE_ACCOUNT, must_not_go_negative=False)
            uow.after_commit(lambda: self._opened.add(ISSUANCE_ACCOUNT))


def on_work_order_filed_handler(
    rules: AwardRules | RuleSet,
    on_awarded: Callable[[int], None] = lambda amount: None,
) -> EventHandler[WorkOrderFiled, AbstractLedgerUnitOfWork]:
    """Award the reporter for an accepted report: one transfer per report, whatever replays."""
    defaults = (
        rules
        if isinstance(rules, RuleSet)
        else RuleSet(report_accepted=rules.report_accepted, daily_cap=rules.daily_cap)
    )
    rewards = Rewards(defaults, LedgerObserver(issued=lambda district, amount: on_awarded(amount)))
    return rewards.on_filed
