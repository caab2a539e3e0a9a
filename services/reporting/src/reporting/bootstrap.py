"""Composition root of the reporting service: the only place that wires its parts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from reporting.adapters.images import prepare_image
from reporting.adapters.open311_repository import SqlOpen311UnitOfWork
from reporting.adapters.photo_store import FilesystemPhotoStore, S3PhotoStore
from reporting.adapters.tables import MESSAGING
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.config import ReportingSettings
from reporting.entrypoints.consumers import status_projection
from reporting.entrypoints.http import SubmissionMetrics, build_router
from reporting.entrypoints.http_photos import (
    PhotoMetrics,
    PhotoUploads,
    build_multipart_report_router,
    build_photo_router,
)
from reporting.entrypoints.http_withdrawal import build_withdrawal_router
from reporting.entrypoints.open311 import build_open311_admin_router, build_open311_router
from reporting.service_layer.photos import PhotoBlobStore, PhotoService

SERVICE = "reporting"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def create_app(settings: ReportingSettings | None = None) -> FastAPI:
    settings = settings or ReportingSettings()
    runtime = ServiceRuntime(SERVICE, settings, MIGRATIONS, MESSAGING)

    unit_of_work = runtime.unit_of_work_factory(SqlReportingUnitOfWork)

    runtime.add_consumer(
        status_projection(unit_of_work, runtime.publish, runtime.metrics.consumers),
        Topic.WORKORDERS,
        Topic.DISTRICTS,
        Topic.POINTS,
    )
    submitted = Counter(
        "gridloop_reports_submitted_total",
        "Reports accepted over HTTP",
        ["service"],
        registry=runtime.metrics.registry,
    )
    submitted.labels(SERVICE)
    metrics = SubmissionMetrics(
        submitted=submitted,
        limited=Counter(
            "gridloop_reports_limited_total",
            "Reports refused because the rider reached a limit (429), by window",
            ["service", "window"],
            registry=runtime.metrics.registry,
        ),
        duplicates=Counter(
            "gridloop_reports_duplicate_total",
            "Reports answered with the rider's earlier report of the same problem",
            ["service"],
            registry=runtime.metrics.registry,
        ),
    )
    for window in ("an hour", "a day"):
        metrics.limited.labels(SERVICE, window)
    metrics.duplicates.labels(SERVICE)
    reports = build_router(
        unit_of_work,
        metrics,
        settings.reopen_window,
        settings.limits_in,
        settings.capture_window,
    )
    uploads = PhotoUploads(
        unit_of_work,
        PhotoService(photo_blob_store(settings), prepare_image, settings.photo_limits),
        photo_metrics(runtime),
    )
    open311_unit_of_work = runtime.unit_of_work_factory(SqlOpen311UnitOfWork)
    open311_requests = Counter(
        "gridloop_open311_requests_total",
        "Open311 GeoReport v2 requests, by operation and outcome",
        ["service", "operation", "outcome"],
        registry=runtime.metrics.registry,
    )
    return create_service_app(
        runtime,
        title="gridloop reporting",
        description="Riders submit 随手拍 reports and follow their status; partner systems "
        "file and follow requests through Open311 GeoReport v2 at /open311/v2.",
        routers=[
            # Before the JSON route of POST /v1/reports: it takes only multipart requests.
            build_multipart_report_router(reports.submit, uploads),
            reports.router,
            build_withdrawal_router(unit_of_work),
            build_photo_router(uploads),
            build_open311_admin_router(open311_unit_of_work),
            build_open311_router(open311_unit_of_work, open311_requests),
        ],
    )


def photo_blob_store(settings: ReportingSettings) -> PhotoBlobStore:
    """An S3-compatible bucket if one is configured, else a directory."""
    if settings.photo_s3_bucket:
        return S3PhotoStore(
            settings.photo_s3_bucket,
            endpoint_url=settings.photo_s3_endpoint_url,
            region=settings.photo_s3_region,
        )
    return FilesystemPhotoStore(settings.photo_dir)


def photo_metrics(runtime: ServiceRuntime) -> PhotoMetrics:
    uploaded = Counter(
        "gridloop_photos_uploaded_total",
        "Photo uploads by outcome (stored, deduplicated, refused_type, refused_size, "
        "refused_pixels)",
        ["service", "outcome"],
        registry=runtime.metrics.registry,
    )
    for outcome in ("stored", "deduplicated", "refused_type", "refused_size", "refused_pixels"):
        uploaded.labels(SERVICE, outcome)
    bytes_stored = Counter(
        "gridloop_photo_bytes_stored_total",
        "Bytes of photos stored (new content only; thumbnails not counted)",
        ["service"],
        registry=runtime.metrics.registry,
    )
    return PhotoMetrics(uploaded, bytes_stored.labels(SERVICE))
