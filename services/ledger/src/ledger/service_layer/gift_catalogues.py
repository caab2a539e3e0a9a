"""Stocking districts' gift catalogues at start (``LEDGER_DISTRICTS_DIR``): a district gets
the file's gifts only while it has none, so a restart or a replica starting later changes
nothing, and gifts admins changed through the API stay as they are."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import structlog

from ledger.domain.redemption import Gift
from ledger.service_layer.unit_of_work import AbstractRedemptionUnitOfWork

_log = structlog.get_logger("gridloop.ledger")


async def stock_empty_catalogues(
    unit_of_work: Callable[[], AbstractRedemptionUnitOfWork],
    catalogues: Mapping[str, Sequence[Gift]],
) -> dict[str, int]:
    """Load each district's gifts if the district has none yet; how many each district got."""
    loaded: dict[str, int] = {}
    for district, gifts in sorted(catalogues.items()):
        try:
            added = await _stock(unit_of_work, district, gifts)
        except Exception:
            # Two replicas starting together: the one that lost the race finds the gifts the
            # other one stored; anything else is a real failure.
            async with unit_of_work() as uow:
                if not await uow.ledger.gifts_of(district):
                    raise
            added = 0
        if added:
            loaded[district] = added
            _log.info("gifts.loaded", district=district, gifts=added)
    return loaded


async def _stock(
    unit_of_work: Callable[[], AbstractRedemptionUnitOfWork], district: str, gifts: Sequence[Gift]
) -> int:
    async with unit_of_work() as uow:
        if await uow.ledger.gifts_of(district):
            return 0
        added = 0
        for gift in gifts:
            existing = await uow.ledger.get_gift(gift.id)
            if existing is not None:  # its id is taken by another district's gift
                _log.warning(
                    "gifts.id_taken", gift_id=gift.id, district=district, by=existing.district
                )
                continue
            await uow.ledger.put_gift(gift)
            added += 1
        await uow.commit()
    return added
