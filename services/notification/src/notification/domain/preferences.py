"""What a recipient wants beyond the inbox: channels per kind of message, and quiet hours."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

LOCAL = ZoneInfo("Asia/Shanghai")


@dataclass(frozen=True)
class Preference:
    """Whether ``recipient_id`` gets messages of ``kind`` (a template id) on ``channel``."""

    recipient_id: str
    kind: str
    channel: str
    enabled: bool


@dataclass(frozen=True)
class QuietHours:
    """A daily window, Asia/Shanghai wall-clock time, in which non-critical pushes wait; it
    may cross midnight (22:00–07:00). ``start == end`` is an empty window."""

    recipient_id: str
    start: time
    end: time

    def until(self, now: datetime) -> datetime | None:
        """When the window ``now`` falls in ends (aware), or None if ``now`` is outside it."""
        local = now.astimezone(LOCAL)
        clock = local.time().replace(tzinfo=None)
        if self.start == self.end:
            return None
        if self.start < self.end:
            inside = self.start <= clock < self.end
            ends_tomorrow = False
        else:  # across midnight
            inside = clock >= self.start or clock < self.end
            ends_tomorrow = clock >= self.start
        if not inside:
            return None
        day = local.date() + timedelta(days=1 if ends_tomorrow else 0)
        return datetime.combine(day, self.end, tzinfo=LOCAL)
