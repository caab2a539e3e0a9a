"""What a recipient is told, and in which words (zh-CN templates with variables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from string import Formatter
from typing import Any
from zoneinfo import ZoneInfo


class Channel(StrEnum):
    INBOX = "inbox"


class TemplateId(StrEnum):
    # to the reporters
    REPORT_FILED = "report_filed"
    REPORT_REJECTED = "report_rejected"
    POINTS_AWARDED = "points_awarded"
    REPORT_DISPATCHED = "report_dispatched"
    REPORT_RESOLVED = "report_resolved"
    REPORT_CLOSED = "report_closed"
    REPORT_REWORK = "report_rework"
    REPORT_REOPENED = "report_reopened"
    REPORT_VOIDED = "report_voided"
    REPORT_MERGED = "report_merged"
    # to the assignee
    ORDER_ASSIGNED = "order_assigned"
    ORDER_REASSIGNED = "order_reassigned"
    ORDER_REWORK = "order_rework"
    ORDER_SLA_WARNING = "order_sla_warning"
    # to the supervisors
    ORDER_REVIEW_REQUESTED = "order_review_requested"
    ORDER_OVERDUE = "order_overdue"
    ORDER_ESCALATED = "order_escalated"
    # to the rider, from the ledger
    POINTS_CAPPED = "points_capped"
    POINTS_REVERSED = "points_reversed"
    REDEMPTION_RESERVED = "redemption_reserved"
    REDEMPTION_FULFILLED = "redemption_fulfilled"
    REDEMPTION_CANCELLED = "redemption_cancelled"
    REDEMPTION_EXPIRED = "redemption_expired"


@dataclass(frozen=True)
class Template:
    title: str
    body: str

    def variables(self) -> set[str]:
        return {
            name
            for text in (self.title, self.body)
            for _, name, _, _ in Formatter().parse(text)
            if name
        }


_YOURS = "您上报的「{category_name}」问题（工单号 {work_order_id}）"
_ORDER = "工单 {work_order_id}（{category_name}，{street}）"

TEMPLATES: dict[TemplateId, Template] = {
    TemplateId.REPORT_FILED: Template(
        title="您上报的问题已立案",
        body="您上报的「{category_name}」问题已立案，工单号 {work_order_id}，"
        "已派往{grid_name}处理。感谢您对社区治理的支持！",
    ),
    TemplateId.REPORT_REJECTED: Template(
        title="您上报的问题未予立案",
        body="您上报的「{category_name}」问题未予立案：{reason}",
    ),
    TemplateId.POINTS_AWARDED: Template(
        title="+{amount} 积分",
        body="感谢您的随手拍上报！本次获得 +{amount} 积分，当前积分余额 {balance}。",
    ),
    TemplateId.REPORT_DISPATCHED: Template(
        title="您上报的问题已派遣处理",
        body=_YOURS + "已派遣至 {assignee_name} 处理，处置时限 {deadline}。",
    ),
    TemplateId.REPORT_RESOLVED: Template(
        title="您上报的问题已处置",
        body=_YOURS + "已处置完毕，待核查后结案。",
    ),
    TemplateId.REPORT_CLOSED: Template(
        title="您上报的问题已结案",
        body=_YOURS + "已结案，请评价。如问题依旧存在，可申请发回重办。",
    ),
    TemplateId.REPORT_REWORK: Template(
        title="您上报的问题返工处理",
        body=_YOURS + "核查未通过，已返工重新处置。",
    ),
    TemplateId.REPORT_REOPENED: Template(
        title="您上报的问题已发回重办",
        body=_YOURS + "已发回重办：{reason}",
    ),
    TemplateId.REPORT_VOIDED: Template(
        title="您上报的问题工单已作废",
        body=_YOURS + "已作废：{reason}",
    ),
    TemplateId.REPORT_MERGED: Template(
        title="您上报的问题已并单",
        body="您上报的「{category_name}」问题与已受理的工单合并处理（工单号 {work_order_id}），"
        "处理进展将同步告知您。",
    ),
    TemplateId.ORDER_ASSIGNED: Template(
        title="新工单：{category_name}",
        body=_ORDER + "已派给您，请于 {claim_deadline} 前签收，{deadline} 前处置完毕。",
    ),
    TemplateId.ORDER_REASSIGNED: Template(
        title="改派工单：{category_name}",
        body=_ORDER + "经回退或发回重办改派给您，请于 {claim_deadline} 前签收，"
        "{deadline} 前处置完毕。",
    ),
    TemplateId.ORDER_REWORK: Template(
        title="工单返工：{category_name}",
        body=_ORDER + "核查未通过，请返工处置：{note}。新的处置时限 {deadline}。",
    ),
    TemplateId.ORDER_SLA_WARNING: Template(
        title="工单即将超时：{category_name}",
        body=_ORDER + "的处置时限为 {deadline}，已用去八成时间，请抓紧处置。",
    ),
    TemplateId.ORDER_REVIEW_REQUESTED: Template(
        title="待核实工单：{category_name}",
        body=_ORDER + "需核实后立案，请及时核实。",
    ),
    TemplateId.ORDER_OVERDUE: Template(
        title="工单超时：{category_name}",
        body=_ORDER + "已超过处置时限 {deadline}，尚未处置完毕，请督办。",
    ),
    TemplateId.ORDER_ESCALATED: Template(
        title="{level_name}级督办：{category_name}",
        body=_ORDER + "已提级至{level_name}督办（{reason_text}），请督促处置。",
    ),
    TemplateId.POINTS_CAPPED: Template(
        title="今日积分已达上限",
        body="感谢您的随手拍上报！您今日获得的积分已达每日上限 {daily_cap}，"
        "本次 {withheld} 积分未能发放。",
    ),
    TemplateId.POINTS_REVERSED: Template(
        title="-{amount} 积分",
        body="您上报的问题（工单号 {work_order_ref}）经核查作废（{reason_text}），"
        "已扣回 {amount} 积分，当前积分余额 {balance}。",
    ),
    TemplateId.REDEMPTION_RESERVED: Template(
        title="兑换成功：{gift_name}",
        body="您已使用 {cost} 积分兑换「{gift_name}」，请于 {expires} 前到{collection_point}"
        "出示兑换码 {collection_code} 领取。",
    ),
    TemplateId.REDEMPTION_FULFILLED: Template(
        title="已领取：{gift_name}",
        body="您已在{collection_point}领取「{gift_name}」，消耗 {cost} 积分。",
    ),
    TemplateId.REDEMPTION_CANCELLED: Template(
        title="兑换已取消：{gift_name}",
        body="您兑换的「{gift_name}」已取消（{reason_text}），{cost} 积分已退回。",
    ),
    TemplateId.REDEMPTION_EXPIRED: Template(
        title="兑换已过期：{gift_name}",
        body="您兑换的「{gift_name}」未在期限内领取，已过期，{cost} 积分已退回。",
    ),
}
"""The zh-CN templates, as shipped."""

_YOURS_EN = 'Your report "{category_name}" (work order {work_order_id})'
_ORDER_EN = "Work order {work_order_id} ({category_name}, {street})"

EN_TEMPLATES: dict[TemplateId, Template] = {
    TemplateId.REPORT_FILED: Template(
        title="Your report was accepted",
        body='Your report "{category_name}" was accepted as work order {work_order_id} and '
        "sent to {grid_name}. Thank you for helping your community!",
    ),
    TemplateId.REPORT_REJECTED: Template(
        title="Your report was not accepted",
        body='Your report "{category_name}" was not accepted: {reason}',
    ),
    TemplateId.POINTS_AWARDED: Template(
        title="+{amount} points",
        body="Thank you for your report! You earned +{amount} points; your balance is {balance}.",
    ),
    TemplateId.REPORT_DISPATCHED: Template(
        title="Your report was dispatched",
        body=_YOURS_EN + " was dispatched to {assignee_name}, due by {deadline}.",
    ),
    TemplateId.REPORT_RESOLVED: Template(
        title="Your report was handled",
        body=_YOURS_EN + " was handled and awaits verification.",
    ),
    TemplateId.REPORT_CLOSED: Template(
        title="Your report was closed",
        body=_YOURS_EN + " was closed. Please rate it; if the problem persists you may ask "
        "for it to be reopened.",
    ),
    TemplateId.REPORT_REWORK: Template(
        title="Your report is being reworked",
        body=_YOURS_EN + " failed verification and is being handled again.",
    ),
    TemplateId.REPORT_REOPENED: Template(
        title="Your report was reopened",
        body=_YOURS_EN + " was reopened: {reason}",
    ),
    TemplateId.REPORT_VOIDED: Template(
        title="Your report's work order was voided",
        body=_YOURS_EN + " was voided: {reason}",
    ),
    TemplateId.REPORT_MERGED: Template(
        title="Your report was merged",
        body='Your report "{category_name}" was merged into work order {work_order_id}, '
        "already being handled; you will hear of its progress.",
    ),
    TemplateId.ORDER_ASSIGNED: Template(
        title="New work order: {category_name}",
        body=_ORDER_EN + " is yours: claim it by {claim_deadline}, handle it by {deadline}.",
    ),
    TemplateId.ORDER_REASSIGNED: Template(
        title="Work order reassigned: {category_name}",
        body=_ORDER_EN + " came back to you: claim it by {claim_deadline}, handle it by "
        "{deadline}.",
    ),
    TemplateId.ORDER_REWORK: Template(
        title="Rework: {category_name}",
        body=_ORDER_EN + " failed verification, please rework it: {note}. New deadline {deadline}.",
    ),
    TemplateId.ORDER_SLA_WARNING: Template(
        title="Due soon: {category_name}",
        body=_ORDER_EN + " is due by {deadline}; 80 % of the time is used.",
    ),
    TemplateId.ORDER_REVIEW_REQUESTED: Template(
        title="To review: {category_name}",
        body=_ORDER_EN + " needs a review before it is filed.",
    ),
    TemplateId.ORDER_OVERDUE: Template(
        title="Overdue: {category_name}",
        body=_ORDER_EN + " was due by {deadline} and is not handled yet; please follow up.",
    ),
    TemplateId.ORDER_ESCALATED: Template(
        title="Escalated to {level_name_en}: {category_name}",
        body=_ORDER_EN + " was escalated to the {level_name_en} ({reason_text_en}); "
        "please follow up.",
    ),
    TemplateId.POINTS_CAPPED: Template(
        title="Daily points limit reached",
        body="Thank you for your report! You reached today's limit of {daily_cap} points; "
        "{withheld} points of this reward were not paid.",
    ),
    TemplateId.POINTS_REVERSED: Template(
        title="-{amount} points",
        body="Your report (work order {work_order_ref}) was voided ({reason_text}); {amount} "
        "points were taken back, your balance is {balance}.",
    ),
    TemplateId.REDEMPTION_RESERVED: Template(
        title="Redeemed: {gift_name}",
        body='You redeemed "{gift_name}" for {cost} points. Collect it at {collection_point} '
        "by {expires} with the code {collection_code}.",
    ),
    TemplateId.REDEMPTION_FULFILLED: Template(
        title="Collected: {gift_name}",
        body='You collected "{gift_name}" at {collection_point} for {cost} points.',
    ),
    TemplateId.REDEMPTION_CANCELLED: Template(
        title="Redemption cancelled: {gift_name}",
        body='Your redemption of "{gift_name}" was cancelled ({reason_text}); {cost} points '
        "were returned.",
    ),
    TemplateId.REDEMPTION_EXPIRED: Template(
        title="Redemption expired: {gift_name}",
        body='You did not collect "{gift_name}" in time; {cost} points were returned.',
    ),
}
"""The English templates: the fallback of a locale (or a district's override) without one."""

ZH_CN = "zh-CN"
EN = "en"

LOCAL_TIME = ZoneInfo("Asia/Shanghai")


def local_time(moment: datetime) -> str:
    """A moment as riders and staff read it: Asia/Shanghai wall-clock time, to the minute."""
    return moment.astimezone(LOCAL_TIME).strftime("%Y-%m-%d %H:%M")


class TemplateError(ValueError):
    """A template names a variable its event does not provide (found when the templates are
    loaded, so the service does not start with it)."""


def check_templates(
    provided: Mapping[TemplateId, Iterable[str]],
    templates: Mapping[TemplateId, Template] = TEMPLATES,
) -> None:
    """Raise :class:`TemplateError` unless every template is there and names only variables
    that what renders it provides (``provided``: template -> the names it is given)."""
    problems = _problems(provided, templates)
    if problems:
        raise TemplateError("; ".join(problems))


TemplateSet = Mapping[TemplateId, Template]


@dataclass(frozen=True)
class TemplateCatalogue:
    """The templates of every locale, and each district's overrides of some of them.

    A message is worded by the first of: the district's template in ``locale``, the shipped one
    in ``locale``, the district's English one, the shipped English one. The shipped zh-CN and
    English sets are complete; overrides may name a few templates only.
    """

    base: Mapping[str, TemplateSet]
    districts: Mapping[str, Mapping[str, TemplateSet]] = field(default_factory=dict)
    locale: str = ZH_CN

    @classmethod
    def shipped(cls, zh_cn: TemplateSet = TEMPLATES, locale: str = ZH_CN) -> TemplateCatalogue:
        return cls(base={ZH_CN: zh_cn, EN: EN_TEMPLATES}, locale=locale)

    def pick(self, template_id: TemplateId, district: str | None = None) -> Template:
        overrides = self.districts.get(district or "", {})
        for locale in dict.fromkeys((self.locale, EN)):
            for templates in (overrides.get(locale, {}), self.base.get(locale, {})):
                if template_id in templates:
                    return templates[template_id]
        raise KeyError(template_id)

    def check(self, provided: Mapping[TemplateId, Iterable[str]]) -> None:
        """Raise :class:`TemplateError` naming every template (and its district and locale)
        that names a variable its notice does not provide, or a shipped set that lacks one."""
        problems: list[str] = []
        for locale in (ZH_CN, EN):
            problems += _problems(provided, self.base.get(locale, {}), f"[{locale}] ")
        for locale, templates in self.base.items():
            if locale not in (ZH_CN, EN):
                problems += _problems(provided, templates, f"[{locale}] ", partial=True)
        for district, locales in self.districts.items():
            for locale, templates in locales.items():
                where = f"[district {district}, {locale}] "
                problems += _problems(provided, templates, where, partial=True)
        if problems:
            raise TemplateError("; ".join(problems))


def _problems(
    provided: Mapping[TemplateId, Iterable[str]],
    templates: TemplateSet,
    where: str = "",
    *,
    partial: bool = False,
) -> list[str]:
    problems = []
    for template_id, names in provided.items():
        template = templates.get(template_id)
        if template is None:
            if not partial:
                problems.append(f"{where}no template {template_id.value}")
            continue
        unknown = template.variables() - set(names)
        if unknown:
            problems.append(
                f"{where}template {template_id.value} names {', '.join(sorted(unknown))}, "
                "which its event does not provide"
            )
    return problems


class MissingTemplateVariable(ValueError):
    pass


@dataclass(frozen=True)
class Message:
    recipient_id: str
    channel: Channel
    template: TemplateId
    title: str
    body: str
    report_id: str | None
    work_order_id: str | None
    audience: str = "reporter"
    """The role the recipient hears it in: reporter, assignee or supervisor."""
    critical: bool = False


def render(
    template_id: TemplateId,
    *,
    recipient_id: str,
    variables: Mapping[str, Any],
    report_id: str | None = None,
    work_order_id: str | None = None,
    templates: Mapping[TemplateId, Template] = TEMPLATES,
    audience: str = "reporter",
    critical: bool = False,
) -> Message:
    template = templates[template_id]
    missing = template.variables() - variables.keys()
    if missing:
        raise MissingTemplateVariable(
            f"template {template_id.value} needs {', '.join(sorted(missing))}"
        )
    return Message(
        recipient_id=recipient_id,
        channel=Channel.INBOX,
        template=template_id,
        title=template.title.format(**variables),
        body=template.body.format(**variables),
        report_id=report_id,
        work_order_id=work_order_id,
        audience=audience,
        critical=critical,
    )


@dataclass(frozen=True)
class StoredNotification:
    """A message as it sits in a recipient's inbox."""

    id: str
    recipient_id: str
    channel: str
    template: str
    title: str
    body: str
    report_id: str | None
    work_order_id: str | None
    created_at: datetime
    read_at: datetime | None = None
    """When the recipient marked it read (None: unread)."""
