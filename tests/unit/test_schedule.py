"""Local time and quiet hours: a person's daily slot, DST, zones and the window."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from dripper.models import Course, Subscriber
from dripper.subscriptions import schedule

NEW_YORK = ZoneInfo("America/New_York")
LOS_ANGELES = ZoneInfo("America/Los_Angeles")


def person(*zones: str, at: time = time(9, 0)) -> Subscriber:
    return Subscriber(phone="+12125550100", time_zones=list(zones), send_time=at)


def course(**pacing: str) -> Course:
    return Course(slug="c", title="C", keyword="C", pacing=pacing, messages={})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_nine_am_stays_nine_am_across_the_spring_dst_change() -> None:
    someone, c = person("America/New_York"), course()
    slots = [
        schedule.next_daily_slot(someone, c, utc(2026, 3, 6, 15), days=days) for days in (1, 2, 3)
    ]
    assert [s.astimezone(NEW_YORK).time() for s in slots] == [time(9)] * 3
    # The UTC instant moves an hour earlier on Sunday 8 March (EST -5 -> EDT -4).
    assert slots == [utc(2026, 3, 7, 14), utc(2026, 3, 8, 13), utc(2026, 3, 9, 13)]


def test_nine_am_stays_nine_am_across_the_autumn_dst_change() -> None:
    someone, c = person("America/New_York"), course()
    saturday = schedule.daily_slot(someone, c, datetime(2026, 10, 31).date())
    sunday = schedule.daily_slot(someone, c, datetime(2026, 11, 1).date())
    assert (saturday, sunday) == (utc(2026, 10, 31, 13), utc(2026, 11, 1, 14))
    assert sunday.astimezone(UTC) - saturday.astimezone(UTC) == timedelta(hours=25)


def test_next_lesson_after_a_lesson_the_day_before_the_change_is_at_local_nine() -> None:
    someone, c = person("America/New_York"), course()
    lesson_at = utc(2026, 3, 7, 14)  # Saturday 9:00 EST
    following = schedule.next_daily_slot(someone, c, lesson_at, days=1)
    assert following.astimezone(NEW_YORK) == datetime(2026, 3, 8, 9, tzinfo=NEW_YORK)


def test_a_send_time_in_the_dst_gap_still_gets_its_day() -> None:
    someone, c = (
        person("America/New_York", at=time(2, 30)),
        course(window_start="00:00", window_end="23:59"),
    )
    slot = schedule.daily_slot(someone, c, datetime(2026, 3, 8).date())
    # 2:30 does not exist that night; the slot is the same instant, read as 3:30 EDT.
    assert slot.astimezone(NEW_YORK).date() == datetime(2026, 3, 8).date()
    assert slot.astimezone(NEW_YORK).time() == time(3, 30)


def test_a_send_time_before_the_window_moves_to_its_opening_not_dropped() -> None:
    someone, c = person("America/New_York", at=time(6, 15)), course()
    slot = schedule.daily_slot(someone, c, datetime(2026, 4, 1).date())
    assert slot.astimezone(NEW_YORK) == datetime(2026, 4, 1, 8, tzinfo=NEW_YORK)


def test_a_send_time_after_the_window_moves_to_the_next_morning() -> None:
    someone, c = person("America/New_York", at=time(22, 0)), course()
    slot = schedule.daily_slot(someone, c, datetime(2026, 4, 1).date())
    assert slot.astimezone(NEW_YORK) == datetime(2026, 4, 2, 8, tzinfo=NEW_YORK)


def test_a_send_time_after_the_window_still_gives_a_lesson_every_day() -> None:
    someone, c = person("America/Chicago", at=time(22, 30)), course()
    chicago = ZoneInfo("America/Chicago")
    at = datetime(2026, 3, 4, 18, 0, tzinfo=chicago)  # Wednesday evening
    first = schedule.next_daily_slot(someone, c, at, days=0)
    assert first.astimezone(chicago) == datetime(2026, 3, 5, 8, 0, tzinfo=chicago)
    slots = [first]
    for _ in range(5):
        slots.append(schedule.next_daily_slot(someone, c, slots[-1], days=1))
    days = [slot.astimezone(chicago).date().day for slot in slots]
    assert days == [5, 6, 7, 8, 9, 10]  # none skipped, across the DST change too
    assert {slot.astimezone(chicago).time() for slot in slots} == {time(8, 0)}


def test_a_course_window_is_respected() -> None:
    someone, c = person("America/New_York", at=time(20, 30)), course(window_end="20:00")
    slot = schedule.daily_slot(someone, c, datetime(2026, 4, 1).date())
    assert slot.astimezone(NEW_YORK) == datetime(2026, 4, 2, 8, tzinfo=NEW_YORK)


def test_a_multi_zone_number_is_only_texted_in_hours_valid_in_every_zone() -> None:
    someone, c = person("America/New_York", "America/Los_Angeles"), course()
    slot = schedule.daily_slot(someone, c, datetime(2026, 4, 1).date())
    # 9:00 in New York is 6:00 in Los Angeles: wait for 8:00 there (11:00 in New York).
    assert slot.astimezone(LOS_ANGELES).time() == time(8)
    assert slot.astimezone(NEW_YORK).time() == time(11)
    assert schedule.in_window(slot, schedule.zones_of(someone), time(8), time(21))


def test_every_hour_of_a_multi_zone_window_is_open_in_every_zone() -> None:
    someone, c = person("America/Halifax", "America/Vancouver"), course()
    zones, (opens, closes) = schedule.zones_of(someone), schedule.window(c)
    start = utc(2026, 3, 7, 0)
    open_hours = [
        start + timedelta(minutes=30 * i)
        for i in range(96)
        if schedule.in_window(start + timedelta(minutes=30 * i), zones, opens, closes)
    ]
    assert open_hours, "Halifax and Vancouver share a window"
    for when in open_hours:
        for zone in zones:
            assert time(8) <= when.astimezone(zone).time() < time(21)
    # The evening in Halifax closes it while Vancouver is still in the afternoon.
    assert not schedule.in_window(utc(2026, 3, 7, 1, 30), zones, opens, closes)


def test_next_opening_of_a_late_night_send_is_the_next_local_morning() -> None:
    zones = [NEW_YORK]
    late = datetime(2026, 3, 7, 23, 30, tzinfo=NEW_YORK)
    opening = schedule.next_opening(late, zones, time(8), time(21))
    assert opening == datetime(2026, 3, 8, 8, tzinfo=NEW_YORK)
    assert schedule.next_opening(opening, zones, time(8), time(21)) == opening


def test_no_time_zone_means_utc() -> None:
    someone, c = person(), course()
    assert schedule.zones_of(someone) == [ZoneInfo("UTC")]
    assert schedule.daily_slot(someone, c, datetime(2026, 4, 1).date()) == utc(2026, 4, 1, 9)


def test_an_unknown_zone_name_is_ignored() -> None:
    someone = person("Mars/Olympus_Mons", "Europe/Paris")
    assert schedule.zones_of(someone) == [ZoneInfo("Europe/Paris")]


def test_describe_when_reads_in_local_time() -> None:
    someone = person("America/New_York")
    now = utc(2026, 3, 7, 15)
    assert schedule.describe_when(utc(2026, 3, 8, 13), someone, now) == "tomorrow at 9:00 AM"
    assert schedule.describe_when(utc(2026, 3, 7, 23), someone, now) == "today at 6:00 PM"
    assert schedule.describe_when(utc(2026, 3, 10, 13), someone, now) == "Tue Mar 10 at 9:00 AM"
