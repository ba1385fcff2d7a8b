"""Texts from numbers that are not (yet) in a course."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask.testing import FlaskClient
from inbound_support import Handset, set_clock, webhook_config

from dripper.clock import sandbox_clock
from dripper.extensions import db
from dripper.models import Course, MessageKind, SubscriptionState

NEW_YORK = ZoneInfo("America/New_York")
MORNING = datetime(2026, 6, 2, 10, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def stranger(client: FlaskClient, course: Any) -> Handset:
    set_clock(MORNING)
    return Handset(client, "+13125550188")


@pytest.fixture
def second_course(course: Course) -> Course:
    other = Course(
        slug="staying-calm",
        title="Staying Calm",
        keyword="CALM",
        description="Breathing room.",
        pacing=dict(course.pacing),
        messages={
            name: text.replace("Working with Resistance", "Staying Calm")
            for name, text in course.messages.items()
        },
    )
    db.session.add(other)
    db.session.commit()
    return other


def test_plain_text_from_an_unknown_number_gets_one_join_hint_a_day(
    stranger: Handset, course: Any
) -> None:
    for body in ["hi", "who is this?", "hello??"]:
        stranger.text(body)

    [hint] = stranger.new_replies()
    assert hint.kind is MessageKind.JOIN_HINT
    assert hint.body == course.message("join_hint")
    assert stranger.subscription() is None  # remembered, but not subscribed

    sandbox_clock().advance(timedelta(days=1))
    stranger.text("hello again")
    stranger.text("and again")
    assert [m.kind for m in stranger.new_replies()] == [MessageKind.JOIN_HINT]


@pytest.mark.parametrize("body", ["", "YES", "MORE", "PAUSE 3", "TIME 7pm", "🙂"])
def test_other_words_from_an_unknown_number_get_the_join_hint(stranger: Handset, body: str) -> None:
    stranger.text(body)

    assert [m.kind for m in stranger.new_replies()] == [MessageKind.JOIN_HINT]
    assert stranger.subscription() is None


def test_help_from_an_unknown_number_is_answered(stranger: Handset, course: Any) -> None:
    stranger.text("info")

    [reply] = stranger.new_replies()
    assert reply.kind is MessageKind.HELP
    assert reply.body == course.message("help")


@pytest.mark.parametrize("word", ["JOIN", "start", "Subscribe", "resist", "RESIST!"])
def test_a_join_word_or_the_course_keyword_asks_for_confirmation(
    stranger: Handset, word: str
) -> None:
    stranger.text(word)

    assert [m.kind for m in stranger.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]
    subscription = stranger.subscription()
    assert subscription is not None and subscription.state is SubscriptionState.PENDING


def test_a_new_subscriber_gets_the_time_zones_of_their_number(
    client: FlaskClient, course: Any
) -> None:
    set_clock(MORNING)
    phone = Handset(client, "+447400123456")
    phone.text("JOIN")

    subscriber = phone.subscriber()
    assert subscriber is not None
    assert subscriber.phone == "+447400123456"
    assert subscriber.time_zones == [
        "Europe/Guernsey",
        "Europe/Isle_of_Man",
        "Europe/Jersey",
        "Europe/London",
    ]


def test_with_several_courses_join_picks_the_first_and_a_keyword_picks_its_own(
    client: FlaskClient, course: Course, second_course: Course
) -> None:
    set_clock(MORNING)
    first, second = Handset(client, "+13125550101"), Handset(client, "+13125550102")

    first.text("JOIN")
    second.text("calm")

    assert first.subscription().course_id == course.id  # type: ignore[union-attr]
    assert second.subscription().course_id == second_course.id  # type: ignore[union-attr]
    [request] = second.new_replies()
    assert request.body.startswith("Staying Calm")


def test_yes_confirms_the_course_that_asked(
    client: FlaskClient, course: Course, second_course: Course
) -> None:
    set_clock(MORNING)
    phone = Handset(client)
    phone.text("CALM")
    phone.text("YES")

    welcome = phone.new_replies()[-1]
    assert welcome.kind is MessageKind.WELCOME
    assert "Staying Calm starts today at 9:00 AM" not in welcome.body  # 9:00 has passed
    assert "Staying Calm starts tomorrow at 9:00 AM" in welcome.body
