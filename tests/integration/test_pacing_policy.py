"""The pacing policy: each label changes what happens next, never by pushing harder."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from dripper.conversation import apply
from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Alert,
    AlertStatus,
    Lesson,
    Subscriber,
    SubscriptionState,
)
from dripper.subscriptions import silence, states
from dripper.subscriptions.states import NextAction
from dripper_testkit.builders import reply_from as reply

NEW_YORK = ZoneInfo("America/New_York")
# Tuesday 2026-06-02, 10:00 in New York: the day's 9:00 lesson went out an hour ago.
LESSON_AT = datetime(2026, 6, 2, 9, 0, tzinfo=NEW_YORK)
NOW = datetime(2026, 6, 2, 10, 0, tzinfo=NEW_YORK)


@pytest.fixture
def subscription(app, course):
    subscriber = Subscriber(
        phone="+12125550123", time_zones=["America/New_York"], send_time=time(9)
    )
    db.session.add(subscriber)
    sub = states.subscribe(subscriber, course, NOW - timedelta(days=3))
    states.confirm(sub, NOW - timedelta(days=3))
    lesson = db.session.scalar(sa.select(Lesson).order_by(Lesson.position))
    states.lesson_sent(sub, lesson.id, LESSON_AT.astimezone(UTC))
    db.session.commit()
    return sub


def local(when: datetime) -> datetime:
    return when.astimezone(NEW_YORK)


@pytest.mark.parametrize("label", [ReplyLabel.ENGAGED, ReplyLabel.NEUTRAL, ReplyLabel.AMBIVALENT])
def test_engaged_neutral_and_ambivalent_replies_get_the_next_lesson_tomorrow(subscription, label):
    answer = apply.pace(subscription, reply(subscription), label, needs_review=False, now=NOW)
    assert answer is None
    assert subscription.next_action == NextAction.LESSON
    assert local(subscription.next_send_at) == datetime(2026, 6, 3, 9, 0, tzinfo=NEW_YORK)


def test_resistant_reply_is_acknowledged_once_and_the_next_lesson_waits_two_days(subscription):
    answer = apply.pace(
        subscription, reply(subscription), ReplyLabel.RESISTANT, needs_review=False, now=NOW
    )
    assert answer == "resistant_ack"
    assert local(subscription.next_send_at) == datetime(2026, 6, 4, 9, 0, tzinfo=NEW_YORK)
    assert subscription.state is SubscriptionState.ACTIVE


def test_two_resistant_replies_in_a_row_offer_the_next_lesson_after_three_days(subscription):
    apply.pace(subscription, reply(subscription), ReplyLabel.RESISTANT, needs_review=False, now=NOW)
    later = NOW + timedelta(hours=2)
    apply.pace(
        subscription, reply(subscription), ReplyLabel.RESISTANT, needs_review=False, now=later
    )
    assert subscription.resistant_streak == 2
    assert subscription.next_action == NextAction.OFFER
    assert local(subscription.next_send_at) == datetime(2026, 6, 5, 9, 0, tzinfo=NEW_YORK)


def test_an_engaged_reply_ends_a_resistant_streak(subscription):
    apply.pace(subscription, reply(subscription), ReplyLabel.RESISTANT, needs_review=False, now=NOW)
    apply.pace(subscription, reply(subscription), ReplyLabel.ENGAGED, needs_review=False, now=NOW)
    assert subscription.resistant_streak == 0
    assert subscription.next_action == NextAction.LESSON


def test_overwhelmed_reply_is_acknowledged_and_lessons_hold_for_a_check_in(subscription):
    answer = apply.pace(
        subscription, reply(subscription), ReplyLabel.OVERWHELMED, needs_review=False, now=NOW
    )
    assert answer == "overwhelmed_ack"
    assert subscription.next_action == NextAction.CHECK_IN
    assert local(subscription.next_send_at) == datetime(2026, 6, 5, 9, 0, tzinfo=NEW_YORK)


def test_low_confidence_takes_the_gentlest_pace_without_an_acknowledgement(subscription):
    answer = apply.pace(
        subscription, reply(subscription), ReplyLabel.ENGAGED, needs_review=True, now=NOW
    )
    assert answer is None
    assert local(subscription.next_send_at) == datetime(2026, 6, 4, 9, 0, tzinfo=NEW_YORK)


def test_crisis_holds_everything_and_opens_an_alert(subscription, caplog):
    message = reply(subscription, "i have pills saved up")
    answer = apply.pace(subscription, message, ReplyLabel.CRISIS, needs_review=False, now=NOW)
    db.session.commit()
    assert answer == "crisis_response"
    assert subscription.state is SubscriptionState.HELD and subscription.next_send_at is None
    alert = db.session.scalar(sa.select(Alert))
    assert alert.status is AlertStatus.OPEN and alert.message_id == message.id
    warning = [r for r in caplog.records if r.levelname == "WARNING" and "crisis" in r.getMessage()]
    assert warning and "+12125550123" not in warning[0].getMessage()
    assert "pills" not in caplog.text


def test_a_reply_during_a_crisis_hold_does_not_restart_lessons(subscription):
    apply.pace(subscription, reply(subscription), ReplyLabel.CRISIS, needs_review=False, now=NOW)
    apply.pace(subscription, reply(subscription), ReplyLabel.ENGAGED, needs_review=False, now=NOW)
    assert subscription.state is SubscriptionState.HELD and subscription.next_send_at is None


def test_a_reply_wakes_a_dormant_course_gently(subscription):
    states.go_dormant(subscription)
    apply.pace(subscription, reply(subscription), ReplyLabel.NEUTRAL, needs_review=False, now=NOW)
    assert subscription.state is SubscriptionState.ACTIVE
    assert subscription.next_action == NextAction.LESSON and subscription.next_send_at > NOW


def test_readiness_is_a_decaying_average(subscription):
    for label in (ReplyLabel.ENGAGED, ReplyLabel.ENGAGED, ReplyLabel.RESISTANT):
        apply.pace(subscription, reply(subscription), label, needs_review=False, now=NOW)
    assert subscription.readiness == pytest.approx(round(0.7 * round(0.7 * 0.3 + 0.3, 4) - 0.21, 4))


def test_silence_slows_the_pace_then_checks_in(subscription):
    subscription.unanswered_questions = 1
    assert silence.gap_after_question(subscription) == 1 and not silence.silent_too_long(
        subscription
    )
    subscription.unanswered_questions = 2
    assert silence.gap_after_question(subscription) == 2
    subscription.unanswered_questions = 4
    assert silence.silent_too_long(subscription)


def test_a_course_can_override_the_pacing(subscription):
    subscription.course.pacing = {**subscription.course.pacing, "resistant_days": 4}
    apply.pace(subscription, reply(subscription), ReplyLabel.RESISTANT, needs_review=False, now=NOW)
    assert local(subscription.next_send_at) == datetime(2026, 6, 6, 9, 0, tzinfo=NEW_YORK)
