"""Use cases of the ledger service."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import structlog

from common.contracts.events import PointsAwarded, WorkOrderFiled
from common.messaging.ports import EventHandler, EventMeta, HandlerOutcome
from ledger.domain.points import (
    ISSUANCE_ACCOUNT,
    Account,
    AwardRules,
    Transfer,
    TransferCode,
    award_transfer_id,
    ledger_day,
    post_transfer,
    rider_account,
)
from ledger.service_layer.unit_of_work import AbstractLedgerUnitOfWork

_log = structlog.get_logger("gridloop.ledger")


def on_work_order_filed_handler(
    rules: AwardRules,
    on_awarded: Callable[[int], None] = lambda amount: None,
) -> EventHandler[WorkOrderFiled, AbstractLedgerUnitOfWork]:
    """Award the reporter for an accepted report: one transfer per report, whatever replays."""
    opened: set[str] = set()  # system accounts known to exist (committed), opened once

    async def on_work_order_filed(
        filed: WorkOrderFiled, meta: EventMeta, uow: AbstractLedgerUnitOfWork
    ) -> HandlerOutcome:
        transfer_id = award_transfer_id(filed.report_id)
        if await uow.ledger.get_transfer(transfer_id) is not None:
            return "ignored"
        if ISSUANCE_ACCOUNT not in opened:
            await uow.ledger.open_account(ISSUANCE_ACCOUNT, must_not_go_negative=False)
            uow.after_commit(lambda: opened.add(ISSUANCE_ACCOUNT))
        account_id = rider_account(filed.reporter_id)
        rider = await uow.ledger.open_account(account_id, must_not_go_negative=True)
        day = ledger_day(filed.filed_at)
        amount = rules.award_for_accepted_report(
            await uow.ledger.awarded_on(filed.reporter_id, day)
        )
        if amount == 0:
            _log.info(
                "points.daily_cap_reached",
                rider_id=filed.reporter_id,
                report_id=filed.report_id,
                day=day.isoformat(),
            )
            return "processed"
        now = datetime.now(UTC)
        transfer = Transfer(
            id=transfer_id,
            debit_account_id=ISSUANCE_ACCOUNT,
            credit_account_id=account_id,
            amount=amount,
            code=TransferCode.REPORT_ACCEPTED,
            rider_id=filed.reporter_id,
            report_id=filed.report_id,
            work_order_id=filed.work_order_id,
            ledger_day=day,
            caused_by_event_id=meta.id,
            created_at=now,
        )
        # The issuance account's balance is derived: its starting point never matters here.
        issuance, account = post_transfer(Account(ISSUANCE_ACCOUNT), rider, transfer)
        await uow.ledger.record(transfer, [issuance, account])
        await uow.outbox.add(
            PointsAwarded(
                transfer_id=transfer_id,
                rider_id=filed.reporter_id,
                amount=amount,
                balance=account.balance,
                rule=TransferCode.REPORT_ACCEPTED.value,
                report_id=filed.report_id,
                work_order_id=filed.work_order_id,
                awarded_at=now,
            ),
            subject=filed.reporter_id,
            sequence=account.version,
        )
        uow.after_commit(lambda: on_awarded(amount))
        _log.debug(
            "points.awarded",
            rider_id=filed.reporter_id,
            amount=amount,
            balance=account.balance,
            transfer_id=transfer_id,
        )
        return "processed"

    return on_work_order_filed
