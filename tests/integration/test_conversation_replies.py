"""Replies in a person's own words, through the signed webhook: what each is labelled,
what it is answered with, and what it changes. (The drip's side of each pacing rule,
through real workers, is in test_readiness_pacing.py.)"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask.testing import FlaskClient
from inbound_support import Handset, confirmed_handset, set_clock, webhook_config

from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Alert,
    AlertKind,
    Direction,
    Message,
    MessageKind,
    SubscriberStatus,
    SubscriptionState,
)
from dripper.subscriptions import states
from dripper_testkit.builders import outbound_message

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)  # a Tuesday


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


@pytest.fixture
def phone(client: FlaskClient, course: Any) -> Handset:
    """A confirmed subscriber, replies read."""
    return confirmed_handset(client, AFTERNOON)


def last_inbound(phone: Handset) -> Message:
    db.session.expire_all()
    message = db.session.scalars(
        sa.select(Message)
        .where(Message.phone == phone.phone, Message.direction == Direction.INBOUND)
        .order_by(Message.id.desc())
    ).first()
    assert message is not None
    return message


def test_every_reply_is_stored_with_its_label_and_confidence(phone: Handset) -> None:
    phone.text("i never thought of it that way. i want to try asking her what she needs")

    reply = last_inbound(phone)
    assert reply.label is ReplyLabel.ENGAGED
    assert 0.5 <= (reply.confidence or 0) <= 1
    assert reply.needs_review is False
    assert reply.subscription_id == phone.subscription().id  # type: ignore[union-attr]
    assert phone.new_replies() == []  # an engaged reply needs no answer


@pytest.mark.parametrize(
    "body",
    ["please stop texting me", "take me off this list", "I want out, don't text me anymore"],
)
def test_a_plain_language_opt_out_is_honoured_at_once(phone: Handset, body: str) -> None:
    phone.text(body)

    assert [m.kind for m in phone.new_replies()] == [MessageKind.STOP_CONFIRMATION]
    assert last_inbound(phone).label is ReplyLabel.OPT_OUT
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert phone.subscription().state is SubscriptionState.OPTED_OUT  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        "I need to stop rescuing him",
        "I'm going to quit nagging",
        "can't stop thinking about that lesson",
    ],
)
def test_the_word_stop_inside_a_reply_is_not_an_opt_out(phone: Handset, body: str) -> None:
    phone.text(body)

    assert last_inbound(phone).label is not ReplyLabel.OPT_OUT
    assert phone.subscriber().status is SubscriberStatus.ACTIVE  # type: ignore[union-attr]
    assert MessageKind.STOP_CONFIRMATION not in [m.kind for m in phone.new_replies()]


def test_a_plain_language_pause_holds_lessons_for_the_days_asked(phone: Handset) -> None:
    phone.text("can we take a break for a week")

    [reply] = phone.new_replies()
    assert reply.kind is MessageKind.PAUSE_CONFIRMATION
    assert "Tue Jun 9" in reply.body
    assert phone.subscription().state is SubscriptionState.PAUSED  # type: ignore[union-attr]


def test_a_plain_language_time_change_moves_the_daily_lesson(phone: Handset) -> None:
    phone.text("could you send these in the evening instead, like 7pm")

    [reply] = phone.new_replies()
    assert reply.kind is MessageKind.TIME_CONFIRMATION
    assert "7:00 PM" in reply.body
    assert phone.subscriber().send_time.hour == 19  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "body",
    [
        "I have pills saved up",
        "my son said he wants to kill himself",
        "he hit me again and I'm scared to go home",
        "kms",
    ],
)
def test_a_crisis_reply_gets_the_crisis_lines_holds_lessons_and_opens_an_alert(
    phone: Handset, body: str, course: Any
) -> None:
    phone.text(body)

    [reply] = phone.new_replies()
    assert reply.kind is MessageKind.CRISIS_RESPONSE
    assert "988" in reply.body and "911" in reply.body
    message = last_inbound(phone)
    assert message.label is ReplyLabel.CRISIS
    assert message.needs_review  # a person reads every crisis
    assert phone.subscription().state is SubscriptionState.HELD  # type: ignore[union-attr]
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.message_id == message.id


@pytest.mark.parametrize("body", ["this week is killing me", "I'm dying to try this"])
def test_hyperbole_is_not_a_crisis(phone: Handset, body: str) -> None:
    phone.text(body)

    assert last_inbound(phone).label is not ReplyLabel.CRISIS
    assert db.session.scalars(sa.select(Alert)).all() == []


@pytest.mark.parametrize(
    "body", ["who keeps texting me", "who is this", "what is this number", "is this a bot"]
)
def test_a_question_about_us_gets_the_help_text_and_never_opts_out(
    phone: Handset, body: str
) -> None:
    phone.text(body)

    assert [m.kind for m in phone.new_replies()] == [MessageKind.HELP]
    assert last_inbound(phone).label is ReplyLabel.HELP
    assert phone.subscriber().status is not SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]


def test_a_progress_report_the_model_is_unsure_of_is_not_answered_with_the_help_text(
    phone: Handset,
) -> None:
    phone.text("Did it twice today, easier the second time")

    assert MessageKind.HELP not in [m.kind for m in phone.new_replies()]
    reply = last_inbound(phone)
    assert reply.label is not ReplyLabel.HELP
    assert reply.needs_review is True  # unsure: the team reads it


def test_an_unsure_guess_at_more_sends_no_extra_lesson(phone: Handset) -> None:
    before = phone.subscription()
    assert before is not None
    next_send_at = before.next_send_at

    phone.text("kill me now, another family meeting tomorrow")

    assert last_inbound(phone).label not in (ReplyLabel.MORE, ReplyLabel.CRISIS)
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.extra_count == 0
    assert subscription.next_send_at is None or subscription.next_send_at >= next_send_at  # type: ignore[operator]


@pytest.mark.parametrize(
    "body",
    [
        "He stays in his room all day and barely eats with us anymore.",
        "if he starts driving drunk again i'd call his sponsor and maybe the police",
        "my brother. he drinks every night and i'm scared it'll kill him one day",
    ],
)
def test_a_worry_about_the_loved_one_gets_no_crisis_lines(phone: Handset, body: str) -> None:
    phone.text(body)

    assert MessageKind.CRISIS_RESPONSE not in [m.kind for m in phone.new_replies()]
    assert last_inbound(phone).label is not ReplyLabel.CRISIS
    assert phone.subscription().state is not SubscriptionState.HELD  # type: ignore[union-attr]


def test_a_loved_one_who_would_rather_die_than_get_help_is_put_before_the_team(
    phone: Handset,
) -> None:
    phone.text("He said he'd rather die than go to rehab")

    assert MessageKind.CRISIS_RESPONSE not in [m.kind for m in phone.new_replies()]
    message = last_inbound(phone)
    assert message.label is not ReplyLabel.CRISIS
    assert message.needs_review
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert (alert.message_id, alert.kind) == (message.id, AlertKind.REVIEW)
    assert phone.subscription().state is not SubscriptionState.HELD  # type: ignore[union-attr]


def test_a_crisis_reply_that_also_asks_to_stop_gets_the_crisis_lines_then_is_opted_out(
    phone: Handset,
) -> None:
    phone.text("stop texting me. i have pills saved up and im done")

    kinds = [m.kind for m in phone.new_replies()]
    assert kinds == [MessageKind.CRISIS_RESPONSE, MessageKind.STOP_CONFIRMATION]
    assert phone.subscriber().status is SubscriberStatus.OPTED_OUT  # type: ignore[union-attr]
    assert len(db.session.scalars(sa.select(Alert)).all()) == 1


def test_while_held_pause_and_more_do_not_restart_lessons(phone: Handset) -> None:
    phone.text("I have pills saved up")
    phone.new_replies()

    for body in ["PAUSE 3", "MORE", "ok"]:
        phone.text(body)
    assert phone.new_replies() == []
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.HELD
    assert subscription.next_send_at is None

    phone.text("RESUME")
    assert [m.kind for m in phone.new_replies()] == [MessageKind.RESUME_CONFIRMATION]
    assert phone.subscription().state is SubscriptionState.ACTIVE  # type: ignore[union-attr]


def test_while_held_plain_language_pause_and_more_do_not_restart_lessons(phone: Handset) -> None:
    phone.text("I have pills saved up")
    phone.new_replies()

    for body in ["can we take a break for a week", "can i have the next one now?"]:
        phone.text(body)
        assert last_inbound(phone).label in (ReplyLabel.PAUSE, ReplyLabel.MORE)
    assert phone.new_replies() == []
    subscription = phone.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.HELD
    assert subscription.next_send_at is None


def test_a_stranger_in_crisis_gets_the_crisis_lines_not_a_join_hint(
    client: FlaskClient, course: Any
) -> None:
    set_clock(AFTERNOON)
    stranger = Handset(client, "+13125550188")
    stranger.text("my son said he wants to kill himself, what do i do")

    [reply] = stranger.new_replies()
    assert reply.kind is MessageKind.CRISIS_RESPONSE
    [alert] = db.session.scalars(sa.select(Alert)).all()
    assert alert.subscription_id is None
    assert stranger.subscription() is None  # not signed up for anything


def test_the_crisis_lines_follow_the_country_of_the_number(
    client: FlaskClient, course: Any
) -> None:
    course.messages = {
        **course.messages,
        "crisis_response_GB": "If you are in danger call 999. Samaritans: call 116 123, free.",
    }
    db.session.commit()
    london = confirmed_handset(client, AFTERNOON, "+447700900123")
    london.text("I have pills saved up")

    [reply] = london.new_replies()
    assert reply.kind is MessageKind.CRISIS_RESPONSE
    assert "116 123" in reply.body


def test_acknowledgements_come_once_a_lesson_however_often_they_push_back(
    phone: Handset,
) -> None:
    subscription = phone.subscription()
    assert subscription is not None
    lesson = subscription.course.lessons[0]
    states.lesson_sent(subscription, lesson.id, AFTERNOON)
    db.session.commit()

    phone.text("honestly this doesnt apply to us. she just needs to get her act together")
    phone.text("yeah but you dont know him, talking wont change anything")

    replies = phone.new_replies()
    assert [m.kind for m in replies] == [MessageKind.ACKNOWLEDGEMENT]
    assert replies[0].body == subscription.course.message("resistant_ack")


def test_an_unreachable_number_that_texts_in_is_reachable_again(phone: Handset) -> None:
    subscriber = phone.subscriber()
    assert subscriber is not None
    states.mark_unreachable(subscriber, "30006")
    db.session.commit()

    phone.text("ok")

    subscriber = phone.subscriber()
    assert subscriber is not None
    assert subscriber.status is SubscriberStatus.ACTIVE
    subscription = phone.subscription()
    assert subscription is not None and subscription.next_send_at is not None


@pytest.mark.parametrize("body", ["", "🙂🙏", "x" * 1600, "merci, c'était très juste"])
def test_odd_replies_are_stored_and_labelled_without_error(phone: Handset, body: str) -> None:
    phone.text(body)

    message = last_inbound(phone)
    assert message.body == body
    assert message.label is not None


def test_a_text_acted_on_later_answers_what_we_had_sent_when_it_arrived(
    phone: Handset, client: FlaskClient
) -> None:
    from datetime import timedelta

    from inbound_support import inbound_params, post_signed, work_queued_texts

    from dripper.clock import now

    subscription = phone.subscription()
    assert subscription is not None
    asked = outbound_message(
        phone.phone, kind=MessageKind.QUESTION, body="What did she say when you offered?"
    )
    asked.subscription, asked.sent_at = subscription, now() - timedelta(hours=1)
    db.session.commit()
    # The reply waits for a worker; meanwhile the next question goes out.
    params = inbound_params(phone.phone, "she just laughed and changed the subject")
    assert post_signed(client, "/sms/inbound", params).status_code == 200
    set_clock(now() + timedelta(minutes=5))
    later = outbound_message(phone.phone, kind=MessageKind.QUESTION, body="A newer question?")
    later.subscription, later.sent_at = subscription, now()
    db.session.commit()

    assert work_queued_texts() == 1
    reply = last_inbound(phone)
    assert reply.answers_message_id == asked.id
