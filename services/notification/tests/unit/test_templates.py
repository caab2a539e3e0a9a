"""The template catalogue: English fallback, district overrides read from a folder and checked
when loaded, and what the ledger's events tell the rider."""

from __future__ import annotations

from pathlib import Path

import pytest

from common.contracts.base import EventData
from common.contracts.workorder_events import VoidReason
from gridloop_tools.testing import builders
from gridloop_tools.testing.builders import DISTRICT
from notification.adapters.templates import load_catalogue
from notification.bootstrap import create_app
from notification.config import NotificationSettings
from notification.domain.messages import (
    EN_TEMPLATES,
    TEMPLATES,
    TemplateError,
    TemplateId,
    local_time,
)
from notification.service_layer.notices import NOTICES, NoticeBook

CLOSED = builders.work_order_closed(reporter_ids=["rider-1"], work_order_id="wo-1")


def write(folder: Path, district: str, text: str) -> Path:
    folder.mkdir(exist_ok=True)
    (folder / f"{district}.toml").write_text(text, encoding="utf-8")
    return folder


def test_every_template_has_an_english_fallback() -> None:
    assert set(EN_TEMPLATES) == set(TemplateId) == set(TEMPLATES)


def test_a_locale_without_templates_falls_back_to_english() -> None:
    book = NoticeBook(NOTICES, load_catalogue(None, locale="fr"))
    [message] = book.messages_for(CLOSED)
    assert message.title == "Your report was closed"


def test_a_district_override_words_that_districts_messages_only(tmp_path: Path) -> None:
    folder = write(
        tmp_path / "t",
        DISTRICT,
        '["zh-CN".report_closed]\ntitle = "已办结"\n'
        'body = "工单 {work_order_id} 已办结，请评价。"\n',
    )
    book = NoticeBook(NOTICES, load_catalogue(folder))
    [there] = book.messages_for(CLOSED, DISTRICT)
    assert (there.title, there.body) == ("已办结", "工单 wo-1 已办结，请评价。")
    [elsewhere] = book.messages_for(CLOSED, "999999")
    assert elsewhere.title == "您上报的问题已结案"
    # templates the district does not override keep the shipped words
    [points] = book.messages_for(builders.points_capped(), DISTRICT)
    assert points.title == "今日积分已达上限"


def test_an_override_naming_a_missing_variable_is_a_load_error_naming_it(
    tmp_path: Path,
) -> None:
    folder = write(
        tmp_path / "t", "350102", '[en.report_closed]\ntitle = "Closed"\nbody = "{grid_nme}"\n'
    )
    with pytest.raises(TemplateError) as refused:
        NoticeBook(NOTICES, load_catalogue(folder))
    assert "[district 350102, en] template report_closed names grid_nme" in str(refused.value)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ('[en.no_such]\ntitle = "x"\nbody = "y"\n', "[en] no template no_such"),
        ('[en.report_closed]\ntitle = "x"\n', "template report_closed needs a title and a body"),
        ("[en\n", "not TOML"),
    ],
)
def test_a_malformed_override_is_a_load_error(tmp_path: Path, text: str, words: str) -> None:
    folder = write(tmp_path / "t", "350102", text)
    with pytest.raises(TemplateError, match=words.replace("[", r"\[")):
        load_catalogue(folder)


def test_the_service_does_not_start_with_a_bad_override(tmp_path: Path) -> None:
    folder = write(tmp_path / "t", "350102", '["zh-CN".report_filed]\ntitle = "{x}"\nbody = ""\n')
    settings = NotificationSettings(
        database_url=f"sqlite+aiosqlite:///{tmp_path}/n.db", template_overrides_dir=folder
    )
    with pytest.raises(TemplateError, match="report_filed names x"):
        create_app(settings)


def test_a_missing_overrides_folder_is_a_load_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="does not exist"):
        load_catalogue(tmp_path / "nowhere")


# --- what the ledger's events tell the rider --------------------------------------------------


@pytest.mark.parametrize(
    ("data", "template", "title", "words"),
    [
        (
            builders.points_capped(report_id="rep-6"),
            "points_capped",
            "今日积分已达上限",
            "已达每日上限 50，本次 10 积分未能发放",
        ),
        (
            builders.points_reversed(report_id="rep-1"),
            "points_reversed",
            "-10 积分",
            "工单号 wo-rep-1）经核查作废（虚假上报），已扣回 10 积分，当前积分余额 0",
        ),
        (
            builders.redemption_reserved(),
            "redemption_reserved",
            "兑换成功：雨衣",
            "出示兑换码 123456 领取",
        ),
        (builders.redemption_fulfilled(), "redemption_fulfilled", "已领取：雨衣", "消耗 30 积分"),
        (
            builders.redemption_cancelled(reason="库存盘点错误"),
            "redemption_cancelled",
            "兑换已取消：雨衣",
            "已取消（库存盘点错误），30 积分已退回",
        ),
        (
            builders.redemption_expired(),
            "redemption_expired",
            "兑换已过期：雨衣",
            "已过期，30 积分已退回",
        ),
    ],
)
def test_the_rider_hears_of_points_and_gifts(
    data: EventData, template: str, title: str, words: str
) -> None:
    [message] = NoticeBook().messages_for(data)
    assert (message.recipient_id, message.template.value, message.title) == (
        "rider-1",
        template,
        title,
    )
    assert words in message.body


def test_a_reversal_names_its_report() -> None:
    [message] = NoticeBook().messages_for(builders.points_reversed(report_id="rep-1"))
    assert (message.report_id, message.work_order_id) == ("rep-1", "wo-rep-1")


def test_a_redemption_deadline_is_in_local_time() -> None:
    [message] = NoticeBook().messages_for(builders.redemption_reserved())
    expires = builders.redemption_reserved().expires_at
    assert f"请于 {local_time(expires)} 前到鼓楼驿站" in message.body


def test_a_reporter_who_withdrew_is_not_told_their_order_was_voided() -> None:
    withdrawn = builders.work_order_voided(
        reporter_ids=["rider-1"], voided_by="rider-1", reason_code=VoidReason.WITHDRAWN_BY_REPORTER
    )
    assert NoticeBook().messages_for(withdrawn) == []
    by_supervisor = builders.work_order_voided(reporter_ids=["rider-1"], voided_by="sup-1")
    assert [m.recipient_id for m in NoticeBook().messages_for(by_supervisor)] == ["rider-1"]
