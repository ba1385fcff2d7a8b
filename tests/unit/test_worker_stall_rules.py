"""The stall watchdog's judgement (dripper/stall.py): when a worker that takes nothing from
a queue with tasks waiting counts as stalled, and when it never does."""

from __future__ import annotations

from pathlib import Path

import pytest

from dripper.config import ConfigError, load
from dripper.stall import Receipts, StallClock, StallWatchdog, check_period

DRIP, REPLIES = "dripper", "dripper.replies"


def test_a_worker_holding_and_taking_nothing_while_tasks_wait_is_stalled_after_the_setting() -> (
    None
):
    clock = StallClock(after=120)
    for now in (0, 60, 119):
        assert clock.observe(now, {DRIP: 5}, {DRIP: 3}, holding=0) == []
    assert clock.observe(120, {DRIP: 9}, {DRIP: 3}, holding=0) == [DRIP]


def test_a_worker_that_holds_a_task_is_never_stalled() -> None:
    clock = StallClock(after=10)
    for now in range(0, 100, 5):
        assert clock.observe(now, {DRIP: 50}, {DRIP: 1}, holding=1) == []
    # Once it holds nothing, the wait starts from there.
    assert clock.observe(100, {DRIP: 50}, {DRIP: 1}, holding=0) == []
    assert clock.observe(109, {DRIP: 50}, {DRIP: 1}, holding=0) == []
    assert clock.observe(110, {DRIP: 50}, {DRIP: 1}, holding=0) == [DRIP]


def test_a_task_received_from_the_queue_starts_the_wait_again() -> None:
    clock = StallClock(after=10)
    clock.observe(0, {DRIP: 4}, {DRIP: 0}, holding=0)
    clock.observe(8, {DRIP: 4}, {DRIP: 0}, holding=0)
    assert clock.observe(12, {DRIP: 4}, {DRIP: 1}, holding=0) == []  # took one in between
    assert clock.observe(21, {DRIP: 4}, {DRIP: 1}, holding=0) == []  # the wait starts here
    assert clock.observe(30, {DRIP: 4}, {DRIP: 1}, holding=0) == []
    assert clock.observe(31, {DRIP: 4}, {DRIP: 1}, holding=0) == [DRIP]


def test_an_empty_queue_is_not_stalled_however_long_the_worker_is_idle() -> None:
    clock = StallClock(after=10)
    assert all(clock.observe(now, {DRIP: 0}, {}, holding=0) == [] for now in range(0, 1000, 7))


def test_a_broker_that_cannot_be_asked_is_an_outage_not_a_stall() -> None:
    clock = StallClock(after=10)
    clock.observe(0, {DRIP: 4}, {}, holding=0)
    assert clock.observe(9, None, {}, holding=0) == []
    # The wait starts again once the broker answers.
    assert clock.observe(15, {DRIP: 4}, {}, holding=0) == []
    assert clock.observe(24, {DRIP: 4}, {}, holding=0) == []
    assert clock.observe(25, {DRIP: 4}, {}, holding=0) == [DRIP]


def test_replies_taken_do_not_hide_a_stalled_drip_queue() -> None:
    clock = StallClock(after=10)
    for n, now in enumerate(range(0, 11)):
        stalled = clock.observe(now, {DRIP: 7, REPLIES: 1}, {DRIP: 0, REPLIES: n}, holding=0)
    assert stalled == [DRIP]


def test_receipts_are_counted_per_queue_and_an_unknown_routing_key_counts_for_each() -> None:
    receipts = Receipts({DRIP: DRIP, REPLIES: REPLIES})
    receipts.record(REPLIES)
    receipts.record(REPLIES)
    assert receipts.snapshot() == {DRIP: 0, REPLIES: 2}
    receipts.record(None)
    receipts.record("somewhere.else")
    assert receipts.snapshot() == {DRIP: 2, REPLIES: 4}


def test_the_watchdog_stops_the_worker_once_naming_the_stalled_queue() -> None:
    now = [0.0]
    stops: list[tuple[list[str], dict[str, int]]] = []
    watchdog = StallWatchdog(
        after=30,
        queues=[REPLIES, DRIP],
        waiting=lambda queues: {DRIP: 12, REPLIES: 0},
        received=lambda: {DRIP: 0, REPLIES: 0},
        holding=lambda: 0,
        stop_worker=lambda stalled, waiting: stops.append((stalled, waiting)),
        clock=lambda: now[0],
    )
    assert watchdog.queues == [DRIP, REPLIES]
    for now[0] in (0.0, 10.0, 20.0):
        assert watchdog.check() == []
    now[0] = 30.0
    assert watchdog.check() == [DRIP]
    assert stops == [([DRIP], {DRIP: 12, REPLIES: 0})]


def test_the_watchdog_looks_often_enough_and_not_too_often() -> None:
    assert check_period(120) == 10.0
    assert check_period(30) == 5.0
    assert check_period(1) == 0.5


def test_worker_stall_after_defaults_to_two_minutes_and_zero_turns_it_off(tmp_path: Path) -> None:
    sandbox = {"DRIPPER_SANDBOX": "1"}
    assert load(tmp_path, environ=sandbox)["WORKER_STALL_AFTER"] == 120.0
    assert load(tmp_path, environ={**sandbox, "WORKER_STALL_AFTER": "0"})["WORKER_STALL_AFTER"] == 0
    with pytest.raises(ConfigError, match="WORKER_STALL_AFTER must be 0"):
        load(tmp_path, environ={**sandbox, "WORKER_STALL_AFTER": "-5"})
