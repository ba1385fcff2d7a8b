"""Fault: two beats and two workers running at once on PostgreSQL for a simulated week.

Every step of the sandbox clock (to the next due send), two ticks run at the same moment
in two threads, as two beat processes would, and two real workers take what they queue.
Each lesson goes out once, in its window. Duration: about 1.5 minutes.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import SandboxRun
from faults_support import (
    expected_lessons,
    expected_outbound,
    reconcile,
    stamped_send_times,
    unfinished_outbound,
)
from flask import Flask

from dripper.clock import sandbox_clock
from dripper.drip.tick import tick
from dripper.extensions import db
from dripper.models import Course, Message, MessageKind
from dripper_testkit.builders import add_person
from dripper_testkit.twilio_fake import FakeTwilio
from dripper_testkit.workers import BrokerSpace, Worker, start_worker

START = datetime(2026, 3, 9, 8, 0, tzinfo=ZoneInfo("America/New_York"))
PEOPLE = [f"+1201555{n:04d}" for n in range(40)]
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Asia/Tokyo"]


pytestmark = pytest.mark.usefixtures("no_sending_state_left")


@pytest.fixture
def worker_settings(twilio_server: FakeTwilio) -> dict[str, Any]:
    return twilio_server.settings(SEND_RATE=1000.0)


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


def two_ticks(app: Flask) -> None:
    """Two beats' ticks at the same moment, each in its own thread and session."""
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def one() -> None:
        with app.app_context():
            try:
                barrier.wait(10)
                tick()
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors


@pytest.mark.database("postgresql")
def test_two_beats_and_two_workers_for_a_week_send_each_lesson_once(
    app: Flask,
    course: Course,
    app_config: dict[str, Any],
    broker: BrokerSpace,
    workers: list[Worker],
    twilio_server: FakeTwilio,
    worker_settings: dict[str, Any],
    tmp_path: Path,
) -> None:
    for n, phone in enumerate(PEOPLE):
        add_person(course, phone, zones=[ZONES[n % len(ZONES)]], due=START)
    db.session.commit()
    sandbox_clock().set(START)
    for _ in range(2):
        workers.append(start_worker(app_config, broker, tmp_path, overrides=worker_settings))

    run = SandboxRun(broker)
    steps = run.until(START + timedelta(days=7), run_tick=lambda: two_ticks(app))
    print(f"\na simulated week in {steps} steps of the sandbox clock")
    assert unfinished_outbound() == 0

    db.session.rollback()
    per_lesson = db.session.execute(
        sa.select(Message.subscription_id, Message.lesson_id, sa.func.count())
        .where(Message.kind == MessageKind.LESSON)
        .group_by(Message.subscription_id, Message.lesson_id)
    ).all()
    assert per_lesson and {count for _, _, count in per_lesson} == {1}
    lessons_each = {sid: 0 for sid, _, _ in per_lesson}
    for sid, _, _ in per_lesson:
        lessons_each[sid] += 1
    assert len(lessons_each) == len(PEOPLE)
    # The same course pace for everyone (unanswered questions slow it down), nobody ahead.
    assert len(set(lessons_each.values())) == 1 and min(lessons_each.values()) >= 3
    assert set(expected_lessons()) == set(PEOPLE)
    expected = expected_outbound(PEOPLE)  # lessons, questions, check-ins…
    # The sandbox clock moved by steps: each message's time is the one stamped at its send.
    stamped = stamped_send_times()
    reconcile(twilio_server, expected, when=lambda m: stamped[m.sid]).check()
