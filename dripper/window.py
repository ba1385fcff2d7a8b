"""The hours a person may be texted: a daily window of local time in one or more zones.

Below both the drip (which schedules inside the window) and the sms layer (which checks
it again just before the provider call), so neither imports the other for it. The drip
stamps a ``SendWindow`` on each message it writes; a reply to the person's own text
carries none and goes at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

UTC_ZONE = ZoneInfo("UTC")


@lru_cache(maxsize=512)
def zone(name: str) -> ZoneInfo | None:
    """The zone of that name, or None when it is unknown."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse_clock(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def in_window(when: datetime, zones: list[ZoneInfo], opens: time, closes: time) -> bool:
    """Whether ``when`` is inside [opens, closes) local time in every zone."""
    return all(
        opens <= when.astimezone(zone).time().replace(tzinfo=None) < closes for zone in zones
    )


def next_opening(when: datetime, zones: list[ZoneInfo], opens: time, closes: time) -> datetime:
    """``when`` if the window is open then, else the first instant after it that is.

    Candidates are the moments the window opens in each zone over the next days; the
    first one that is inside every zone's window wins. Zones too far apart to share
    any hour fall back to the first zone's window (a later, conservative choice would
    be to never send, which no one would want).
    """
    if in_window(when, zones, opens, closes):
        return when
    candidates = []
    for zone_ in zones:
        local_day = when.astimezone(zone_).date()
        for offset in range(0, 4):
            opening = datetime.combine(local_day + timedelta(days=offset), opens, tzinfo=zone_)
            if opening > when:
                candidates.append(opening)
    for candidate in sorted(candidates):
        if in_window(candidate, zones, opens, closes):
            return candidate
    return next_opening(when, zones[:1], opens, closes)  # pragma: no cover - disjoint zones


@dataclass(frozen=True)
class SendWindow:
    """When one message may go out: [opens, closes) local time in every one of ``zones``."""

    zones: tuple[str, ...]
    opens: time
    closes: time

    def _zones(self) -> list[ZoneInfo]:
        found = [z for name in self.zones if (z := zone(name)) is not None]
        return found or [UTC_ZONE]

    def is_open(self, when: datetime) -> bool:
        return in_window(when, self._zones(), self.opens, self.closes)

    def next_opening(self, when: datetime) -> datetime:
        """``when`` if the window is open then, else when it next opens."""
        return next_opening(when, self._zones(), self.opens, self.closes)

    def to_json(self) -> dict[str, Any]:
        return {
            "zones": list(self.zones),
            "opens": self.opens.strftime("%H:%M"),
            "closes": self.closes.strftime("%H:%M"),
        }

    @classmethod
    def from_json(cls, value: dict[str, Any] | None) -> SendWindow | None:
        """The window stamped on a message, or None (a reply: no window)."""
        if not value:
            return None
        return cls(
            zones=tuple(value.get("zones") or ()),
            opens=parse_clock(str(value["opens"])),
            closes=parse_clock(str(value["closes"])),
        )
