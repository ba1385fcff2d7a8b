"""Replies read as answers to the course's own questions, end to end: people text through
the signed webhook, the reply is read with the question it answers, and real Celery
workers on the sandbox clock send what its pacing says, when (issue 10).

The course is the shipped one (``lessons/working-with-resistance.yaml``): lesson 1 at
09:00 New York time, its question at 12:00.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from conftest import LESSONS
from drip_support import SandboxRun
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import AUTH_TOKEN, Handset
from test_readiness_pacing import AlertInbox

from dripper.clock import sandbox_clock
from dripper.courses.spec import load
from dripper.courses.store import import_course
from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Alert,
    AlertStatus,
    Course,
    Direction,
    Message,
    MessageKind,
    SubscriberStatus,
    SubscriptionState,
)
from dripper_testkit.workers import BrokerSpace, Worker

NEW_YORK = ZoneInfo("America/New_York")
SHIPPED = LESSONS / "working-with-resistance.yaml"

#: Answers to question 1 ("Who are you hoping to help, and what usually happens when you
#: reach out to them?") that describe the loved one's pushback: engagement, every one.
PUSHBACK = [
    "He just says he's a grown man and can handle it.",
    "She rolls her eyes and tells me to stop reading self-help stuff.",
    "He stays in his room all day and barely eats with us anymore.",
    "My son says he's fine and tells me to leave him alone.",
    "My brother just stops answering my texts for days.",
    "My mom says she doesn't have a problem and hangs up on me.",
]
DANGER = "he took a whole bottle of pills an hour ago and won't wake up"


def ny(day: int, hour: int, minute: int = 0) -> datetime:
    """A New York time, ``day`` counted from April 1, 2026 (the 6th is a Monday)."""
    return datetime(2026, 4, 1, hour, minute, tzinfo=NEW_YORK) + timedelta(days=day - 1)


def phone(n: int) -> str:
    return f"+1212555{n:04d}"  # Manhattan: America/New_York


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
def shipped(app: Flask) -> Course:
    import_course(load(SHIPPED))
    db.session.commit()
    return db.session.scalars(sa.select(Course)).one()


class Room:
    """Several people on the shipped course, and the drip running around them."""

    def __init__(self, client: FlaskClient, broker: BrokerSpace) -> None:
        self.client = client
        self.run = SandboxRun(broker)

    def join(self, at: datetime, *numbers: str) -> list[Handset]:
        sandbox_clock().set(at)
        phones = [Handset(self.client, number) for number in numbers]
        for handset in phones:
            handset.text("JOIN")
            handset.text("YES")
        self.run.settle(at)
        return phones

    def says(self, at: datetime, handset: Handset, body: str) -> Message:
        """Let the drip run up to ``at``, then text ``body``; returns the stored reply."""
        self.run.until(at)
        handset.text(body)
        self.run.settle(at)
        return db.session.scalars(
            sa.select(Message)
            .where(Message.phone == handset.phone, Message.direction == Direction.INBOUND)
            .order_by(Message.id.desc())
        ).first()  # type: ignore[return-value]

    def story(self, handset: Handset, since: datetime) -> list[tuple[str, str]]:
        """What ``handset`` was sent from ``since`` on: (kind, local day and time)."""
        return [
            (
                message.kind.value,
                self.run.sent_at[message.id].astimezone(NEW_YORK).strftime("%a %d %H:%M"),
            )
            for message in handset.all_replies()
            if self.run.sent_at[message.id] >= since
        ]


def test_six_people_describing_their_loved_ones_pushback_get_the_next_lesson_the_next_day(
    client: FlaskClient,
    shipped: Course,
    worker: Worker,
    broker: BrokerSpace,
    alert_inbox: AlertInbox,
) -> None:
    room = Room(client, broker)
    people = room.join(ny(6, 7), *(phone(n) for n in range(101, 107)))
    question = shipped.lessons[0].question
    for handset, answer in zip(people, PUSHBACK, strict=True):
        reply = room.says(ny(6, 13), handset, answer)
        assert reply.label is ReplyLabel.ENGAGED, answer
        # Stored with the question it answers: question 1, as sent to this person.
        assert reply.answers is not None
        assert reply.answers.kind is MessageKind.QUESTION
        assert reply.answers.body == question
        assert reply.answers.subscription_id == reply.subscription_id

    room.run.until(ny(7, 23))
    for handset in people:
        # No crisis lines, no "you don't have to agree": the next lesson, next morning.
        assert room.story(handset, ny(6, 12)) == [
            ("question", "Mon 06 12:00"),
            ("lesson", "Tue 07 09:00"),
            ("question", "Tue 07 12:00"),
        ], handset.phone
        assert handset.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]
    assert db.session.scalars(sa.select(Alert)).all() == []
    assert alert_inbox.received == []


def test_an_answer_describing_real_danger_gets_the_crisis_lines_at_once(
    client: FlaskClient,
    shipped: Course,
    worker: Worker,
    broker: BrokerSpace,
    alert_inbox: AlertInbox,
) -> None:
    room = Room(client, broker)
    [person] = room.join(ny(6, 7), phone(201))
    reply = room.says(ny(6, 13), person, DANGER)
    assert reply.label is ReplyLabel.CRISIS
    assert reply.answers is not None and reply.answers.kind is MessageKind.QUESTION

    room.run.until(ny(9, 23))
    assert room.story(person, ny(6, 12)) == [
        ("question", "Mon 06 12:00"),
        ("crisis_response", "Mon 06 13:00"),
    ]
    assert person.subscription().state is SubscriptionState.HELD  # type: ignore[union-attr]
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert (alert.kind, alert.status, alert.message_id) == ("crisis", AlertStatus.OPEN, reply.id)
    assert [posted["kind"] for posted in alert_inbox.received] == ["crisis"]


def test_a_worry_that_may_be_danger_alerts_the_team_for_review_without_the_crisis_lines(
    client: FlaskClient,
    shipped: Course,
    worker: Worker,
    broker: BrokerSpace,
    alert_inbox: AlertInbox,
) -> None:
    room = Room(client, broker)
    [person] = room.join(ny(6, 7), phone(301))
    reply = room.says(ny(6, 13), person, "if he starts driving drunk again i'd call his sponsor")
    assert reply.label is not ReplyLabel.CRISIS
    assert reply.needs_review

    room.run.until(ny(8, 23))
    kinds = [kind for kind, _ in room.story(person, ny(6, 12))]
    # Nothing said back, no crisis lines, lessons not held: paced by its label, gently
    # (it waits for review), so the next lesson comes.
    assert "crisis_response" not in kinds and "acknowledgement" not in kinds
    assert "lesson" in kinds
    assert person.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]

    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert (alert.kind, alert.status, alert.message_id) == ("review", AlertStatus.OPEN, reply.id)
    [posted] = alert_inbox.received
    assert posted["kind"] == "review"
    assert "Lessons are held" not in posted["text"]
    assert person.phone not in json.dumps(posted) and "drunk" not in json.dumps(posted)


def test_who_keeps_texting_me_gets_the_help_text_and_is_never_an_opt_out(
    client: FlaskClient, shipped: Course, worker: Worker, broker: BrokerSpace
) -> None:
    room = Room(client, broker)
    [person] = room.join(ny(6, 7), phone(401))
    reply = room.says(ny(6, 13), person, "who keeps texting me")
    assert reply.label is ReplyLabel.HELP

    room.run.until(ny(7, 23))
    replies = [m for m in person.all_replies() if room.run.sent_at[m.id] >= ny(6, 13)]
    assert [m.kind for m in replies][:1] == [MessageKind.HELP]
    assert replies[0].body == shipped.message("help")
    assert person.subscriber().status is not SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert person.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]
    assert "lesson" in [m.kind.value for m in replies]


def test_what_do_you_mean_after_the_question_gets_a_short_answer_not_the_help_text(
    client: FlaskClient, shipped: Course, worker: Worker, broker: BrokerSpace
) -> None:
    room = Room(client, broker)
    [person, other] = room.join(ny(6, 7), phone(601), phone(602))
    reply = room.says(ny(6, 13), person, "what do you mean by that?")
    assert (reply.label, reply.needs_review) == (ReplyLabel.ENGAGED, True)  # the team reads it
    assert reply.answers is not None and reply.answers.kind is MessageKind.QUESTION

    room.run.until(ny(7, 23))
    answers = [m for m in person.all_replies() if room.run.sent_at[m.id] >= ny(6, 13)]
    assert MessageKind.HELP not in [m.kind for m in answers]
    assert answers[0].body.startswith("Good question.")
    # Not an answer yet, so the pace is untouched: the next lesson when a silent person's comes.
    assert room.story(person, ny(6, 14)) == room.story(other, ny(6, 14))


def test_a_reply_before_the_question_comes_answers_the_lesson_and_an_old_one_answers_nothing(
    client: FlaskClient, shipped: Course, worker: Worker, broker: BrokerSpace
) -> None:
    room = Room(client, broker)
    [person] = room.join(ny(6, 7), phone(501))
    early = room.says(ny(6, 10), person, "this one hit home")
    assert early.answers is not None and early.answers.kind is MessageKind.LESSON
    assert early.answers.lesson_id == shipped.lessons[0].id

    # Paused for a week: no question within the course's 72 hours when they write again.
    room.says(ny(7, 10), person, "PAUSE")
    late = room.says(ny(11, 10), person, "still thinking about it")
    assert late.answers is None
