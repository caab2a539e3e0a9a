"""The intake a district sees besides plain JSON reports, toured once per run after the
riders' reports: a report with a photo, the same rider tapping "submit" twice on one problem,
a report withdrawn at once, and a partner system filing and reading back a request through
Open311 GeoReport v2 with an API key it is issued for the tour (revoked after).

The tour's riders are its own (``sim-intake-<district>-<seed>``), so the run's points and
inbox figures stay those of the planned reports, and repeated runs stay within a rider's
limits."""

from __future__ import annotations

import io
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
from PIL import Image

from common.tokens import issue_token
from gridloop_tools.cli.simulate.geometry import GridGeometry, random_point_in

__all__ = ["IntakeTally", "tour_intake"]

PHOTO_CATEGORY = "0301"
WITHDRAWN_CATEGORY = "0101"
OPEN311_CATEGORY = "0601"
METRES_PER_DEGREE = 111_195.0


@dataclass
class IntakeTally:
    photos_uploaded: int = 0
    reports_with_photos: int = 0
    duplicates_answered: int = 0
    withdrawn: int = 0
    withdrawals_too_late: int = 0
    """Withdrawals refused with 409 because dispatch had accepted the report first."""
    open311_filed: int = 0
    open311_read_back: int = 0
    problems: list[str] = field(default_factory=list)

    def expect(self, response: httpx.Response, statuses: set[int], what: str) -> bool:
        if response.status_code in statuses:
            return True
        self.problems.append(f"{what}: HTTP {response.status_code} {response.text[:200]}")
        return False


def photo_bytes(rng: random.Random) -> bytes:
    """A small JPEG of one random colour (a new picture each time, so it is stored anew)."""
    colour = tuple(rng.randrange(256) for _ in range(3))
    buffer = io.BytesIO()
    Image.new("RGB", (96, 64), colour).save(buffer, format="JPEG")
    return buffer.getvalue()


class _Tour:
    def __init__(
        self,
        client: httpx.AsyncClient,
        reporting_url: str,
        jwt_secret: str,
        district: str,
        seed: int,
        tally: IntakeTally,
    ) -> None:
        self.client = client
        self.base = reporting_url.rstrip("/")
        self.district = district
        self.rng = random.Random(seed)
        self.tally = tally
        rider = issue_token(
            jwt_secret, role="rider", subject=f"sim-intake-{district}-{seed}", district=district
        )
        admin = issue_token(
            jwt_secret, role="admin", subject=f"sim-admin-{district}", district=district
        )
        self.rider = {"Authorization": f"Bearer {rider}"}
        self.admin = {"Authorization": f"Bearer {admin}"}

    async def post_report(self, body: dict[str, Any]) -> httpx.Response:
        headers = {**self.rider, "Idempotency-Key": str(uuid.uuid4())}
        return await self.client.post(f"{self.base}/v1/reports", json=body, headers=headers)

    async def photo_then_twice(self, lat: float, lon: float) -> None:
        """A photo uploaded and reported with; the same report sent again is answered with
        the first."""
        upload = await self.client.post(
            f"{self.base}/v1/photos",
            files={"file": ("scene.jpg", photo_bytes(self.rng), "image/jpeg")},
            headers=self.rider,
        )
        if not self.tally.expect(upload, {200, 201}, "photo upload"):
            return
        self.tally.photos_uploaded += 1
        body = {
            "category": PHOTO_CATEGORY,
            "lat": lat,
            "lon": lon,
            "text": "路边暴露垃圾，附现场照片",
            "photo_ids": [upload.json()["id"]],
        }
        first = await self.post_report(body)
        if not self.tally.expect(first, {201}, "report with a photo"):
            return
        if [p["id"] for p in first.json().get("photos", [])] == body["photo_ids"]:
            self.tally.reports_with_photos += 1
        else:
            self.tally.problems.append("the report's answer does not show its photo")
        again = await self.post_report(body)
        if self.tally.expect(again, {200}, "the same report again"):
            if again.headers.get("Duplicate-Of") == first.json()["id"]:
                self.tally.duplicates_answered += 1
            else:
                self.tally.problems.append("the repeated report was not answered with the first")

    async def withdrawn_at_once(self, lat: float, lon: float) -> None:
        body = {"category": WITHDRAWN_CATEGORY, "lat": lat, "lon": lon, "text": "楼道杂物（误报）"}
        report = await self.post_report(body)
        if not self.tally.expect(report, {201}, "report to withdraw"):
            return
        answer = await self.client.post(
            f"{self.base}/v1/reports/{report.json()['id']}/withdraw",
            json={"reason": "拍错了位置"},
            headers=self.rider,
        )
        if answer.status_code == 409:
            self.tally.withdrawals_too_late += 1
        elif self.tally.expect(answer, {200}, "withdrawal"):
            self.tally.withdrawn += 1

    async def open311_round_trip(self, lat: float, lon: float) -> None:
        keys = f"{self.base}/v1/admin/open311/keys"
        issued = await self.client.post(
            keys, json={"partner": "模拟 12345 热线", "district": self.district}, headers=self.admin
        )
        if not self.tally.expect(issued, {201}, "Open311 key"):
            return
        key = issued.json()
        try:
            created = await self.client.post(
                f"{self.base}/open311/v2/requests.json",
                data={
                    "api_key": key["api_key"],
                    "jurisdiction_id": self.district,
                    "service_code": OPEN311_CATEGORY,
                    "lat": str(lat),
                    "long": str(lon),
                    "description": "市民来电：路面井盖缺失",
                },
            )
            if not self.tally.expect(created, {200, 201}, "Open311 request"):
                return
            self.tally.open311_filed += 1
            request_id = created.json()[0]["service_request_id"]
            read = await self.client.get(
                f"{self.base}/open311/v2/requests/{request_id}.json",
                params={"jurisdiction_id": self.district},
            )
            if self.tally.expect(read, {200}, "Open311 request read back"):
                self.tally.open311_read_back += 1
        finally:
            await self.client.delete(f"{keys}/{key['id']}", headers=self.admin)


def _apart(lat: float, lon: float, metres: float) -> tuple[float, float]:
    return lat + metres / METRES_PER_DEGREE, lon


async def tour_intake(
    client: httpx.AsyncClient,
    *,
    reporting_url: str,
    jwt_secret: str,
    grids: dict[str, Sequence[GridGeometry]],
    seed: int,
) -> IntakeTally:
    """One tour per district; transport errors end up in the tally's problems."""
    tally = IntakeTally()
    for district, district_grids in grids.items():
        tour = _Tour(client, reporting_url, jwt_secret, district, seed, tally)
        lon, lat = random_point_in(tour.rng.choice(list(district_grids)), tour.rng)
        try:
            await tour.photo_then_twice(lat, lon)
            await tour.withdrawn_at_once(*_apart(lat, lon, 80))
            await tour.open311_round_trip(*_apart(lat, lon, 160))
        except httpx.HTTPError as error:
            tally.problems.append(f"{district}: {type(error).__name__}: {error}")
    return tally
