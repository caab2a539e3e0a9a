"""Who hears of which event, in which template: the reporters at each step of their work order,
the assignee when an order becomes theirs or runs late, the supervisors when it needs them.

Each :class:`Notice` names the event, the template, how to find the recipients, and the
variables it adds to the event's own fields (a deadline in local time, a level in words). The
templates are checked against what each notice provides when the :class:`NoticeBook` is made
— at import, so a template naming a variable its event lacks stops the service from starting.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from common.contracts.base import EventData
from common.contracts.catalogue import find_category
from common.contracts.events import PointsAwarded, ReportRejected, WorkOrderFiled
from common.contracts.points_events import (
    PointsCapped,
    PointsReversed,
    RedemptionCancelled,
    RedemptionExpired,
    RedemptionFulfilled,
    RedemptionReserved,
)
from common.contracts.workorder_events import (
    EscalationReason,
    VoidReason,
    WorkOrderClosed,
    WorkOrderDispatched,
    WorkOrderEscalated,
    WorkOrderMerged,
    WorkOrderOverdue,
    WorkOrderReopened,
    WorkOrderResolved,
    WorkOrderReviewRequested,
    WorkOrderRework,
    WorkOrderSlaWarning,
    WorkOrderVoided,
)
from notification.domain.delivery import Audience
from notification.domain.messages import (
    TEMPLATES,
    Message,
    Template,
    TemplateCatalogue,
    TemplateId,
    local_time,
    render,
)

Recipients = Callable[[Any], Iterable[str | None]]
Derived = Mapping[str, Callable[[Any], object]]

ESCALATION_LEVELS = {1: "街道", 2: "区"}
ESCALATION_REASONS = {
    EscalationReason.OVERDUE: "超过处置时限未处置完毕",
    EscalationReason.TROUBLED: "多次返工、回退或发回重办",
}
ESCALATION_LEVELS_EN = {1: "street", 2: "district"}
ESCALATION_REASONS_EN = {
    EscalationReason.OVERDUE: "past its deadline",
    EscalationReason.TROUBLED: "reworked, returned or reopened too often",
}


@dataclass(frozen=True)
class Notice:
    """``template`` tells ``recipients(event)`` of an event of type ``model`` (when
    ``applies(event)``), with the event's fields and the ``derived`` variables."""

    model: type[EventData]
    template: TemplateId
    recipients: Recipients
    derived: Derived = field(default_factory=dict)
    applies: Callable[[Any], bool] = lambda data: True
    report_of: Callable[[Any, str], str | None] = lambda data, recipient: getattr(
        data, "report_id", None
    )
    """The report a recipient's message is about (None: none of theirs the event names)."""
    audience: Audience = Audience.REPORTER
    """The role the recipients hear it in (webhooks are configured per district and role)."""
    critical: bool = False
    """Critical messages bypass quiet hours."""

    def provides(self) -> set[str]:
        return set(self.model.model_fields) | set(self.derived)

    def variables(self, data: EventData) -> dict[str, Any]:
        return {**data.model_dump(), **{name: make(data) for name, make in self.derived.items()}}


def _reporters(data: Any) -> list[str]:
    ids: list[str] = data.reporter_ids
    return ids


def _assignee(data: Any) -> list[str | None]:
    return [data.assignee_id]


def _supervisors(data: Any) -> list[str]:
    ids: list[str] = data.supervisor_ids
    return ids


def _deadline(data: Any) -> str:
    return local_time(data.handle_due)


def _category_name_of_code(data: Any) -> str:
    category = find_category(data.category)
    return category.name if category else str(data.category)


def _own_report(data: Any, reporter: str) -> str | None:
    """The filed report is the first reporter's; a merged reporter's own report is not named
    by the order's later events (the message names the work order)."""
    first = data.reporter_ids[0] if data.reporter_ids else None
    return data.report_id if reporter == first else None


def _reporters_but_one_who_withdrew(data: Any) -> list[str]:
    """An order voided because its reporter withdrew the report: that reporter did it and is
    not told it back."""
    if data.reason_code == VoidReason.WITHDRAWN_BY_REPORTER:
        return [r for r in data.reporter_ids if r != data.voided_by]
    return _reporters(data)


def _to_reporters(model: type[EventData], template: TemplateId, **derived: Any) -> Notice:
    return Notice(model, template, _reporters, derived, report_of=_own_report)


def _to_rider(model: type[EventData], template: TemplateId, **derived: Any) -> Notice:
    return Notice(model, template, lambda d: [d.rider_id], derived)


def _reason_or(default: str) -> Callable[[Any], str]:
    return lambda data: data.reason or default


NOTICES: tuple[Notice, ...] = (
    Notice(WorkOrderFiled, TemplateId.REPORT_FILED, lambda d: [d.reporter_id]),
    Notice(
        ReportRejected,
        TemplateId.REPORT_REJECTED,
        lambda d: [d.reporter_id],
        {"category_name": _category_name_of_code},
    ),
    Notice(PointsAwarded, TemplateId.POINTS_AWARDED, lambda d: [d.rider_id]),
    # the reporters, at each step they should hear of
    _to_reporters(WorkOrderDispatched, TemplateId.REPORT_DISPATCHED, deadline=_deadline),
    _to_reporters(WorkOrderResolved, TemplateId.REPORT_RESOLVED),
    _to_reporters(WorkOrderClosed, TemplateId.REPORT_CLOSED),
    _to_reporters(WorkOrderRework, TemplateId.REPORT_REWORK),
    _to_reporters(WorkOrderReopened, TemplateId.REPORT_REOPENED),
    Notice(
        WorkOrderVoided,
        TemplateId.REPORT_VOIDED,
        _reporters_but_one_who_withdrew,
        report_of=_own_report,
    ),
    Notice(
        WorkOrderMerged,
        TemplateId.REPORT_MERGED,
        lambda d: [d.merged_reporter_id],
        report_of=lambda d, recipient: d.merged_report_id,
    ),
    # the assignee
    Notice(
        WorkOrderDispatched,
        TemplateId.ORDER_ASSIGNED,
        _assignee,
        {"deadline": _deadline, "claim_deadline": lambda d: local_time(d.claim_due)},
        applies=lambda d: not d.redispatch,
        audience=Audience.ASSIGNEE,
    ),
    Notice(
        WorkOrderDispatched,
        TemplateId.ORDER_REASSIGNED,
        _assignee,
        {"deadline": _deadline, "claim_deadline": lambda d: local_time(d.claim_due)},
        applies=lambda d: d.redispatch,
        audience=Audience.ASSIGNEE,
    ),
    Notice(
        WorkOrderRework,
        TemplateId.ORDER_REWORK,
        _assignee,
        {"deadline": _deadline},
        audience=Audience.ASSIGNEE,
    ),
    Notice(
        WorkOrderSlaWarning,
        TemplateId.ORDER_SLA_WARNING,
        _assignee,
        {"deadline": _deadline},
        audience=Audience.ASSIGNEE,
    ),
    # the supervisors
    Notice(
        WorkOrderReviewRequested,
        TemplateId.ORDER_REVIEW_REQUESTED,
        _supervisors,
        audience=Audience.SUPERVISOR,
    ),
    Notice(
        WorkOrderOverdue,
        TemplateId.ORDER_OVERDUE,
        _supervisors,
        {"deadline": _deadline},
        audience=Audience.SUPERVISOR,
    ),
    Notice(
        WorkOrderEscalated,
        TemplateId.ORDER_ESCALATED,
        _supervisors,
        {
            "level_name": lambda d: ESCALATION_LEVELS.get(d.level, str(d.level)),
            "reason_text": lambda d: ESCALATION_REASONS[d.reason],
            "level_name_en": lambda d: ESCALATION_LEVELS_EN.get(d.level, str(d.level)),
            "reason_text_en": lambda d: ESCALATION_REASONS_EN[d.reason],
        },
        audience=Audience.SUPERVISOR,
        critical=True,
    ),
    # the rider, of their points and gifts
    _to_rider(PointsCapped, TemplateId.POINTS_CAPPED),
    _to_rider(
        PointsReversed,
        TemplateId.POINTS_REVERSED,
        reason_text=_reason_or("工单作废"),
        work_order_ref=lambda d: d.work_order_id or d.report_id,
    ),
    _to_rider(
        RedemptionReserved,
        TemplateId.REDEMPTION_RESERVED,
        expires=lambda d: local_time(d.expires_at),
    ),
    _to_rider(RedemptionFulfilled, TemplateId.REDEMPTION_FULFILLED),
    _to_rider(RedemptionCancelled, TemplateId.REDEMPTION_CANCELLED, reason_text=_reason_or("—")),
    _to_rider(RedemptionExpired, TemplateId.REDEMPTION_EXPIRED),
)


class NoticeBook:
    """The notices of each event type, their templates checked when the book is made."""

    def __init__(
        self,
        notices: Sequence[Notice] = NOTICES,
        templates: Mapping[TemplateId, Template] | TemplateCatalogue = TEMPLATES,
    ) -> None:
        """``templates``: a whole catalogue (locales, district overrides), or the zh-CN set to
        ship with the English fallback."""
        provided: dict[TemplateId, set[str]] = {}
        for notice in notices:
            names = provided.setdefault(notice.template, notice.provides())
            names &= notice.provides()  # a template used twice must make do with both
        catalogue = (
            templates
            if isinstance(templates, TemplateCatalogue)
            else TemplateCatalogue.shipped(templates)
        )
        catalogue.check(provided)
        self._catalogue = catalogue
        self._notices: dict[str, list[Notice]] = {}
        for notice in notices:
            self._notices.setdefault(notice.model.event_type, []).append(notice)

    @property
    def models(self) -> list[type[EventData]]:
        """Every event type someone hears of, once each."""
        return list(
            {n.model.event_type: n.model for ns in self._notices.values() for n in ns}.values()
        )

    @property
    def templates(self) -> list[TemplateId]:
        return list(TemplateId)

    def messages_for(self, data: EventData, district: str | None = None) -> list[Message]:
        """What the event tells whom: one message per recipient and template (a recipient
        named twice, or none at all, changes nothing), in ``district``'s words."""
        messages: list[Message] = []
        for notice in self._notices.get(data.event_type, []):
            if not notice.applies(data):
                continue
            variables = notice.variables(data)
            template = {notice.template: self._catalogue.pick(notice.template, district)}
            for recipient in dict.fromkeys(r for r in notice.recipients(data) if r):
                messages.append(
                    render(
                        notice.template,
                        recipient_id=recipient,
                        variables=variables,
                        report_id=notice.report_of(data, recipient),
                        work_order_id=getattr(data, "work_order_id", None),
                        templates=template,
                        audience=notice.audience.value,
                        critical=notice.critical,
                    )
                )
        return messages


NOTICE_BOOK = NoticeBook()
"""The notices of gridloop, checked at import."""
