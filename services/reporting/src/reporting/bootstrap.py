"""Composition root of the reporting service: the only place that wires its parts."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from prometheus_client import Counter

from common.contracts.topics import Topic
from common.service.http_app import create_service_app
from common.service.runtime import ServiceRuntime
from reporting.adapters.images import prepare_image
from reporting.adapters.photo_store import FilesystemPhotoStore, S3PhotoStore
from reporting.adapters.tables import MESSAGING
from reporting.adapters.unit_of_work import SqlReportingUnitOfWork
from reporting.config import ReportingSettings
from reporting.entrypoints.consumers import status_projection
from reporting.entrypoints.http import build_router
from reporting.entrypoints.http_photos import (
    PhotoMetrics,
    PhotoUploads,
    build_multipart_report_router,
    build_photo_router,
    submit_endpoint,
)
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
    )
    submitted = Counter(
        "gridloop_reports_submitted_total",
        "Reports accepted over HTTP",
        ["service"],
        registry=runtime.metrics.registry,
    )
    submitted.labels(SERVICE)
    reports = build_router(unit_of_work, submitted, settings.reopen_window, settings.capture_window)
    uploads = PhotoUploads(
        unit_of_work,
        PhotoService(photo_blob_store(settings), prepare_image, settings.photo_limits),
        photo_metrics(runtime),
    )
    return create_service_app(
        runtime,
        title="gridloop reporting",
        description="Riders submit 随手拍 reports and follow their status.",
        routers=[
            # Before the JSON route of POST /v1/reports: it takes only multipart requests.
            build_multipart_report_router(submit_endpoint(reports), uploads),
            reports,
            build_photo_router(uploads),
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
        ["outcome"],
        registry=runtime.metrics.registry,
    )
    for outcome in ("stored", "deduplicated", "refused_type", "refused_size", "refused_pixels"):
        uploaded.labels(outcome)
    bytes_stored = Counter(
        "gridloop_photo_bytes_stored_total",
        "Bytes of photos stored (new content only; thumbnails not counted)",
        registry=runtime.metrics.registry,
    )
    return PhotoMetrics(uploaded, bytes_stored)
