"""HTTP API of the ledger service (/v1)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from common.auth import Principal, Role, authorise_rider_data, current_principal, require_roles
from common.paging import SortKey
from common.problems import Problem
from common.service.paging import CursorPage, PageRequest, page_request
from ledger.adapters.read_model import StatementEntry
from ledger.adapters.unit_of_work import SqlLedgerUnitOfWork
from ledger.domain.points import DISTRICT_TIMEZONE, reason_zh, rider_account
from ledger.domain.rules import RuleSet, in_force

Caller = Annotated[Principal, Depends(current_principal)]
Admin = Annotated[Principal, require_roles(Role.ADMIN)]
DistrictCode = Annotated[str, Path(pattern=r"^\d{6}$", description="行政区划代码")]
Page = Annotated[PageRequest, Depends(page_request("transfers"))]
StatementPage = Annotated[PageRequest, Depends(page_request("statement"))]


class BalanceView(BaseModel):
    """A rider's points as (posted, reserved, available); ``balance`` and ``pending`` are the
    older names of ``posted`` and ``reserved`` and stay."""

    account_id: str
    rider_id: str
    posted: int = Field(
        description="points credited, less points taken back and points spent on gifts (redeemed)"
    )
    reserved: int = Field(
        description="points held by gift reservations not yet fulfilled, cancelled or expired"
    )
    available: int = Field(description="what the rider can redeem now: posted - reserved")
    balance: int = Field(description="the same as posted (its older name)")
    pending: int = Field(description="the same as reserved (its older name)")

    @classmethod
    def of(cls, account_id: str, rider_id: str, posted: int, reserved: int) -> BalanceView:
        return cls(
            account_id=account_id,
            rider_id=rider_id,
            posted=posted,
            reserved=reserved,
            available=posted - reserved,
            balance=posted,
            pending=reserved,
        )


class TransferView(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    debit_account_id: str
    credit_account_id: str
    amount: int
    code: str
    report_id: str | None
    work_order_id: str | None
    ledger_day: date
    caused_by_event_id: str
    created_at: datetime


class TransferList(CursorPage[TransferView]):
    """A rider's transfers, newest first."""


class StatementLine(BaseModel):
    id: str
    """The line's own id: the transfer id, or ``withheld:<transfer id>``."""
    transfer_id: str
    kind: str = Field(description="transfer, capped (past the daily cap) or shortfall")
    code: str
    amount: int
    balance_change: int
    """What the line did to the posted balance (negative for points out; 0 for a reservation
    and for withheld points)."""
    available_change: int
    """What it did to the available balance (a reservation holds points: negative)."""
    reason: str
    """Why, in 中文."""
    report_id: str | None
    work_order_id: str | None
    redemption_id: str | None
    gift_name: str | None
    """The gift a redemption's line belongs to."""
    ledger_day: date
    created_at: datetime

    @classmethod
    def of(cls, entry: StatementEntry) -> StatementLine:
        posted, available = _changes(entry)
        return cls(
            id=entry.id,
            transfer_id=entry.transfer_id,
            kind=entry.kind,
            code=entry.code.value,
            amount=entry.amount,
            balance_change=posted,
            available_change=available,
            reason=reason_zh(entry.code, entry.withheld),
            report_id=entry.report_id,
            work_order_id=entry.work_order_id,
            redemption_id=entry.redemption_id,
            gift_name=entry.gift_name,
            ledger_day=entry.ledger_day,
            created_at=entry.created_at,
        )


def _changes(entry: StatementEntry) -> tuple[int, int]:
    """(posted, available) changes of the rider's account."""
    if entry.withheld is not None:
        return 0, 0
    sign = 1 if entry.credit else -1
    match entry.code.phase.value:
        case "pending":
            return 0, sign * entry.amount
        case "post_pending":
            return sign * entry.amount, 0
        case "void_pending":
            return 0, -sign * entry.amount
    return sign * entry.amount, sign * entry.amount


class Statement(CursorPage[StatementLine]):
    """A rider's statement, newest first: every transfer and every withheld reward."""


class Participant(BaseModel):
    rank: int
    rider_id: str
    points: int
    """Earned in the month in the district, net of reversals."""
    reports: int
    """Reports of theirs that were paid."""


class TopParticipants(BaseModel):
    district: str
    month: str
    participants: list[Participant]


def _month_days(month: str) -> tuple[date, date]:
    year, number = (int(part) for part in month.split("-"))
    if not 1 <= number <= 12:
        raise Problem(422, "Invalid month", f"{month} is not a month (YYYY-MM)")
    first = date(year, number, 1)
    following = date(year + number // 12, number % 12 + 1, 1)
    return first, date.fromordinal(following.toordinal() - 1)


class Verification(BaseModel):
    ok: bool
    accounts: int
    transfers: int
    violations: dict[str, list[str]]
    """Per check (district_sums, no_negative_rider, balances_fold, one_per_report,
    reservations_end_once): what breaks it; empty lists when the ledger holds."""


class PointRules(BaseModel):
    """A district's rule set: what each reward pays and the daily cap per rider, in force for
    events whose own time is at or after ``effective_from``."""

    model_config = ConfigDict(extra="forbid")

    effective_from: AwareDatetime
    report_accepted: int = Field(default=10, ge=0, le=10_000)
    corroboration: int = Field(default=2, ge=0, le=10_000)
    closure_bonus: int = Field(default=5, ge=0, le=10_000)
    rating: int = Field(default=1, ge=0, le=10_000)
    daily_cap: int = Field(default=50, ge=0, le=1_000_000)

    def rule_set(self) -> RuleSet:
        return RuleSet(
            report_accepted=self.report_accepted,
            corroboration=self.corroboration,
            closure_bonus=self.closure_bonus,
            rating=self.rating,
            daily_cap=self.daily_cap,
            effective_from=self.effective_from.astimezone(UTC),
        )

    @classmethod
    def of(cls, rules: RuleSet) -> PointRules:
        return cls(
            effective_from=rules.effective_from,
            report_accepted=rules.report_accepted,
            corroboration=rules.corroboration,
            closure_bonus=rules.closure_bonus,
            rating=rules.rating,
            daily_cap=rules.daily_cap,
        )


class PointRuleHistory(BaseModel):
    district: str
    defaults: PointRules
    """What the district pays before its first rule set (the deployment's settings)."""
    in_force: PointRules
    rule_sets: list[PointRules]
    """Oldest first."""


def _same_rules(a: RuleSet, b: RuleSet) -> bool:
    return PointRules.of(a).model_dump(exclude={"effective_from"}) == PointRules.of(b).model_dump(
        exclude={"effective_from"}
    )


def build_router(
    unit_of_work: Callable[[], SqlLedgerUnitOfWork], defaults: RuleSet | None = None
) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["points"])
    default_rules = defaults or RuleSet()

    async def history(uow: SqlLedgerUnitOfWork, district: str) -> PointRuleHistory:
        rule_sets = sorted(await uow.ledger.rule_sets(district), key=lambda r: r.effective_from)
        return PointRuleHistory(
            district=district,
            defaults=PointRules.of(default_rules),
            in_force=PointRules.of(in_force(rule_sets, datetime.now(UTC), default_rules)),
            rule_sets=[PointRules.of(r) for r in rule_sets],
        )

    @router.get(
        "/districts/{code}/point-rules",
        response_model=PointRuleHistory,
        summary="A district's point rules: the defaults and every rule set with its start",
    )
    async def point_rules(code: DistrictCode, principal: Caller) -> PointRuleHistory:
        if not principal.is_staff():
            raise Problem(403, "Forbidden", "only staff see a district's point rules")
        async with unit_of_work() as uow:
            return await history(uow, code)

    @router.put(
        "/districts/{code}/point-rules",
        response_model=PointRuleHistory,
        summary="Add a rule set to a district, in force from its effective_from (admins)",
        responses={409: {"description": "another rule set starts at that time"}},
    )
    async def put_point_rules(
        code: DistrictCode, rules: PointRules, principal: Admin
    ) -> PointRuleHistory:
        """A rule set applies to events from its ``effective_from`` on, which may not lie in the
        past: a replay of an earlier event is paid by the rules of its time. Sending the same
        set again changes nothing; another set at the same time is a 409."""
        if not principal.covers(code):
            raise Problem(403, "Forbidden", f"the token does not cover district {code}")
        wanted = rules.rule_set()
        if wanted.effective_from < datetime.now(UTC):
            raise Problem(
                422,
                "Rules cannot change the past",
                "effective_from lies in the past: events already paid keep their rules",
            )
        async with unit_of_work() as uow:
            stored = await uow.ledger.add_rule_set(code, wanted, principal.subject)
            if not _same_rules(stored, wanted):
                raise Problem(
                    409,
                    "Conflict",
                    f"another rule set of district {code} starts at {wanted.effective_from}",
                )
            await uow.commit()
            return await history(uow, code)

    @router.get(
        "/accounts/{rider_id}/balance",
        response_model=BalanceView,
        summary="A rider's points balance",
    )
    async def balance(rider_id: str, principal: Caller) -> BalanceView:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            account = await uow.ledger.get_account(rider_account(rider_id))
        if account is None:  # no points yet: a zero balance, not an error
            return BalanceView.of(rider_account(rider_id), rider_id, posted=0, reserved=0)
        return BalanceView.of(
            account.id, rider_id, posted=account.balance, reserved=account.debits_pending
        )

    @router.get(
        "/accounts/{rider_id}/transfers",
        response_model=TransferList,
        summary="Every transfer behind a rider's balance, newest first",
    )
    async def transfers(rider_id: str, principal: Caller, page: Page) -> TransferList:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            fetched = await uow.ledger.transfers_of(rider_id, limit=page.fetch, after=page.after)
        return TransferList.of(
            page,
            fetched,
            key=lambda t: SortKey(t.created_at, t.id),
            view=TransferView.model_validate,
        )

    @router.get(
        "/admin/ledger/verify",
        response_model=Verification,
        summary="Check the whole ledger against its invariants (admins)",
    )
    async def verify(principal: Admin) -> Verification:
        """Reads every account and every transfer: a check for operators, not for a hot path."""
        async with unit_of_work() as uow:
            found = await uow.ledger.verify()
        return Verification(
            ok=found.ok,
            accounts=found.accounts,
            transfers=found.transfers,
            violations=found.violations,
        )

    @router.get(
        "/accounts/{rider_id}/statement",
        response_model=Statement,
        summary="A rider's statement: transfers and withheld points with their reasons",
    )
    async def statement(rider_id: str, principal: Caller, page: StatementPage) -> Statement:
        authorise_rider_data(principal, rider_id, "points")
        async with unit_of_work() as uow:
            fetched = await uow.ledger.statement_of(rider_id, limit=page.fetch, after=page.after)
        return Statement.of(
            page, fetched, key=lambda e: SortKey(e.created_at, e.id), view=StatementLine.of
        )

    @router.get(
        "/districts/{code}/top-participants",
        response_model=TopParticipants,
        summary="A district's riders with the most points earned in a month (staff)",
    )
    async def top(
        code: DistrictCode,
        principal: Caller,
        month: Annotated[
            str | None,
            Query(pattern=r"^\d{4}-\d{2}$", description="YYYY-MM; this month by default"),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=100)] = 10,
    ) -> TopParticipants:
        """For the administrators choosing 先锋骑手: the month is an Asia/Shanghai one."""
        if not principal.is_staff():
            raise Problem(403, "Forbidden", "only staff see a district's top participants")
        if principal.role is not Role.SERVICE and not principal.covers(code):
            raise Problem(403, "Forbidden", f"the token does not cover district {code}")
        month = month or datetime.now(DISTRICT_TIMEZONE).strftime("%Y-%m")
        first, last = _month_days(month)
        async with unit_of_work() as uow:
            found = await uow.ledger.top_participants(code, first, last, limit)
        return TopParticipants(
            district=code,
            month=month,
            participants=[
                Participant(rank=n, rider_id=p.rider_id, points=p.points, reports=p.reports)
                for n, p in enumerate(found, start=1)
            ],
        )

    return router
