"""A gift redeemed (兑换) once per run, after the riders' reports: the run's rider with the most
points redeems the cheapest gift of their district's catalogue they can have now, staff of the
collection point hand it over against the collection code, and the rider's posted balance must
drop by exactly the gift's cost.

A rider who cannot afford any gift (or a district without gifts) redeems nothing, and that is
not a problem; answers the ledger should not give are."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from common.tokens import issue_token

__all__ = ["RedemptionTally", "redeem_a_gift"]

#: The fulfil route takes supervisors (and admins) of the redemption's district.
STAFF_ROLE = "supervisor"


@dataclass
class RedemptionTally:
    redeemed: bool = False
    gift_name: str | None = None
    cost: int | None = None
    rider_id: str | None = None
    note: str = ""
    """Why nothing was redeemed, when nothing was (not a problem)."""
    problems: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Gift:
    id: str
    name: str
    cost: int
    collection_point: str


async def redeem_a_gift(
    client: httpx.AsyncClient,
    *,
    ledger_url: str,
    jwt_secret: str,
    tokens: Mapping[str, str],
    balances: Mapping[str, int | None],
    districts: Mapping[str, str],
    seed: int,
) -> RedemptionTally:
    """Redeem the cheapest gift the richest rider of the run can afford, and fulfil it.

    ``tokens`` are the riders' tokens, ``balances`` their points after the run (None: unknown),
    ``districts`` each rider's home district. Ties between riders go to the first rider id.
    """
    tally = RedemptionTally()
    try:
        await _redeem(client, ledger_url, jwt_secret, tokens, balances, districts, seed, tally)
    except httpx.TransportError as error:
        tally.problems.append(f"the ledger at {ledger_url} did not answer: {error!r}")
    return tally


async def _redeem(
    client: httpx.AsyncClient,
    ledger_url: str,
    jwt_secret: str,
    tokens: Mapping[str, str],
    balances: Mapping[str, int | None],
    districts: Mapping[str, str],
    seed: int,
    tally: RedemptionTally,
) -> None:
    known = {rider: points for rider, points in balances.items() if points is not None}
    if not known:
        tally.note = "no rider's balance is known"
        return
    rider = min(known, key=lambda r: (-known[r], r))
    tally.rider_id = rider
    district = districts[rider]
    rider_auth = {"Authorization": f"Bearer {tokens[rider]}"}
    ledger = ledger_url.rstrip("/")

    gifts = await _redeemable_gifts(client, ledger, district, rider_auth, tally)
    if gifts is None:
        return
    if not gifts:
        tally.note = f"district {district} has no gift in stock to redeem now"
        return
    gift = min(gifts, key=lambda g: (g.cost, g.id))
    before = await _balance(client, ledger, rider, rider_auth, tally)
    if before is None:
        return
    if before["available"] < gift.cost:
        tally.note = (
            f"{rider} has {before['available']} points available; the cheapest gift "
            f"({gift.name}) costs {gift.cost}"
        )
        return

    key = f"sim-redeem-{seed}-{uuid.uuid4()}"
    reserved = await _post(
        client,
        f"{ledger}/v1/redemptions",
        {"gift_id": gift.id},
        {**rider_auth, "Idempotency-Key": key},
    )
    if not _expect(reserved, {200, 201}, f"redeem {gift.id}", tally):
        return
    redemption = reserved.json()
    staff = issue_token(
        jwt_secret,
        role=STAFF_ROLE,
        subject=f"sim-collection-point-{gift.id}",
        district=district,
    )
    fulfilled = await _post(
        client,
        f"{ledger}/v1/redemptions/{redemption['id']}/fulfil",
        {"collection_code": redemption["collection_code"]},
        {"Authorization": f"Bearer {staff}"},
    )
    if not _expect(fulfilled, {200}, f"fulfil redemption {redemption['id']}", tally):
        return
    if fulfilled.json().get("state") != "fulfilled":
        tally.problems.append(f"redemption {redemption['id']} is {fulfilled.json().get('state')}")
        return

    after = await _balance(client, ledger, rider, rider_auth, tally)
    if after is None:
        return
    if before["posted"] - after["posted"] != gift.cost:
        tally.problems.append(
            f"{rider}'s posted balance went from {before['posted']} to {after['posted']} "
            f"after redeeming {gift.name} for {gift.cost} points"
        )
        return
    tally.redeemed, tally.gift_name, tally.cost = True, gift.name, gift.cost


async def _redeemable_gifts(
    client: httpx.AsyncClient,
    ledger: str,
    district: str,
    auth: dict[str, str],
    tally: RedemptionTally,
) -> list[_Gift] | None:
    """The district's gifts active now with stock left; None when the catalogue is unreadable
    or the ledger has no gift API at all (a plain 404: a ledger from before gifts)."""
    response = await _get(client, f"{ledger}/v1/districts/{district}/gifts", auth)
    kind = response.headers.get("content-type", "")
    if response.status_code == 404 and not kind.startswith("application/problem+json"):
        tally.note = "the ledger has no gift catalogue API"
        return None
    if not _expect(response, {200}, f"read district {district}'s gifts", tally):
        return None
    now = datetime.now(UTC)
    try:
        return [
            _Gift(g["id"], g["name"], int(g["cost"]), g["collection_point"])
            for g in response.json()["gifts"]
            if g["stock"] > 0 and _active(g, now)
        ]
    except (KeyError, TypeError, ValueError) as error:
        tally.problems.append(f"district {district}'s gifts: unexpected answer ({error!r})")
        return None


def _active(gift: Mapping[str, Any], now: datetime) -> bool:
    starts = datetime.fromisoformat(gift["active_from"])
    ends = gift.get("active_until")
    return starts <= now and (ends is None or now < datetime.fromisoformat(ends))


async def _balance(
    client: httpx.AsyncClient,
    ledger: str,
    rider: str,
    auth: dict[str, str],
    tally: RedemptionTally,
) -> dict[str, int] | None:
    """The rider's ``posted`` and ``available`` points."""
    response = await _get(client, f"{ledger}/v1/accounts/{rider}/balance", auth)
    if not _expect(response, {200}, f"read {rider}'s balance", tally):
        return None
    body = response.json()
    posted, available = body.get("posted", body.get("balance")), body.get("available")
    if not isinstance(posted, int) or not isinstance(available, int):
        tally.problems.append(f"{rider}'s balance: no integer posted/available in {body}")
        return None
    return {"posted": posted, "available": available}


async def _get(client: httpx.AsyncClient, url: str, headers: dict[str, str]) -> httpx.Response:
    return await _send(client, "GET", url, headers=headers)


async def _post(
    client: httpx.AsyncClient, url: str, body: dict[str, Any], headers: dict[str, str]
) -> httpx.Response:
    """Once more on a transport failure: the Idempotency-Key makes the retry safe."""
    return await _send(client, "POST", url, headers=headers, json=body)


async def _send(client: httpx.AsyncClient, method: str, url: str, **options: Any) -> httpx.Response:
    try:
        return await client.request(method, url, **options)
    except httpx.TransportError:
        return await client.request(method, url, **options)


def _expect(
    response: httpx.Response, statuses: set[int], what: str, tally: RedemptionTally
) -> bool:
    if response.status_code in statuses:
        return True
    tally.problems.append(f"{what}: HTTP {response.status_code} {response.text[:200]}")
    return False
