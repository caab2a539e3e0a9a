"""The gateway against a real upstream server: what the browser sends reaches the service as
sent, the answer comes back as given, and what goes wrong is said in words."""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from common.tokens import Role, verify_token
from gateway.config import GatewaySettings

from .conftest import GatewayClient


async def test_a_request_reaches_its_service_as_sent(gateway_client: GatewayClient) -> None:
    async with gateway_client() as client:
        answer = await client.post(
            "/api/reporting/v1/reports?mine=true&status=filed&status=closed",
            content=b"x" * 300_000,
            headers={
                "Authorization": "Bearer abc",
                "Idempotency-Key": "key-1",
                "Content-Type": "application/octet-stream",
            },
        )
    assert answer.status_code == 201
    echoed = answer.json()
    assert echoed["method"] == "POST"
    assert echoed["path"] == "/v1/reports"
    assert echoed["query"] == "mine=true&status=filed&status=closed"
    assert echoed["headers"]["authorization"] == "Bearer abc"
    assert echoed["headers"]["idempotency-key"] == "key-1"
    assert echoed["headers"]["x-forwarded-host"] == "gateway.test"
    assert echoed["body_length"] == 300_000
    assert answer.headers["x-upstream"] == "echo"
    assert answer.headers["location"] == "/v1/things/1"


async def test_a_services_problem_comes_back_unchanged(gateway_client: GatewayClient) -> None:
    async with gateway_client() as client:
        answer = await client.post("/api/dispatch/v1/conflict")
    assert answer.status_code == 409
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["detail"] == "no"


async def test_a_long_answer_is_streamed_whole(gateway_client: GatewayClient) -> None:
    async with gateway_client() as client:
        answer = await client.get("/api/reporting/v1/export.csv")
    assert answer.status_code == 200
    lines = answer.text.splitlines()
    assert len(lines) == 1000
    assert lines[-1] == "999,row"


async def test_a_service_that_is_down_is_a_502_in_words(gateway_client: GatewayClient) -> None:
    async with gateway_client() as client:
        answer = await client.get("/api/ledger/v1/accounts/rider-1/balance")
        metrics = (await client.get("/metrics")).text
    assert answer.status_code == 502
    assert answer.headers["content-type"] == "application/problem+json"
    assert "ledger service cannot be reached" in answer.json()["detail"]
    assert (
        'gridloop_gateway_upstream_requests_total{outcome="unreachable",service="gateway",'
        'upstream="ledger"} 1.0' in metrics
    )


async def test_a_service_too_slow_is_a_504(gateway_client: GatewayClient) -> None:
    async with gateway_client() as client:
        answer = await client.get("/api/reporting/v1/slow")
    assert answer.status_code == 504
    assert "did not answer in time" in answer.json()["detail"]


async def test_an_unknown_service_is_a_404_naming_the_known_ones(
    gateway_client: GatewayClient,
) -> None:
    async with gateway_client() as client:
        answer = await client.get("/api/payments/v1/x")
    assert answer.status_code == 404
    assert "reporting, dispatch, ledger, notification" in answer.json()["detail"]


async def test_production_has_no_development_sign_in(gateway_client: GatewayClient) -> None:
    async with gateway_client(sign_in_url="https://idp.example/login") as client:
        config = (await client.get("/api/gateway/config")).json()
        people = await client.get("/api/dev/people")
        token = await client.post("/api/dev/token", json={"subject": "x", "role": "rider"})
    assert config == {
        "environment": "production",
        "dev_sign_in": False,
        "sign_in_url": "https://idp.example/login",
        "map": {"tile_url": None, "attribution": None},
    }
    # No route of that name: the request would go to a service called "dev", and there is none.
    assert people.status_code == 404
    assert token.status_code == 404


def test_development_sign_in_cannot_be_turned_on_in_production(people_file: Path) -> None:
    with pytest.raises(ValidationError, match="does not exist in production"):
        GatewaySettings(dev_sign_in_file=people_file)


async def test_development_sign_in_mints_tokens_for_listed_people(
    gateway_client: GatewayClient, people_file: Path
) -> None:
    async with gateway_client(environment="development", dev_sign_in_file=people_file) as client:
        people = (await client.get("/api/dev/people")).json()
        worker = await client.post("/api/dev/token", json={"subject": "370811-w-001"})
        rider = await client.post(
            "/api/dev/token", json={"subject": "rider-77", "role": "rider", "district": "370811"}
        )
        stranger = await client.post("/api/dev/token", json={"subject": "370899-w-001"})
        elsewhere = await client.post(
            "/api/dev/token", json={"subject": "rider-77", "role": "rider", "district": "110101"}
        )
    assert [p["subject"] for p in people["staff"]] == ["370811-w-001"]
    secret = GatewaySettings().jwt_secret
    as_worker = verify_token(secret, worker.json()["token"])
    assert (as_worker.role, as_worker.grids) == (Role.GRID_WORKER, ("370811-01-001-1",))
    assert worker.json()["name"] == "王网格"
    as_rider = verify_token(secret, rider.json()["token"])
    assert (as_rider.subject, as_rider.role, as_rider.district) == (
        "rider-77",
        Role.RIDER,
        "370811",
    )
    assert stranger.status_code == 404
    assert "not on a demo roster" in stranger.json()["detail"]
    assert elsewhere.status_code == 422
    assert "not one of the demo districts" in elsewhere.json()["detail"]


async def test_the_front_end_is_served_compressed_and_cached_by_name(
    gateway_client: GatewayClient, built_web: Path
) -> None:
    async with gateway_client(web_dir=built_web) as client:
        page = await client.get("/", headers={"Accept-Encoding": "gzip"})
        console = await client.get("/console/")
        script = await client.get("/assets/rider-abc123.js", headers={"Accept-Encoding": "gzip"})
        missing = await client.get("/assets/gone.js")
        api = await client.get("/api/reporting/v1/anything")
    assert page.status_code == 200
    assert "随手拍" in page.text
    assert page.headers["cache-control"] == "no-cache"
    assert "网格工作台" in console.text
    assert script.headers["content-encoding"] == "gzip"
    assert script.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert int(script.headers["content-length"]) < len(gzip.compress(script.content)) + 100
    assert missing.status_code == 404
    assert api.json()["path"] == "/v1/anything"


async def test_the_service_worker_and_the_manifest_are_revalidated_and_typed(
    gateway_client: GatewayClient, built_web: Path
) -> None:
    """The rider's app starts offline through sw.js: the browser must see a new release's
    worker and manifest at once (never a year-old copy), each with a content type it accepts."""
    (built_web / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (built_web / "manifest.webmanifest").write_text('{"name": "随手拍 · gridloop"}')
    (built_web / "icons").mkdir()
    (built_web / "icons" / "icon-192.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    async with gateway_client(web_dir=built_web) as client:
        worker = await client.get("/sw.js")
        manifest = await client.get("/manifest.webmanifest")
        icon = await client.get("/icons/icon-192.png")
    assert worker.status_code == 200
    assert worker.headers["cache-control"] == "no-cache"
    assert worker.headers["content-type"].split(";")[0] in {
        "text/javascript",
        "application/javascript",
    }
    assert manifest.status_code == 200
    assert manifest.headers["cache-control"] == "no-cache"
    assert manifest.headers["content-type"].split(";")[0] == "application/manifest+json"
    assert manifest.json() == {"name": "随手拍 · gridloop"}
    assert icon.headers["content-type"] == "image/png"


def test_a_web_dir_without_a_build_is_refused_in_words(tmp_path: Path) -> None:
    with pytest.raises(ValidationError, match="holds no built front end"):
        GatewaySettings(web_dir=tmp_path)


def test_the_process_refuses_bad_settings_without_a_traceback(tmp_path: Path) -> None:
    finished = subprocess.run(
        [sys.executable, "-m", "gateway"],
        env={"GATEWAY_WEB_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert finished.returncode != 0
    assert "gateway: cannot start" in finished.stderr
    assert "holds no built front end" in finished.stderr
    assert "Traceback" not in finished.stderr
