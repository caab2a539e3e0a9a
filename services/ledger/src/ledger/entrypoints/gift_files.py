"""Gift catalogues read from files (``LEDGER_DISTRICTS_DIR``): a folder per district code
holding ``gifts.json``. Each gift is checked by the same rules as ``PUT
/v1/districts/{code}/gifts/{gift_id}``; a bad file is refused whole, naming the file and the
gift."""

from __future__ import annotations

import json
from datetime import UTC
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger.domain.redemption import Gift
from ledger.entrypoints.http_redemptions import GiftBody

GIFTS_FILE = "gifts.json"


class GiftFileError(Exception):
    """A gift catalogue file that cannot be loaded; the message names the file and the gift."""


class GiftEntry(GiftBody):
    id: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")


class GiftFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    district: str = Field(pattern=r"^\d{6}$")
    district_name: str | None = None
    synthetic: bool = False
    """True for invented demo data."""
    note: str = ""
    gifts: list[dict[str, Any]] = Field(min_length=1)


def demo_districts() -> Traversable:
    return resources.files("ledger.demo_data")


def districts_root(value: str) -> Traversable:
    return demo_districts() if value == "demo" else Path(value)


def read_catalogues(root: Traversable) -> dict[str, list[Gift]]:
    """Every district folder's gifts, by district code (folders without ``gifts.json`` are
    skipped). Raises :class:`GiftFileError` on the first bad file."""
    if not root.is_dir():
        raise GiftFileError(f"{root}: not a directory of district folders")
    catalogues: dict[str, list[Gift]] = {}
    for folder in sorted(root.iterdir(), key=lambda f: f.name):
        district = folder.name
        source = folder / GIFTS_FILE
        if not folder.is_dir() or not district.isdigit() or len(district) != 6:
            continue
        if source.is_file():
            catalogues[district] = read_catalogue(district, source)
    return catalogues


def read_catalogue(district: str, source: Traversable) -> list[Gift]:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise GiftFileError(f"{source}: not a readable JSON document ({error})") from None
    try:
        catalogue = GiftFile.model_validate(document)
    except ValidationError as error:
        raise GiftFileError(f"{source}: {_problems(error)}") from None
    if catalogue.district != district:
        raise GiftFileError(
            f"{source}: the gifts belong to district {catalogue.district}, "
            f"not to district {district}"
        )
    gifts: list[Gift] = []
    for position, entry in enumerate(catalogue.gifts, start=1):
        gift_id = entry.get("id") if isinstance(entry, dict) else None
        label = f"gift {gift_id!r}" if isinstance(gift_id, str) else f"gift #{position}"
        try:
            gift = _gift(district, GiftEntry.model_validate(entry))
        except ValidationError as error:
            raise GiftFileError(f"{source}: {label}: {_problems(error)}") from None
        except ValueError as error:
            raise GiftFileError(f"{source}: {label}: {error}") from None
        if any(earlier.id == gift.id for earlier in gifts):
            raise GiftFileError(f"{source}: {label}: the id appears twice")
        gifts.append(gift)
    return gifts


def _gift(district: str, entry: GiftEntry) -> Gift:
    if entry.active_until is not None and entry.active_until <= entry.active_from:
        raise ValueError("active_until must follow active_from")
    return Gift(
        id=entry.id,
        district=district,
        name=entry.name,
        cost=entry.cost,
        stock=entry.stock,
        collection_point_kind=entry.collection_point_kind,
        collection_point_name=entry.collection_point_name,
        active_from=entry.active_from.astimezone(UTC),
        active_until=entry.active_until.astimezone(UTC) if entry.active_until else None,
    )


def _problems(error: ValidationError) -> str:
    return "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'document'}: {problem['msg']}"
        for problem in error.errors()
    )
