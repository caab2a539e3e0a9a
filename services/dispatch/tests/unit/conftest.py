"""Fixtures for dispatch's service-layer tests: a fake database (in memory), a registry with
both test districts loaded into it, and the triage handler of one process."""

from __future__ import annotations

import pytest

from dispatch.service_layer.districts import DistrictRegistry
from gridloop_tools.testing.dispatch import FakeDispatchDatabase, Triage, served_districts


@pytest.fixture
def database() -> FakeDispatchDatabase:
    return FakeDispatchDatabase()


@pytest.fixture
async def registry(database: FakeDispatchDatabase) -> DistrictRegistry:
    """370812 and 370811 loaded whole (grids, categories, roster, calendar)."""
    return await served_districts(database)


@pytest.fixture
def triage(database: FakeDispatchDatabase, registry: DistrictRegistry) -> Triage:
    return Triage(database, registry)
