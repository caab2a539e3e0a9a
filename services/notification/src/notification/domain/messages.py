"""What a recipient is told, and in which words (zh-CN templates with variables)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
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
}

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
    problems = []
    for template_id, names in provided.items():
        template = templates.get(template_id)
        if template is None:
            problems.append(f"no template {template_id.value}")
            continue
        unknown = template.variables() - set(names)
        if unknown:
            problems.append(
                f"template {template_id.value} names {', '.join(sorted(unknown))}, "
                "which its event does not provide"
            )
    if problems:
        raise TemplateError("; ".join(problems))


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


def render(
    template_id: TemplateId,
    *,
    recipient_id: str,
    variables: Mapping[str, Any],
    report_id: str | None = None,
    work_order_id: str | None = None,
    templates: Mapping[TemplateId, Template] = TEMPLATES,
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
