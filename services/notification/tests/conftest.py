"""Fixtures for the notification service tests: the real app on a real SQLite file and its real
consumer, from :mod:`gridloop_tools.testing.service_fixtures`."""

from __future__ import annotations

import pytest

from common.contracts.topics import Topic
from gridloop_tools.testing.service_fixtures import *  # noqa: F403 - the shared fixtures
from gridloop_tools.testing.service_fixtures import ServiceUnderTest
from notification import bootstrap
from notification.config import NotificationSettings


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(bootstrap, NotificationSettings, Topic.WORKORDERS)
