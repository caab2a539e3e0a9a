"""Fixtures for the reporting service tests: the real app on a real SQLite file and its real
consumer, from :mod:`gridloop_tools.testing.service_fixtures` — with the home district of the
test tokens (370812) served: its category catalogue stored as dispatch publishes it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
from fastapi import FastAPI

from common.auth import issue_token
from common.contracts.topics import Topic
from gridloop_tools.testing.builders import DISTRICT, district_catalogue_published
from gridloop_tools.testing.service_fixtures import *  # noqa: F403 - the shared fixtures
from gridloop_tools.testing.service_fixtures import ServiceUnderTest
from reporting import bootstrap
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.config import ReportingSettings
from reporting.service_layer.handlers import catalogue_of

CoveringAuth = Callable[..., dict[str, str]]


@pytest.fixture(autouse=True)
def _photos_in_the_test_directory(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Photos uploaded by a test are kept under its own temporary directory."""
    photo_dir = tmp_path / "photos"
    monkeypatch.setenv("REPORTING_PHOTO_DIR", str(photo_dir))
    for name in ("REPORTING_PHOTO_S3_BUCKET", "REPORTING_PHOTO_S3_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    return photo_dir


@pytest.fixture(scope="session")
def service_under_test() -> ServiceUnderTest:
    return ServiceUnderTest(bootstrap, ReportingSettings, Topic.WORKORDERS)


async def serve_district(app: FastAPI, district: str = DISTRICT) -> None:
    """Store ``district``'s catalogue (the default categories, all active) in ``app``'s
    database, as the consumer would on dispatch's first publication."""
    unit_of_work = app.state.runtime.unit_of_work_factory(SqlReportingUnitOfWork)
    async with unit_of_work() as uow:
        await uow.catalogues.put(catalogue_of(district_catalogue_published(district=district)))
        await uow.commit()


@pytest.fixture
def serve() -> Callable[[FastAPI, str], Awaitable[None]]:
    """:func:`serve_district`, for tests that build their own app."""
    return serve_district


@pytest.fixture(name="app")
async def served_app(build_app: Callable[[], FastAPI]) -> AsyncIterator[FastAPI]:
    application = build_app()
    await serve_district(application)
    yield application
    await application.state.runtime.engine.dispose()


@pytest.fixture
def auth_covering(app: FastAPI) -> CoveringAuth:
    """``auth_covering("370811", subject="r-1")`` -> the Authorization header of a rider
    whose token covers further districts besides the home district 370812."""

    def make(*districts: str, subject: str = "rider-1", district: str = DISTRICT) -> dict[str, str]:
        token = issue_token(
            app.state.jwt_secret,
            role="rider",
            subject=subject,
            district=district,
            districts=districts,
        )
        return {"Authorization": f"Bearer {token}"}

    return make
