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
    "gridloop.notification.failed": builders.notification_failed,
    "gridloop.workorder.review_requested": builders.work_order_review_requested,
    "gridloop.workorder.dispatched": builders.work_order_dispatched,
    "gridloop.workorder.claimed": builders.work_order_claimed,
    "gridloop.workorder.resolved": builders.work_order_resolved,
    "gridloop.workorder.verified": builders.work_order_verified,
    "gridloop.workorder.rework": builders.work_order_rework,
    "gridloop.workorder.returned": builders.work_order_returned,
    "gridloop.workorder.closed": builders.work_order_closed,
    "gridloop.workorder.reopened": builders.work_order_reopened,
    "gridloop.workorder.voided": builders.work_order_voided,
    "gridloop.workorder.rated": builders.work_order_rated,
    "gridloop.workorder.merged": builders.work_order_merged,
    "gridloop.workorder.sla_warning": builders.work_order_sla_warning,
    "gridloop.workorder.overdue": builders.work_order_overdue,
    "gridloop.workorder.escalated": builders.work_order_escalated,
    "gridloop.report.rated": builders.report_rated,
    "gridloop.report.reopen_requested": builders.report_reopen_requested,
    "gridloop.report.withdrawn": builders.report_withdrawn,
    "gridloop.district.catalogue_published": builders.district_catalogue_published,
    "gridloop.points.capped": builders.points_capped,
    "gridloop.points.reversed": builders.points_reversed,
    "gridloop.redemption.reserved": builders.redemption_reserved,
    "gridloop.redemption.fulfilled": builders.redemption_fulfilled,
    "gridloop.redemption.cancelled": builders.redemption_cancelled,
    "gridloop.redemption.expired": builders.redemption_expired,
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


@pytest.mark.parametrize(
    ("data", "subject"),
    [
        (builders.work_order_claimed(report_id="rep-7"), "wo-rep-7"),
        (builders.work_order_merged(work_order_id="wo-9"), "wo-9"),
        (builders.report_rated(report_id="rep-7"), "rep-7"),
        (builders.report_reopen_requested(report_id="rep-7"), "rep-7"),
        (builders.report_withdrawn(report_id="rep-7"), "rep-7"),
        (builders.district_catalogue_published(district="370811"), "370811"),
        (builders.work_order_filed(report_id="rep-7"), "wo-rep-7"),
        (builders.points_awarded(rider_id="rider-7"), "rider-7"),
    ],
)
def test_a_keyed_event_is_keyed_by_its_aggregate_whatever_its_type(
    data: EventData, subject: str
) -> None:
    event = builders.keyed_event(data, sequence=4)
    assert (event.subject, event.type, event.sequence) == (subject, data.event_type, 4)
    assert type(data).model_validate(event.data) == data


def test_a_builder_refuses_a_field_its_model_lacks() -> None:
    """The event models ignore unknown fields; a builder must not let a typo pass."""
    with pytest.raises(TypeError, match="WorkOrderDispatched has no field asignee_id"):
        builders.work_order_dispatched(asignee_id="gw-2")


def test_order_events_follow_the_report() -> None:
    merged = builders.work_order_merged(report_id="rep-7", work_order_id=None)
    assert (merged.work_order_id, merged.report_id) == ("wo-rep-7", "rep-7")
    assert builders.work_order_closed(report_id="rep-7").report_ids == ["rep-7"]
    assert builders.report_rated(report_id="rep-7").work_order_id == "wo-rep-7"


def test_a_catalogue_is_sequenced_by_its_revision() -> None:
    catalogue = builders.district_catalogue_published(revision=3)
    assert builders.keyed_event(catalogue).sequence == 3
    assert len(catalogue.categories) == 29
    assert all(category.active for category in catalogue.categories)


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
