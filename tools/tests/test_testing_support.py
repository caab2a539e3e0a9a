"""The shared test support: event builders and the service contract suite's guard."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from common.contracts.base import EventData
from common.contracts.envelope import CloudEvent
from common.contracts.events import EVENT_MODELS
from common.contracts.topics import Topic
from gridloop_tools.testing import builders
from gridloop_tools.testing.paged_list_suite import PagedListSuite
from gridloop_tools.testing.service_suite import ServiceContractSuite

BUILDERS: dict[str, Callable[[], EventData]] = {
    "gridloop.report.submitted": builders.report_submitted,
    "gridloop.workorder.filed": builders.work_order_filed,
    "gridloop.report.rejected": builders.report_rejected,
    "gridloop.points.awarded": builders.points_awarded,
    "gridloop.notification.delivered": builders.notification_delivered,
}


def test_every_event_model_has_a_builder() -> None:
    assert set(BUILDERS) == {model.event_type for model in EVENT_MODELS}
    for event_type, build in BUILDERS.items():
        assert build().event_type == event_type


@pytest.mark.parametrize(
    ("data", "subject"),
    [
        (builders.report_submitted(report_id="rep-7"), "rep-7"),
        (builders.report_rejected(report_id="rep-7"), "rep-7"),
        (builders.work_order_filed(report_id="rep-7"), "wo-rep-7"),
        (builders.points_awarded(rider_id="rider-7"), "rider-7"),
        (builders.notification_delivered(recipient_id="rider-7"), "rider-7"),
    ],
)
def test_an_event_is_keyed_by_its_aggregate(data: EventData, subject: str) -> None:
    event = builders.as_event(data)
    assert event.subject == subject
    assert event.type == data.event_type
    assert type(data).model_validate(event.data) == data
    assert (event.sequence, event.district) == (1, builders.DISTRICT)


def test_derived_ids_follow_the_report() -> None:
    assert builders.work_order_filed(report_id="rep-7").work_order_id == "wo-rep-7"
    awarded = builders.points_awarded(report_id="rep-7")
    assert (awarded.transfer_id, awarded.work_order_id) == ("award:rep-7", "wo-rep-7")


def test_as_event_takes_subject_sequence_and_id() -> None:
    event = builders.as_event(builders.report_submitted(), subject="s", sequence=3, id_="e-1")
    assert (event.subject, event.sequence, event.id) == ("s", 3, "e-1")
    assert CloudEvent.from_bytes(event.to_bytes()) == event


def test_a_raw_event_carries_its_data_unchecked() -> None:
    event = builders.raw_event("gridloop.report.submitted", {"lat": "north"}, subject="x")
    assert event.data == {"lat": "north"}


def test_a_suite_without_its_values_and_hooks_is_refused() -> None:
    with pytest.raises(TypeError) as refused:

        class Incomplete(ServiceContractSuite):
            protected_path = "/v1/x"
            consumed_topic = Topic.REPORTS

    for name in ("invalid_field", "valid_event", "invalid_event"):
        assert name in str(refused.value)


def test_a_paged_list_suite_without_its_list_is_refused() -> None:
    with pytest.raises(TypeError) as refused:

        class Incomplete(PagedListSuite):
            pass

    for name in ("paged_path", "add_list_items"):
        assert name in str(refused.value)
