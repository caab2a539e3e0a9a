"""What the reporting domain refuses; each message is shown to the caller as it is."""

from __future__ import annotations


class ReportError(Exception):
    """A request the domain refuses; the message is shown to the caller."""


class DistrictNotServed(ReportError):
    """None of the districts the rider's token covers has published a category catalogue."""

    def __init__(self, districts: tuple[str, ...]) -> None:
        self.districts = districts
        named = ", ".join(districts)
        verb = "is" if len(districts) == 1 else "are"
        noun = "district" if len(districts) == 1 else "districts"
        super().__init__(
            f"{noun} {named} {verb} not served here (no category catalogue has been published "
            "for it yet)"
        )


class UnknownCategory(ReportError):
    pass


class InactiveCategory(ReportError):
    pass


class IdempotencyConflict(ReportError):
    pass


class ReportNotFound(ReportError):
    """No such report, or none of the caller's (the two are not told apart)."""
