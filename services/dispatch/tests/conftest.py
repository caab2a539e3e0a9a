"""Fixtures for the dispatch service tests: the real app on a real SQLite file and its real
consumer, from :mod:`common.service_testing`."""

from __future__ import annotations

import pytest

from common.contracts.topics import Topic
from common.service_testing import *  # noqa: F403 - the shared fixtures
from common.service_testing import ServiceUnderTest
from dispatch import bootstrap
from dispatch.config import DispatchSettings


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(bootstrap, DispatchSettings, Topic.REPORTS)
