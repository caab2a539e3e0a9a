"""What a recipient is told, and in which words (zh-CN templates with variables)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from string import Formatter
from typing import Any


class Channel(StrEnum):
    INBOX = "inbox"


class TemplateId(StrEnum):
    REPORT_FILED = "report_filed"
    REPORT_REJECTED = "report_rejected"
    POINTS_AWARDED = "points_awarded"


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
}


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
    variables: dict[str, Any],
    report_id: str | None = None,
    work_order_id: str | None = None,
) -> Message:
    template = TEMPLATES[template_id]
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
