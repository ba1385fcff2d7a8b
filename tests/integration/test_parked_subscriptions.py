"""A subscription whose send always fails is parked after a few tries, with a reason an
admin can read, and comes back when the person texts or an admin resumes it."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from inbound_support import Handset, confirmed_handset, webhook_config

from dripper.clock import now, sandbox_clock
from dripper.drip.tasks import perform_many
from dripper.drip.tick import claim_one
from dripper.extensions import db
from dripper.models import Course, SubscriptionState
from dripper.subscriptions.states import NextAction

NEW_YORK = ZoneInfo("America/New_York")
MONDAY_8AM = datetime(2026, 3, 9, 8, 0, tzinfo=NEW_YORK)
MAX_FAILURES = 3


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path, DRIP_MAX_FAILURES=MAX_FAILURES)


def broken_offer(handset: Handset, course: Course) -> int:
    """The person is due an offer of the next lesson, but the course lost that message
    (an edit gone wrong): every send of theirs raises."""
    subscription = handset.subscription()
    assert subscription is not None
    course.messages = {k: v for k, v in course.messages.items() if k != "next_offer"}
    subscription.next_action = NextAction.OFFER
    subscription.next_send_at = now()
    db.session.commit()
    return subscription.id


def send_when_due(subscription_id: int) -> bool:
    """One round of the drip for this subscription, as the tick and a worker do it;
    False when it was not due (nothing claimed)."""
    token = claim_one(subscription_id)
    db.session.commit()
    if token is None:
        return False
    perform_many([subscription_id], token)
    return True


def fail_until_parked(app: Flask, subscription_id: int) -> int:
    rounds = 0
    while send_when_due(subscription_id):
        rounds += 1
        assert rounds <= MAX_FAILURES, "still tried after the limit"
        # The failed claim is taken again once it times out (every 10 minutes).
        sandbox_clock().advance(timedelta(seconds=app.config["DRIP_CLAIM_TIMEOUT"] + 60))
    return rounds


def test_a_subscription_whose_send_always_fails_is_parked_with_a_reason(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, course: Course
) -> None:
    handset = confirmed_handset(client, MONDAY_8AM)
    subscription_id = broken_offer(handset, course)

    assert fail_until_parked(app, subscription_id) == MAX_FAILURES

    subscription = handset.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.PARKED
    assert subscription.next_send_at is None
    assert "failed 3 times in a row" in (subscription.parked_reason or "")
    assert handset.new_replies() == []
    sandbox_clock().advance(timedelta(days=2))
    assert not send_when_due(subscription_id)  # no more tries

    exported = json.loads(runner.invoke(args=["subscriber", "export", handset.phone]).output)
    [course_entry] = exported["subscriptions"]
    assert course_entry["state"] == "parked"
    assert "KeyError" in course_entry["parked_reason"]
    assert course_entry["parked_at"]
    listing = runner.invoke(args=["subscriber", "parked"])
    assert listing.exit_code == 0
    assert course.slug in listing.output and "failed 3 times" in listing.output
    assert handset.phone not in listing.output  # masked


def test_a_text_from_the_person_unparks_their_course(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, course: Course
) -> None:
    handset = confirmed_handset(client, MONDAY_8AM)
    subscription_id = broken_offer(handset, course)
    fail_until_parked(app, subscription_id)

    handset.text("sorry, been busy. still here")

    subscription = handset.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.ACTIVE
    assert subscription.next_action == NextAction.LESSON
    assert subscription.next_send_at is not None
    assert (subscription.parked_at, subscription.parked_reason) == (None, None)
    assert subscription.failure_count == 0
    assert "no parked" in runner.invoke(args=["subscriber", "parked"]).output


def test_subscriber_resume_unparks_a_course(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, course: Course
) -> None:
    handset = confirmed_handset(client, MONDAY_8AM)
    subscription_id = broken_offer(handset, course)
    fail_until_parked(app, subscription_id)

    result = runner.invoke(args=["subscriber", "resume", handset.phone])

    assert result.exit_code == 0, result.output
    subscription = handset.subscription()
    assert subscription is not None
    assert subscription.state is SubscriptionState.ACTIVE
    assert subscription.next_action == NextAction.LESSON
    assert subscription.parked_reason is None
