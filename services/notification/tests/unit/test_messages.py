"""zh-CN templates, their variables, and which event tells the reporter what."""

from __future__ import annotations

import pytest

from common.contracts.base import EventData
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
    MissingTemplateVariable,
    TemplateId,
    render,
)
from notification.service_layer.handlers import message_for

FILED = work_order_filed(
    report_id="rep-1",
    work_order_id="wo-8f3a",
    category="0501",
    category_name="私拉电线/飞线充电",
)
REJECTED = report_rejected(report_id="rep-2", reporter_id="rider-2", category="0302")
AWARDED = points_awarded(report_id="rep-1", work_order_id="wo-8f3a", balance=40)


# --- templates --------------------------------------------------------------------------------


def test_every_template_id_has_a_template() -> None:
    assert set(TEMPLATES) == set(TemplateId)


def test_template_variables_are_read_from_title_and_body() -> None:
    assert TEMPLATES[TemplateId.REPORT_FILED].variables() == {
        "category_name",
        "work_order_id",
        "grid_name",
    }
    assert TEMPLATES[TemplateId.REPORT_REJECTED].variables() == {"category_name", "reason"}
    assert TEMPLATES[TemplateId.POINTS_AWARDED].variables() == {"amount", "balance"}


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


def test_render_report_rejected() -> None:
    message = render(
        TemplateId.REPORT_REJECTED,
        recipient_id="rider-2",
        variables={"category_name": "暴露垃圾", "reason": "上报位置不在本区服务范围内"},
    )
    assert message.title == "您上报的问题未予立案"
    assert message.body == "您上报的「暴露垃圾」问题未予立案：上报位置不在本区服务范围内"
    assert message.report_id is None and message.work_order_id is None


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


# --- which event says what --------------------------------------------------------------------


def test_work_order_filed_tells_the_reporter_it_was_filed() -> None:
    message = message_for(FILED)
    assert message is not None
    assert message.template is TemplateId.REPORT_FILED
    assert message.recipient_id == "rider-1"
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-8f3a")
    assert "私拉电线/飞线充电" in message.body
    assert "wo-8f3a" in message.body
    assert "鼓楼街道第1社区第1网格" in message.body


def test_report_rejected_tells_the_reporter_why() -> None:
    message = message_for(REJECTED)
    assert message is not None
    assert message.template is TemplateId.REPORT_REJECTED
    assert message.recipient_id == "rider-2"
    assert message.report_id == "rep-2"
    assert message.work_order_id is None
    # the category code is turned into its name from the catalogue
    assert message.body.startswith("您上报的「建筑/装修垃圾、渣土乱倒」问题未予立案：")
    assert message.body.endswith("请确认定位后重新上报")


def test_report_rejected_with_an_unknown_category_shows_the_code() -> None:
    unknown = REJECTED.model_copy(update={"category": "0000"})
    message = message_for(unknown)
    assert message is not None
    assert "「0000」" in message.body


def test_points_awarded_tells_the_rider_amount_and_balance() -> None:
    message = message_for(AWARDED)
    assert message is not None
    assert message.template is TemplateId.POINTS_AWARDED
    assert message.recipient_id == "rider-1"
    assert message.title == "+10 积分"
    assert "当前积分余额 40" in message.body
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-8f3a")


@pytest.mark.parametrize(
    "data", [report_submitted(report_id="rep-1"), notification_delivered(report_id=None)]
)
def test_other_events_tell_nobody_anything(data: EventData) -> None:
    assert message_for(data) is None
