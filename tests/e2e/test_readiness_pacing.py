"""Each pacing rule, end to end: a person texts through the signed webhook, the reply is
classified, and real Celery workers on the sandbox clock send what the rule says, when.

The course is a small one whose system messages read ``[name]``, so each story below
shows which message went out and at what local time (New York).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import SandboxRun
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import AUTH_TOKEN, Handset

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Alert,
    AlertStatus,
    Course,
    Direction,
    Message,
    SubscriptionState,
)
from dripper_testkit.builders import small_course
from dripper_testkit.workers import BrokerSpace, Worker

NEW_YORK = ZoneInfo("America/New_York")
PHONE = "+12125550147"  # Manhattan: America/New_York


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York time, ``day`` counted from April 1, 2026 (the 6th is a Monday; no
    clock change in April or May)."""
    return datetime(2026, 4, 1, hour, minute, tzinfo=NEW_YORK) + timedelta(days=day - 1)


class AlertInbox:
    """The admins' alert webhook: a local HTTP endpoint that keeps what was POSTed."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        inbox = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                inbox.received.append(json.loads(self.rfile.read(length)))
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/alerts"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def alert_inbox() -> Iterator[AlertInbox]:
    inbox = AlertInbox()
    yield inbox
    inbox.close()


@pytest.fixture
def worker_settings(alert_inbox: AlertInbox) -> dict[str, Any]:
    return {"TWILIO_AUTH_TOKEN": AUTH_TOKEN, "ADMIN_ALERT_WEBHOOK": alert_inbox.url}


@pytest.fixture
def app_config(drip_config: dict[str, Any]) -> dict[str, Any]:
    return drip_config


@pytest.fixture
def tiny(app: Flask) -> Course:
    course = small_course(8)
    db.session.commit()
    return course


class Person:
    """One subscriber's phone, and the drip running around it."""

    def __init__(self, client: FlaskClient, broker: BrokerSpace) -> None:
        self.phone = Handset(client, PHONE)
        self.run = SandboxRun(broker)

    def join(self, at: datetime) -> None:
        sandbox_clock().set(at)
        self.phone.text("JOIN")
        self.phone.text("YES")
        self.run.settle(at)

    def says(self, at: datetime, body: str) -> Message:
        """Let the drip run up to ``at``, then text ``body``; returns the stored reply."""
        self.run.until(at)
        self.phone.text(body)
        self.run.settle(at)
        return db.session.scalars(
            sa.select(Message)
            .where(Message.phone == PHONE, Message.direction == Direction.INBOUND)
            .order_by(Message.id.desc())
        ).first()  # type: ignore[return-value]

    def story(self, until: datetime) -> list[tuple[str, str]]:
        """What they were sent up to ``until``: (body, local day and time)."""
        self.run.until(until)
        return [
            (
                message.body,
                self.run.sent_at[message.id].astimezone(NEW_YORK).strftime("%a %d %H:%M"),
            )
            for message in self.phone.all_replies()
        ]

    def state(self) -> SubscriptionState:
        subscription = self.phone.subscription()
        assert subscription is not None
        return subscription.state


JOINED = [
    ("[confirmation_request]", "Mon 06 07:00"),
    ("[welcome]", "Mon 06 07:00"),
]


def test_an_engaged_reply_moves_on_the_next_day_and_skips_the_question_it_answered(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    reply = person.says(
        ny(6, 10),
        "i never thought of it that way. i want to try asking her what she needs instead of "
        "telling her",
    )
    assert reply.label is ReplyLabel.ENGAGED
    assert not reply.needs_review

    assert person.story(ny(7, 23)) == [
        *JOINED,
        ("Lesson 1 text.", "Mon 06 09:00"),
        # No acknowledgement, and no question: they already answered it.
        ("Lesson 2 text.", "Tue 07 09:00"),
        ("Question 2?", "Tue 07 12:00"),
    ]


def test_pushback_is_acknowledged_once_and_the_next_lessons_come_later_then_are_only_offered(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    first = person.says(
        ny(6, 13), "honestly this doesnt apply to us. she just needs to get her act together"
    )
    assert first.label is ReplyLabel.RESISTANT
    # The next lesson comes two days after Monday's, on Wednesday.
    second = person.says(ny(8, 13), "yeah but you dont know him, talking wont change anything")
    assert second.label is ReplyLabel.RESISTANT

    assert person.story(ny(20, 23)) == [
        *JOINED,
        ("Lesson 1 text.", "Mon 06 09:00"),
        ("Question 1?", "Mon 06 12:00"),
        ("[resistant_ack]", "Mon 06 13:00"),
        ("Lesson 2 text.", "Wed 08 09:00"),
        ("Question 2?", "Wed 08 12:00"),
        ("[resistant_ack]", "Wed 08 13:00"),
        # Twice in a row: three days, and then offered, not pushed...
        ("[next_offer]", "Sat 11 09:00"),
        # ...and nothing more when no NEXT comes within a week.
    ]
    assert person.state() is SubscriptionState.DORMANT


def test_an_offered_lesson_comes_when_they_reply_next(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    person.says(
        ny(6, 13), "honestly this doesnt apply to us. she just needs to get her act together"
    )
    person.says(ny(8, 13), "yeah but you dont know him, talking wont change anything")
    person.says(ny(13, 18), "NEXT")

    assert person.story(ny(14, 23))[-5:] == [
        ("[next_offer]", "Sat 11 09:00"),
        ("Lesson 3 text.", "Mon 13 18:00"),
        # 21:00 is past the window: the question waits for the morning's opening.
        ("Question 3?", "Tue 14 08:00"),
        ("Lesson 4 text.", "Tue 14 09:00"),
        ("Question 4?", "Tue 14 12:00"),
    ]
    assert person.state() is SubscriptionState.ACTIVE


def test_overwhelm_holds_lessons_then_checks_in_twice_at_most_then_waits_for_them(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    reply = person.says(
        ny(6, 13), "i cant do this right now. im so exhausted and everything feels like too much"
    )
    assert reply.label is ReplyLabel.OVERWHELMED

    assert person.story(ny(30, 23)) == [
        *JOINED,
        ("Lesson 1 text.", "Mon 06 09:00"),
        ("Question 1?", "Mon 06 12:00"),
        ("[overwhelmed_ack]", "Mon 06 13:00"),
        # Held for three days, then one check-in...
        ("[check_in]", "Thu 09 09:00"),
        # ...one more a week later when it goes unanswered, and then nothing.
        ("[check_in]", "Thu 16 09:00"),
    ]
    assert person.state() is SubscriptionState.DORMANT

    # When they write again, the course picks up gently: the next lesson tomorrow.
    person.says(ny(30, 18), "ok. i think im ready to try again")
    assert person.story(ny(31, 10))[-1] == ("Lesson 2 text.", "Fri 01 09:00")


def test_a_silent_subscriber_gets_lessons_less_often_then_one_check_in_then_nothing(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))

    assert person.story(ny(30, 23)) == [
        *JOINED,
        ("Lesson 1 text.", "Mon 06 09:00"),
        ("Question 1?", "Mon 06 12:00"),
        ("Lesson 2 text.", "Tue 07 09:00"),
        ("Question 2?", "Tue 07 12:00"),
        ("Lesson 3 text.", "Wed 08 09:00"),
        ("Question 3?", "Wed 08 12:00"),
        # Two questions unanswered in a row: every other day from here.
        ("Lesson 4 text.", "Fri 10 09:00"),
        ("Question 4?", "Fri 10 12:00"),
        # Four unanswered: one check-in instead of the lesson, and then quiet.
        ("[check_in]", "Sun 12 09:00"),
    ]
    assert person.state() is SubscriptionState.DORMANT


def test_a_crisis_reply_mid_course_gets_the_crisis_lines_holds_lessons_and_alerts_the_team(
    client: FlaskClient,
    tiny: Course,
    worker: Worker,
    broker: BrokerSpace,
    alert_inbox: AlertInbox,
    caplog: pytest.LogCaptureFixture,
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    person.says(ny(7, 13), "ok")
    reply = person.says(ny(8, 13), "i have pills saved up and i dont see the point anymore")
    assert reply.label is ReplyLabel.CRISIS
    assert reply.needs_review

    # The crisis lines at once, and then nothing for a week: lessons wait for a person.
    assert person.story(ny(15, 23))[-2:] == [
        ("Question 3?", "Wed 08 12:00"),
        ("[crisis_response]", "Wed 08 13:00"),
    ]
    assert person.state() is SubscriptionState.HELD

    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.status is AlertStatus.OPEN
    assert alert.message_id == reply.id
    [posted] = alert_inbox.received
    assert posted["alert"] == alert.id
    assert PHONE not in json.dumps(posted) and "pills" not in json.dumps(posted)
    assert any(r.levelname == "WARNING" and "crisis" in r.getMessage() for r in caplog.records)
    assert not any(PHONE in r.getMessage() for r in caplog.records)

    # They resume themselves: lessons start again at the next daily slot.
    person.says(ny(16, 8), "RESUME")
    assert person.story(ny(16, 10))[-2:] == [
        ("[resume_confirmation]", "Thu 16 08:00"),
        ("Lesson 4 text.", "Thu 16 09:00"),
    ]


def test_plain_language_pause_time_and_stop_act_like_their_keywords(
    client: FlaskClient, tiny: Course, worker: Worker, broker: BrokerSpace
) -> None:
    person = Person(client, broker)
    person.join(ny(6, 7))
    assert person.says(ny(6, 13), "can we take a break for a week").label is ReplyLabel.PAUSE
    assert (
        person.says(ny(14, 10), "could you send these in the evening instead, like 7pm").label
        is ReplyLabel.RESCHEDULE
    )
    assert person.says(ny(17, 20), "please stop texting me").label is ReplyLabel.OPT_OUT

    assert person.story(ny(25, 23)) == [
        *JOINED,
        ("Lesson 1 text.", "Mon 06 09:00"),
        ("Question 1?", "Mon 06 12:00"),
        ("[pause_confirmation]", "Mon 06 13:00"),
        ("Lesson 2 text.", "Mon 13 09:00"),
        ("Question 2?", "Mon 13 12:00"),
        ("Lesson 3 text.", "Tue 14 09:00"),
        # The new time applies from the next day on; the question is not skipped.
        ("[time_confirmation]", "Tue 14 10:00"),
        ("Question 3?", "Tue 14 12:00"),
        # Commands are not answers: two questions unanswered, so every other day now.
        ("Lesson 4 text.", "Thu 16 19:00"),
        ("Question 4?", "Fri 17 08:00"),
        ("[stop_confirmation]", "Fri 17 20:00"),
        # And nothing after it.
    ]
    assert person.state() is SubscriptionState.OPTED_OUT
