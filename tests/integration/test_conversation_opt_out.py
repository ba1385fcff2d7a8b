"""Opting out is immediate, recorded before Twilio hears back, confirmed once, and final
until the person texts START."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient
from inbound_support import NUMBER, Handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.models import Alert, Lesson, MessageKind, SubscriberStatus, SubscriptionState
from dripper.subscriptions import states

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    """A confirmed subscriber three lessons in, replies read."""
    set_clock(AFTERNOON)
    handset = Handset(client)
    handset.text("JOIN")
    handset.text("YES")
    subscription = handset.subscription()
    assert subscription is not None
    for lesson in db.session.scalars(sa.select(Lesson).order_by(Lesson.position).limit(3)):
        states.lesson_sent(subscription, lesson.id, AFTERNOON - timedelta(hours=1))
    db.session.commit()
    handset.new_replies()
    return handset


def test_the_opt_out_is_committed_by_the_time_the_webhook_answers(
    app: Flask, phone: Handset
) -> None:
    phone.text("STOP")

    # A connection of its own sees only what was committed.
    engine = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with engine.connect() as connection:
        status = connection.execute(
            sa.text("SELECT status, opted_out_at FROM subscriber WHERE phone = :phone"),
            {"phone": NUMBER},
        ).one()
        states_now = connection.execute(sa.text("SELECT state FROM subscription")).scalars()
        assert status.status == SubscriberStatus.OPTED_OUT.value
        assert status.opted_out_at is not None
        assert list(states_now) == [SubscriptionState.OPTED_OUT.value]
    engine.dispose()


def test_stop_mid_course_sends_nothing_more(phone: Handset) -> None:
    phone.text("stop")

    [confirmation] = phone.new_replies()
    assert confirmation.kind is MessageKind.STOP_CONFIRMATION
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.next_send_at is None and subscription.next_action is None

    for anything in ["wait, what?", "MORE", "RESUME", "TIME 7pm", "PAUSE 2", "YES", "JOIN"]:
        phone.text(anything)
    assert phone.new_replies() == []


def test_stop_twice_is_confirmed_once(phone: Handset) -> None:
    phone.text("STOP")
    phone.text("STOP")
    phone.text("UNSUBSCRIBE")

    assert [m.kind for m in phone.new_replies()] == [MessageKind.STOP_CONFIRMATION]


def test_help_after_opting_out_is_still_answered(phone: Handset, course: Any) -> None:
    # Carriers expect HELP to work whatever the status; it is the person asking.
    phone.text("STOP")
    phone.new_replies()

    phone.text("HELP")

    [reply] = phone.new_replies()
    assert reply.kind is MessageKind.HELP
    assert reply.body == course.message("help")
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]


def test_start_after_opting_out_picks_up_where_they_left_off(phone: Handset) -> None:
    phone.text("STOP")
    phone.new_replies()

    phone.text("start")

    [rejoin] = phone.new_replies()
    assert rejoin.kind is MessageKind.REJOIN
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.ACTIVE
    assert subscription.lessons_sent == 3
    assert subscription.next_action == states.NextAction.LESSON


def test_unstop_opts_back_in_like_start(phone: Handset) -> None:
    phone.text("STOP")
    phone.new_replies()

    phone.text("UNSTOP")

    assert [m.kind for m in phone.new_replies()] == [MessageKind.REJOIN]
    assert phone.subscriber().status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]


def test_start_after_opting_out_before_confirming_asks_to_confirm_again(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    phone = Handset(client)
    phone.text("JOIN")
    phone.text("STOP")
    phone.new_replies()

    phone.text("START")

    [request] = phone.new_replies()
    assert request.kind is MessageKind.CONFIRMATION_REQUEST
    assert phone.subscription().state is SubscriptionState.PENDING  # type: ignore[union-attr]

    phone.text("YES")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.WELCOME]


def test_stop_from_a_number_we_never_texted_is_recorded_and_confirmed(
    client: FlaskClient, course: Any
) -> None:
    phone = Handset(client, "+13125550188")

    phone.text("STOP")

    assert [m.kind for m in phone.new_replies()] == [MessageKind.STOP_CONFIRMATION]
    subscriber = phone.subscriber()
    assert subscriber is not None and subscriber.status is SubscriberStatus.OPTED_OUT

    phone.text("START")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.CONFIRMATION_REQUEST]


def test_a_crisis_text_after_stop_gets_the_crisis_lines_and_alerts_the_team_and_nothing_else(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    phone = Handset(client)
    phone.text("JOIN")
    phone.text("YES")
    phone.text("STOP")
    phone.new_replies()

    phone.text("i took all my pills and i want to die tonight")

    [reply] = phone.new_replies()
    assert reply.kind is MessageKind.CRISIS_RESPONSE
    assert "988" in reply.body and "911" in reply.body
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.message is not None and alert.message.body.startswith("i took all my pills")
    assert alert.subscription_id == phone.subscription().id  # type: ignore[union-attr]
    # Still opted out: no lessons, no acknowledgement, no join hint follow.
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert phone.subscription().state is SubscriptionState.OPTED_OUT  # type: ignore[union-attr]
    assert phone.subscription().next_send_at is None  # type: ignore[union-attr]
    phone.text("ok thanks")
    assert phone.new_replies() == []


def test_an_opt_out_from_a_stranger_still_gets_the_crisis_lines_when_in_danger(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    phone = Handset(client, "+13125550188")
    phone.text("STOP")
    phone.new_replies()

    phone.text("he hit me again and I'm scared to go home")

    assert [m.kind for m in phone.new_replies()] == [MessageKind.CRISIS_RESPONSE]
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.subscription_id is None
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
