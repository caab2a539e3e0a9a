"""zh-CN templates, their variables (checked when loaded), and which event tells whom what."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from common.contracts.base import EventData
from common.contracts.workorder_events import EscalationReason, WorkOrderClaimed
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import (
    notification_delivered,
    points_awarded,
    report_rejected,
    report_submitted,
    work_order_filed,
)
from notification.domain.messages import (
    TEMPLATES,
    Channel,
    Message,
    MissingTemplateVariable,
    Template,
    TemplateError,
    TemplateId,
    check_templates,
    local_time,
    render,
)
from notification.service_layer.handlers import messages_for
from notification.service_layer.notices import NOTICES, Notice, NoticeBook

FILED = work_order_filed(
    report_id="rep-1",
    work_order_id="wo-8f3a",
    category="0501",
    category_name="私拉电线/飞线充电",
)
REJECTED = report_rejected(report_id="rep-2", reporter_id="rider-2", category="0302")
AWARDED = points_awarded(report_id="rep-1", work_order_id="wo-8f3a", balance=40)
DUE = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)  # 17:30 in Asia/Shanghai
ORDER: dict[str, Any] = {
    "report_id": "rep-1",
    "work_order_id": "wo-1",
    "category_name": "楼道杂物堆放",
}
REPORTERS = ["rider-1", "rider-2"]


def only(data: EventData) -> Message:
    [message] = messages_for(data)
    return message


def told(data: EventData) -> list[tuple[str, str]]:
    return [(m.recipient_id, m.template.value) for m in messages_for(data)]


# --- templates --------------------------------------------------------------------------------


def test_every_template_id_has_a_template() -> None:
    assert set(TEMPLATES) == set(TemplateId)


def test_every_template_is_used_by_a_notice() -> None:
    assert {notice.template for notice in NOTICES} == set(TemplateId)


def test_template_variables_are_read_from_title_and_body() -> None:
    assert TEMPLATES[TemplateId.REPORT_FILED].variables() == {
        "category_name",
        "work_order_id",
        "grid_name",
    }
    assert TEMPLATES[TemplateId.REPORT_REJECTED].variables() == {"category_name", "reason"}
    assert TEMPLATES[TemplateId.POINTS_AWARDED].variables() == {"amount", "balance"}
    assert TEMPLATES[TemplateId.ORDER_ESCALATED].variables() == {
        "level_name",
        "category_name",
        "work_order_id",
        "street",
        "reason_text",
    }


def test_a_template_naming_a_variable_its_event_does_not_provide_is_a_load_error() -> None:
    templates = {
        **TEMPLATES,
        TemplateId.REPORT_RESOLVED: Template("已处置", "处置人 {assignee_nam}"),
    }
    with pytest.raises(TemplateError) as refused:
        NoticeBook(NOTICES, templates)
    assert "template report_resolved names assignee_nam" in str(refused.value)
    assert isinstance(refused.value, ValueError)


def test_a_derived_variable_is_provided_only_to_the_notice_that_derives_it() -> None:
    claimed = Notice(WorkOrderClaimed, TemplateId.REPORT_DISPATCHED, lambda d: d.reporter_ids)
    with pytest.raises(TemplateError, match="report_dispatched names assignee_name, deadline"):
        NoticeBook([claimed])


def test_a_missing_template_is_a_load_error() -> None:
    without: dict[TemplateId, Template] = {
        k: v for k, v in TEMPLATES.items() if k is not TemplateId.REPORT_CLOSED
    }
    with pytest.raises(TemplateError, match="no template report_closed"):
        check_templates({TemplateId.REPORT_CLOSED: {"category_name"}}, without)


def test_the_shipped_templates_load() -> None:
    NoticeBook()


def test_local_time_is_asia_shanghai_to_the_minute() -> None:
    assert local_time(DUE) == "2026-11-23 17:30"


def test_render_report_filed() -> None:
    message = render(
        TemplateId.REPORT_FILED,
        recipient_id="rider-1",
        variables={
            "category_name": "井盖缺失/破损",
            "work_order_id": "wo-123",
            "grid_name": "鼓楼街道第3社区第2网格",
        },
        report_id="rep-1",
        work_order_id="wo-123",
    )
    assert message.title == "您上报的问题已立案"
    assert message.body == (
        "您上报的「井盖缺失/破损」问题已立案，工单号 wo-123，"
        "已派往鼓楼街道第3社区第2网格处理。感谢您对社区治理的支持！"
    )
    assert (message.recipient_id, message.channel, message.template) == (
        "rider-1",
        Channel.INBOX,
        TemplateId.REPORT_FILED,
    )
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-123")


def test_render_points_awarded() -> None:
    message = render(
        TemplateId.POINTS_AWARDED, recipient_id="rider-1", variables={"amount": 10, "balance": 40}
    )
    assert message.title == "+10 积分"
    assert message.body == "感谢您的随手拍上报！本次获得 +10 积分，当前积分余额 40。"


def test_extra_variables_are_ignored() -> None:
    message = render(
        TemplateId.POINTS_AWARDED,
        recipient_id="r",
        variables={"amount": 2, "balance": 2, "unused": "x"},
    )
    assert message.title == "+2 积分"


def test_a_missing_variable_is_an_error_naming_it() -> None:
    with pytest.raises(MissingTemplateVariable) as info:
        render(TemplateId.REPORT_FILED, recipient_id="r", variables={"category_name": "x"})
    assert "report_filed" in str(info.value)
    assert "grid_name" in str(info.value)
    assert "work_order_id" in str(info.value)
    assert isinstance(info.value, ValueError)


# --- what the reporters hear ------------------------------------------------------------------


def test_work_order_filed_tells_the_reporter_it_was_filed() -> None:
    message = only(FILED)
    assert message.template is TemplateId.REPORT_FILED
    assert message.recipient_id == "rider-1"
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-8f3a")
    assert "私拉电线/飞线充电" in message.body
    assert "wo-8f3a" in message.body
    assert "鼓楼街道第1社区第1网格" in message.body


def test_report_rejected_tells_the_reporter_why() -> None:
    message = only(REJECTED)
    assert message.template is TemplateId.REPORT_REJECTED
    assert message.recipient_id == "rider-2"
    assert message.report_id == "rep-2"
    assert message.work_order_id is None
    # the category code is turned into its name from the catalogue
    assert message.body.startswith("您上报的「建筑/装修垃圾、渣土乱倒」问题未予立案：")
    assert message.body.endswith("请确认定位后重新上报")


def test_report_rejected_with_an_unknown_category_shows_the_code() -> None:
    unknown = REJECTED.model_copy(update={"category": "0000"})
    assert "「0000」" in only(unknown).body


def test_points_awarded_tells_the_rider_amount_and_balance() -> None:
    message = only(AWARDED)
    assert message.template is TemplateId.POINTS_AWARDED
    assert message.recipient_id == "rider-1"
    assert message.title == "+10 积分"
    assert "当前积分余额 40" in message.body
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-8f3a")


def test_a_dispatch_tells_every_reporter_who_handles_it_and_by_when() -> None:
    dispatched = builders.work_order_dispatched(
        reporter_ids=REPORTERS, assignee_name="张网格", handle_due=DUE, **ORDER
    )
    reporters = [m for m in messages_for(dispatched) if m.template is TemplateId.REPORT_DISPATCHED]
    assert [m.recipient_id for m in reporters] == REPORTERS
    assert reporters[0].title == "您上报的问题已派遣处理"
    assert reporters[0].body == (
        "您上报的「楼道杂物堆放」问题（工单号 wo-1）已派遣至 张网格 处理，"
        "处置时限 2026-11-23 17:30。"
    )
    # the first reporter filed the report; a merged reporter's own report is not named
    assert [m.report_id for m in reporters] == ["rep-1", None]
    assert {m.work_order_id for m in reporters} == {"wo-1"}


@pytest.mark.parametrize(
    ("data", "template", "words"),
    [
        (
            builders.work_order_resolved(reporter_ids=REPORTERS, **ORDER),
            "report_resolved",
            "已处置完毕",
        ),
        (
            builders.work_order_closed(reporter_ids=REPORTERS, **ORDER),
            "report_closed",
            "已结案，请评价",
        ),
        (builders.work_order_rework(reporter_ids=REPORTERS, **ORDER), "report_rework", "返工"),
        (
            builders.work_order_reopened(reporter_ids=REPORTERS, reason="又堆上了", **ORDER),
            "report_reopened",
            "已发回重办：又堆上了",
        ),
        (
            builders.work_order_voided(reporter_ids=REPORTERS, reason="虚假上报", **ORDER),
            "report_voided",
            "已作废：虚假上报",
        ),
    ],
)
def test_each_step_tells_every_reporter(data: EventData, template: str, words: str) -> None:
    reporters = [m for m in messages_for(data) if m.template.value == template]
    assert [m.recipient_id for m in reporters] == REPORTERS
    assert all(words in m.body for m in reporters)


def test_a_merge_tells_the_merged_reporter_only() -> None:
    merged = builders.work_order_merged(
        reporter_ids=REPORTERS, merged_report_id="rep-2", merged_reporter_id="rider-2", **ORDER
    )
    message = only(merged)
    assert (message.recipient_id, message.template) == ("rider-2", TemplateId.REPORT_MERGED)
    assert "与已受理的工单合并处理" in message.body
    assert (message.report_id, message.work_order_id) == ("rep-2", "wo-1")


def test_a_reporter_named_twice_hears_once() -> None:
    closed = builders.work_order_closed(reporter_ids=["rider-1", "rider-1", ""], **ORDER)
    assert told(closed) == [("rider-1", "report_closed")]


# --- what staff hear --------------------------------------------------------------------------


def test_the_assignee_hears_of_a_new_order_with_both_deadlines() -> None:
    dispatched = builders.work_order_dispatched(
        assignee_id="gw-7",
        claim_due=DUE,
        handle_due=DUE.replace(hour=12),
        street="鼓楼街道",
        **ORDER,
    )
    assert told(dispatched) == [("rider-1", "report_dispatched"), ("gw-7", "order_assigned")]
    assigned = messages_for(dispatched)[1]
    assert assigned.title == "新工单：楼道杂物堆放"
    assert assigned.body == (
        "工单 wo-1（楼道杂物堆放，鼓楼街道）已派给您，请于 2026-11-23 17:30 前签收，"
        "2026-11-23 20:30 前处置完毕。"
    )


def test_a_redispatch_tells_the_new_assignee_it_was_reassigned() -> None:
    again = builders.work_order_dispatched(assignee_id="dept-9", redispatch=True, **ORDER)
    assert told(again) == [("rider-1", "report_dispatched"), ("dept-9", "order_reassigned")]
    assert "改派给您" in messages_for(again)[1].body


def test_rework_tells_the_reporters_and_the_assignee() -> None:
    rework = builders.work_order_rework(
        assignee_id="gw-7", note="仍有杂物", handle_due=DUE, **ORDER
    )
    assert told(rework) == [("rider-1", "report_rework"), ("gw-7", "order_rework")]
    assert messages_for(rework)[1].body.endswith(
        "请返工处置：仍有杂物。新的处置时限 2026-11-23 17:30。"
    )


def test_the_warning_tells_the_assignee_only() -> None:
    warning = builders.work_order_sla_warning(assignee_id="gw-7", handle_due=DUE, **ORDER)
    assert told(warning) == [("gw-7", "order_sla_warning")]
    assert "2026-11-23 17:30" in only(warning).body
    assert told(builders.work_order_sla_warning(assignee_id=None, **ORDER)) == []


def test_a_review_tells_the_supervisors_and_not_the_reporters() -> None:
    review = builders.work_order_review_requested(supervisor_ids=["sup-1", "sup-2"], **ORDER)
    assert told(review) == [
        ("sup-1", "order_review_requested"),
        ("sup-2", "order_review_requested"),
    ]


def test_overdue_tells_the_supervisors() -> None:
    overdue = builders.work_order_overdue(supervisor_ids=["sup-1"], handle_due=DUE, **ORDER)
    assert told(overdue) == [("sup-1", "order_overdue")]
    assert "已超过处置时限 2026-11-23 17:30" in only(overdue).body


@pytest.mark.parametrize(
    ("level", "reason", "title", "words"),
    [
        (
            1,
            EscalationReason.OVERDUE,
            "街道级督办：楼道杂物堆放",
            "已提级至街道督办（超过处置时限未处置完毕）",
        ),
        (
            2,
            EscalationReason.TROUBLED,
            "区级督办：楼道杂物堆放",
            "已提级至区督办（多次返工、回退或发回重办）",
        ),
    ],
)
def test_an_escalation_tells_the_supervisors_the_level_in_words(
    level: int, reason: EscalationReason, title: str, words: str
) -> None:
    escalated = builders.work_order_escalated(
        level=level, reason=reason, supervisor_ids=["sup-d"], **ORDER
    )
    message = only(escalated)
    assert (message.recipient_id, message.title) == ("sup-d", title)
    assert words in message.body


@pytest.mark.parametrize(
    "data",
    [
        report_submitted(report_id="rep-1"),
        notification_delivered(report_id=None),
        builders.work_order_claimed(),
        builders.work_order_verified(),
        builders.work_order_returned(),
        builders.work_order_rated(),
        builders.report_rated(),
        builders.report_reopen_requested(),
        builders.district_catalogue_published(),
    ],
)
def test_other_events_tell_nobody_anything(data: EventData) -> None:
    assert messages_for(data) == []
