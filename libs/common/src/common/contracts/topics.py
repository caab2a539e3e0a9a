from enum import StrEnum


class Topic(StrEnum):
    """Kafka topics, one per owning service and aggregate; dots only, versioned."""

    REPORTS = "gridloop.reports.v1"
    WORKORDERS = "gridloop.workorders.v1"
    POINTS = "gridloop.points.v1"
    NOTIFICATIONS = "gridloop.notifications.v1"
    DISTRICTS = "gridloop.districts.v1"
    DEADLETTER = "gridloop.deadletter.v1"
