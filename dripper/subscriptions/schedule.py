"""Local time for each person: their daily send time, and the quiet-hours window.

All arithmetic is done on aware datetimes with ``zoneinfo``, so a DST change moves
the UTC instant and keeps the local time. A number that spans several zones is only
texted in hours that are inside the window in every one of them.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dripper.courses.spec import PACING_DEFAULTS
from dripper.models import Course, Subscriber

# The window's arithmetic lives below the drip and the sms layer; the drip's callers
# keep reading it from here.
from dripper.window import UTC_ZONE as UTC_ZONE
from dripper.window import SendWindow as SendWindow
from dripper.window import in_window as in_window
from dripper.window import next_opening as next_opening
from dripper.window import parse_clock as parse_clock
from dripper.window import zone


def zones_of(subscriber: Subscriber) -> list[ZoneInfo]:
    """The subscriber's time zones, the first one being where their send time is read."""
    found = [z for name in subscriber.time_zones or [] if (z := zone(name)) is not None]
    return found or [UTC_ZONE]


def pacing(course: Course, name: str) -> object:
    """A pacing setting of the course, or its default."""
    return (course.pacing or {}).get(name, PACING_DEFAULTS[name])


def pacing_count(course: Course, name: str) -> int:
    """A whole-number pacing setting of the course (days, counts), or its default."""
    return int(pacing(course, name))  # type: ignore[call-overload]


def window(course: Course) -> tuple[time, time]:
    return parse_clock(str(pacing(course, "window_start"))), parse_clock(
        str(pacing(course, "window_end"))
    )


def send_window(subscriber: Subscriber, course: Course) -> SendWindow:
    """The window a message of this course to this person must go out in (stamped on it)."""
    opens, closes = window(course)
    names = tuple(name for name in subscriber.time_zones or [] if zone(name) is not None)
    return SendWindow(zones=names or ("UTC",), opens=opens, closes=closes)


def local_today(subscriber: Subscriber, now: datetime) -> date:
    return now.astimezone(zones_of(subscriber)[0]).date()


def daily_slot(subscriber: Subscriber, course: Course, day: date) -> datetime:
    """The subscriber's send time on a local day, moved into the window if it falls outside."""
    zones = zones_of(subscriber)
    at = datetime.combine(day, subscriber.send_time, tzinfo=zones[0])
    # A local time that does not exist (a DST gap) is normalised by a UTC round trip.
    at = at.astimezone(UTC_ZONE).astimezone(zones[0])
    return next_opening(at, zones, *window(course))


def next_daily_slot(
    subscriber: Subscriber, course: Course, now: datetime, *, days: int = 0
) -> datetime:
    """The first daily slot at least ``days`` local days after today that is not past."""
    zone = zones_of(subscriber)[0]
    today = local_today(subscriber, now)
    earliest = today + timedelta(days=days)
    # Start a day early: a send time after the window closes is moved to the next
    # morning, so the day before's slot may be the one that lands on ``earliest``.
    for offset in range(days - 1, days + 3):
        slot = daily_slot(subscriber, course, today + timedelta(days=offset))
        if slot > now and slot.astimezone(zone).date() >= earliest:
            return slot
    raise AssertionError("no daily slot in three days")  # pragma: no cover


def soonest(subscriber: Subscriber, course: Course, now: datetime) -> datetime:
    """Now, if the window is open for this person; else when it next opens."""
    return next_opening(now, zones_of(subscriber), *window(course))


def describe_when(when: datetime, subscriber: Subscriber, now: datetime) -> str:
    """``today at 9:00 AM``, ``tomorrow at 9:00 AM`` or ``Mon Dec 7 at 9:00 AM``, local time."""
    zone = zones_of(subscriber)[0]
    local = when.astimezone(zone)
    days = (local.date() - now.astimezone(zone).date()).days
    day = {0: "today", 1: "tomorrow"}.get(days, describe_day(when, subscriber))
    return f"{day} at {describe_time(local.time())}"


def describe_day(when: datetime, subscriber: Subscriber) -> str:
    local = when.astimezone(zones_of(subscriber)[0])
    return f"{local:%a %b} {local.day}"


def describe_time(at: time) -> str:
    hour = at.hour % 12 or 12
    return f"{hour}:{at.minute:02d} {'AM' if at.hour < 12 else 'PM'}"
