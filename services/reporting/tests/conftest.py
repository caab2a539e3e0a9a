"""Fixtures for the reporting service tests: the real app on a real SQLite file and its real
consumer, from :mod:`gridloop_tools.testing.service_fixtures`."""

from __future__ import annotations

import pytest

from common.contracts.topics import Topic
from gridloop_tools.testing.service_fixtures import *  # noqa: F403 - the shared fixtures
from gridloop_tools.testing.service_fixtures import ServiceUnderTest
from reporting import bootstrap
from reporting.config import ReportingSettings


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(bootstrap, ReportingSettings, Topic.WORKORDERS)
