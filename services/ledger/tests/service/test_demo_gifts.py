"""Gift catalogues loaded at start from ``LEDGER_DISTRICTS_DIR`` (the shipped synthetic demo
catalogues, or a folder of one's own), through the real app on a real SQLite database."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from gridloop_tools.testing.builders import keyed_event, work_order_filed
from gridloop_tools.testing.service_fixtures import Auth, Deliver, serving
from ledger import __main__ as ledger_main
from ledger.entrypoints.gift_files import GIFTS_FILE, GiftFileError, demo_districts

DEMO_DISTRICTS = ("370811", "370812")


def demo_document(district: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(
        (demo_districts() / district / GIFTS_FILE).read_text(encoding="utf-8")
    )
    return document


async def catalogue(http: httpx.AsyncClient, auth: Auth, district: str) -> list[dict[str, Any]]:
    response = await http.get(f"/v1/districts/{district}/gifts", headers=auth(district=district))
    assert response.status_code == 200, response.text
    gifts: list[dict[str, Any]] = response.json()["gifts"]
    return gifts


def test_the_demo_catalogues_are_labelled_synthetic() -> None:
    for district in DEMO_DISTRICTS:
        document = demo_document(district)
        assert document["synthetic"] is True and "SYNTHETIC" in document["note"]
        assert 4 <= len(document["gifts"]) <= 6
        assert all(20 <= gift["cost"] <= 200 for gift in document["gifts"])
        kinds = {gift["collection_point_kind"] for gift in document["gifts"]}
        assert kinds == {"station", "merchant"}


async def test_the_demo_catalogues_load_once_and_a_later_start_changes_nothing(
    monkeypatch: pytest.MonkeyPatch,
    build_app: Callable[[], FastAPI],
    auth: Auth,
    deliver: Deliver,
    app: FastAPI,
) -> None:
    assert await app.state.load_gift_catalogues() is None  # no LEDGER_DISTRICTS_DIR: nothing
    async with serving(app) as http:
        assert await catalogue(http, auth, "370812") == []

    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", "demo")
    first = build_app()
    await first.state.load_gift_catalogues()
    async with serving(first) as http:
        for district in DEMO_DISTRICTS:
            gifts = await catalogue(http, auth, district)
            expected = demo_document(district)["gifts"]
            assert sorted(g["id"] for g in gifts) == sorted(g["id"] for g in expected)
            assert all(g["district"] == district for g in gifts)
        # The rider redeems the cheapest gift, and an admin restocks the helmets.
        for n in range(3):
            data = work_order_filed(report_id=f"rep-{n}", reporter_id="rider-1")
            await deliver(keyed_event(data))
        redeemed = await http.post(
            "/v1/redemptions",
            json={"gift_id": "370812-phone-holder"},
            headers={**auth(subject="rider-1"), "Idempotency-Key": "k-1"},
        )
        assert redeemed.status_code == 201, redeemed.text
        helmet = next(
            g for g in await catalogue(http, auth, "370812") if g["id"].endswith("helmet")
        )
        changed = {
            k: v for k, v in helmet.items() if k not in {"id", "district", "collection_point"}
        }
        response = await http.put(
            f"/v1/districts/370812/gifts/{helmet['id']}",
            json={**changed, "stock": 7},
            headers=auth(role="admin"),
        )
        assert response.status_code == 200, response.text
        before = await catalogue(http, auth, "370812")

    # A restart, or a replica starting later: the districts have gifts, nothing is loaded.
    later = build_app()
    await later.state.load_gift_catalogues()
    await later.state.load_gift_catalogues()
    async with serving(later) as http:
        after = await catalogue(http, auth, "370812")
        assert after == before
        stock = {g["id"]: g["stock"] for g in after}
        assert stock["370812-phone-holder"] == demo_document("370812")["gifts"][0]["stock"] - 1
        assert stock["370812-helmet"] == 7
        assert len(await catalogue(http, auth, "370811")) == len(demo_document("370811")["gifts"])


def write_catalogue(root: Path, district: str, document: Any) -> Path:
    folder = root / district
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / GIFTS_FILE
    text = document if isinstance(document, str) else json.dumps(document, ensure_ascii=False)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("change", "needles"),
    [
        (lambda g: g.update(cost=-5), ["gift '370812-raincoat'", "cost"]),
        (lambda g: g.pop("name"), ["gift '370812-raincoat'", "name", "Field required"]),
        (lambda g: g.update(collection_point_kind="kiosk"), ["370812-raincoat", "station"]),
        (lambda g: g.update(active_until="2025-01-01T00:00:00+08:00"), ["active_until"]),
        (lambda g: g.update(id="雨衣"), ["gift '雨衣'", "id"]),
        (lambda g: g.pop("id"), ["gift #3", "id"]),
    ],
)
def test_a_malformed_gift_is_refused_at_start_naming_the_file_and_the_gift(
    monkeypatch: pytest.MonkeyPatch,
    build_app: Callable[[], FastAPI],
    tmp_path: Path,
    change: Callable[[dict[str, Any]], object],
    needles: list[str],
) -> None:
    document = demo_document("370812")
    raincoat = next(g for g in document["gifts"] if g["id"] == "370812-raincoat")
    assert document["gifts"].index(raincoat) == 2  # "gift #3" when it has no id
    change(raincoat)
    path = write_catalogue(tmp_path / "districts", "370812", document)
    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", str(tmp_path / "districts"))

    with pytest.raises(GiftFileError) as refused:
        build_app()
    message = str(refused.value)
    assert message.startswith(f"{path}: ")
    for needle in needles:
        assert needle in message, message


@pytest.mark.parametrize(
    ("document", "needle"),
    [
        ("{not json", "not a readable JSON document"),
        ({"district": "370812", "gifts": []}, "gifts"),
        ({**demo_document("370811")}, "belong to district 370811, not to district 370812"),
    ],
)
def test_a_malformed_file_is_refused_whole(
    monkeypatch: pytest.MonkeyPatch,
    build_app: Callable[[], FastAPI],
    tmp_path: Path,
    document: Any,
    needle: str,
) -> None:
    path = write_catalogue(tmp_path, "370812", document)
    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", str(tmp_path))
    with pytest.raises(GiftFileError, match=str(path)) as refused:
        build_app()
    assert needle in str(refused.value)


def test_the_service_refuses_to_start_with_one_clear_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, database_path: Path
) -> None:
    document = demo_document("370812")
    document["gifts"][1]["stock"] = "lots"
    path = write_catalogue(tmp_path, "370812", document)
    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", str(tmp_path))
    monkeypatch.setenv("LEDGER_DATABASE_URL", f"sqlite+aiosqlite:///{database_path}")
    with pytest.raises(SystemExit) as stopped:
        ledger_main.main()  # never reaches the server
    message = str(stopped.value.code)
    assert "LEDGER_DISTRICTS_DIR" in message and str(path) in message
    assert "370812-car-wash" in message and "stock" in message
    assert "Traceback" not in message and "\n" not in message


def test_a_missing_directory_is_refused(
    monkeypatch: pytest.MonkeyPatch, build_app: Callable[[], FastAPI], tmp_path: Path
) -> None:
    monkeypatch.setenv("LEDGER_DISTRICTS_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(GiftFileError, match="not a directory"):
        build_app()
