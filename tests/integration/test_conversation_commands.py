"""Keywords from a subscriber: PAUSE, RESUME, MORE/NEXT, TIME, YES, JOIN, and free text."""

from __future__ import annotations

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import Handset, confirmed_handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.keywords import STOP_WORDS
from dripper.models import (
    Direction,
    Lesson,
    Message,
    MessageKind,
    SubscriberStatus,
    SubscriptionState,
)
from dripper.subscriptions import states

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)  # a Tuesday


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    """A confirmed subscriber, replies read."""
    return confirmed_handset(client, AFTERNOON)


def only_reply(phone: Handset) -> Message:
    replies = phone.new_replies()
    assert len(replies) == 1, [(m.kind, m.body) for m in replies]
    return replies[0]


@pytest.mark.parametrize("written", ["pause", " Pause! ", "PAUSE.", "'pause'"])
def test_pause_holds_lessons_for_the_course_default_of_seven_days(
    phone: Handset, written: str
) -> None:
    phone.text(written)

    reply = only_reply(phone)
    assert reply.kind is MessageKind.PAUSE_CONFIRMATION
    assert "Tue Jun 9" in reply.body  # a week from today, in their words
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.PAUSED
    assert subscription.paused_until.astimezone(NEW_YORK).date().isoformat() == "2026-06-09"


def test_pause_with_a_number_of_days(phone: Handset) -> None:
    phone.text("PAUSE 3")

    assert "Fri Jun 5" in only_reply(phone).body
    assert phone.subscription().state is SubscriptionState.PAUSED  # type: ignore[union-attr]


def test_pause_with_an_impossible_number_says_how_to_write_it(phone: Handset) -> None:
    phone.text("PAUSE 500")

    reply = only_reply(phone)
    assert reply.kind is MessageKind.NOTICE
    assert "PAUSE 3" in reply.body
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


def test_resume_after_a_pause_says_when_the_next_lesson_comes(phone: Handset) -> None:
    phone.text("PAUSE 3")
    phone.new_replies()
    phone.text("RESUME")

    reply = only_reply(phone)
    assert reply.kind is MessageKind.RESUME_CONFIRMATION
    assert "tomorrow at 9:00 AM" in reply.body
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


@pytest.mark.parametrize("word", ["MORE", "next"])
def test_more_schedules_the_next_lesson_now_and_the_lesson_is_the_answer(
    phone: Handset, word: str
) -> None:
    phone.text(word)

    assert phone.new_replies() == []
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.next_action == states.NextAction.LESSON
    assert subscription.next_send_at <= AFTERNOON + timedelta(minutes=1)


def test_more_beyond_the_daily_limit_says_so(phone: Handset) -> None:
    phone.text("MORE")
    phone.text("MORE")
    assert phone.new_replies() == []

    phone.text("MORE")
    assert only_reply(phone).kind is MessageKind.MORE_LIMIT


@pytest.mark.parametrize(
    ("written", "at", "said"),
    [
        ("TIME 7pm", time(19, 0), "7:00 PM"),
        ("time 19:30", time(19, 30), "7:30 PM"),
        ("TIME 10:30 am", time(10, 30), "10:30 AM"),
        ("Time 8.15am", time(8, 15), "8:15 AM"),
    ],
)
def test_time_changes_the_daily_lesson_time(
    phone: Handset, written: str, at: time, said: str
) -> None:
    phone.text(written)

    reply = only_reply(phone)
    assert reply.kind is MessageKind.TIME_CONFIRMATION
    assert said in reply.body
    assert phone.subscriber().send_time == at  # type: ignore[union-attr]


def test_time_outside_the_sending_window_says_which_hours_are_possible(phone: Handset) -> None:
    phone.text("TIME 7:30 am")

    reply = only_reply(phone)
    assert reply.kind is MessageKind.NOTICE
    assert "8:00 AM" in reply.body and "9:00 PM" in reply.body
    assert phone.subscriber().send_time == time(9, 0)  # type: ignore[union-attr]


@pytest.mark.parametrize("written", ["TIME 25:00", "TIME soon", "TIME 7:75pm"])
def test_time_that_is_not_a_time_says_how_to_write_it(phone: Handset, written: str) -> None:
    phone.text(written)

    reply = only_reply(phone)
    assert reply.kind is MessageKind.NOTICE
    assert "TIME 7pm" in reply.body
    assert phone.subscriber().send_time == time(9, 0)  # type: ignore[union-attr]


def test_free_text_is_filed_under_the_current_lesson_and_not_answered(
    phone: Handset, course: Any
) -> None:
    subscription = phone.subscription()
    assert subscription is not None
    lesson = db.session.scalar(sa.select(Lesson).order_by(Lesson.position))
    states.lesson_sent(subscription, lesson.id, AFTERNOON)
    db.session.commit()

    phone.text("She actually listened today. First time in months.")

    assert phone.new_replies() == []
    db.session.expire_all()
    reply = db.session.scalar(
        sa.select(Message).where(Message.direction == Direction.INBOUND).order_by(Message.id.desc())
    )
    assert reply is not None
    assert reply.subscription_id == subscription.id
    assert reply.lesson_id == lesson.id
    assert phone.subscription().last_reply_at is not None  # type: ignore[union-attr]


def test_yes_from_someone_already_in_the_course_is_just_a_reply(phone: Handset) -> None:
    phone.text("YES")

    assert phone.new_replies() == []
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


def test_join_again_while_in_the_course_says_so_without_restarting(phone: Handset) -> None:
    phone.text("JOIN")

    reply = only_reply(phone)
    assert reply.kind is MessageKind.NOTICE
    assert "already signed up" in reply.body
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


@pytest.mark.parametrize("word", sorted(STOP_WORDS))
def test_every_stop_word_opts_out_at_once(phone: Handset, word: str) -> None:
    phone.text(f" {word.lower()}! ")

    assert only_reply(phone).kind is MessageKind.STOP_CONFIRMATION
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]


def test_a_keyword_inside_a_sentence_is_free_text(phone: Handset) -> None:
    phone.text("I can't stop thinking about this lesson")

    assert phone.new_replies() == []
    assert phone.subscriber().status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]


def test_pause_and_time_before_confirming_are_not_acted_on(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    phone = Handset(client)
    phone.text("JOIN")
    phone.new_replies()

    phone.text("PAUSE")
    phone.text("TIME 7pm")

    assert phone.new_replies() == []
    assert phone.subscription().state is SubscriptionState.PENDING  # type: ignore[union-attr]
