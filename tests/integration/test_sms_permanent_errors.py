"""Permanent provider errors recorded: opt-out codes, unreachable handsets, carrier filtering."""

from __future__ import annotations

import pytest
from flask import Flask

from dripper.extensions import db
from dripper.models import (
    Course,
    Message,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    SubscriptionState,
)
from dripper.sms.errors import (
    Refusal,
    RefusalHandlerMissing,
    on_refusal,
    record_permanent_error,
)
from dripper_testkit import builders

PHONE = "+15005550123"


def outbound(subscriber: Subscriber | None, *, code: int | None = None) -> Message:
    return builders.outbound_message(
        PHONE, body="Day 1", status=MessageStatus.FAILED, subscriber=subscriber, error_code=code
    )


@pytest.fixture
def subscriber(app: Flask, course: Course) -> Subscriber:
    person = builders.subscriber(PHONE, course=course)
    db.session.commit()
    return person


def test_opt_out_code_opts_the_person_out_everywhere(subscriber: Subscriber) -> None:
    message = outbound(subscriber)

    refusal = record_permanent_error(message, 21610, "Attempt to send to unsubscribed recipient")

    assert refusal is Refusal.OPTED_OUT
    assert subscriber.status is SubscriberStatus.OPTED_OUT
    assert subscriber.opted_out_at is not None
    assert {s.state for s in subscriber.subscriptions} == {SubscriptionState.OPTED_OUT}
    assert (message.error_code, message.error_message) == (
        21610,
        "Attempt to send to unsubscribed recipient",
    )


def test_second_opt_out_code_keeps_the_first_time(subscriber: Subscriber) -> None:
    record_permanent_error(outbound(subscriber), 21610, None)
    first = subscriber.opted_out_at

    record_permanent_error(outbound(subscriber), 21610, None)

    assert subscriber.opted_out_at == first


def test_opt_out_code_for_a_number_without_a_message_link_finds_the_subscriber(
    subscriber: Subscriber,
) -> None:
    record_permanent_error(outbound(None), 21610, None)

    assert subscriber.status is SubscriberStatus.OPTED_OUT


def test_unreachable_never_overrides_an_opt_out(subscriber: Subscriber) -> None:
    record_permanent_error(outbound(subscriber), 21610, None)

    record_permanent_error(outbound(subscriber), 21211, None)

    assert subscriber.status is SubscriberStatus.OPTED_OUT


def test_handset_unreachable_once_is_not_enough(subscriber: Subscriber) -> None:
    outbound(subscriber, code=None)

    refusal = record_permanent_error(outbound(subscriber), 30003, "Unreachable destination handset")

    assert refusal is None
    assert subscriber.status is SubscriberStatus.ACTIVE


def test_handset_unreachable_three_times_running_marks_the_number_unreachable(
    subscriber: Subscriber,
) -> None:
    outbound(subscriber, code=30003)
    outbound(subscriber, code=30003)

    refusal = record_permanent_error(outbound(subscriber), 30003, "Unreachable destination handset")

    assert refusal is Refusal.UNREACHABLE
    assert subscriber.status is SubscriberStatus.UNREACHABLE


def test_carrier_filtering_is_recorded_only(subscriber: Subscriber) -> None:
    message = outbound(subscriber)

    assert record_permanent_error(message, 30007, "Carrier violation") is None
    assert subscriber.status is SubscriberStatus.ACTIVE
    assert message.error_code == 30007


def test_a_refusal_goes_to_the_handler_the_app_registered(
    app: Flask, subscriber: Subscriber
) -> None:
    seen: list[tuple[int, Refusal, str]] = []
    on_refusal(app, lambda message, refusal, reason: seen.append((message.id, refusal, reason)))
    message = outbound(subscriber)

    assert record_permanent_error(message, 21211, "Invalid 'To' Phone Number") is (
        Refusal.UNREACHABLE
    )

    assert seen == [(message.id, Refusal.UNREACHABLE, "21211: invalid phone number")]
    assert subscriber.status is SubscriberStatus.ACTIVE  # the handler decides, not sms


def test_without_a_refusal_handler_a_refusal_is_an_error(
    app: Flask, subscriber: Subscriber
) -> None:
    app.extensions.pop("dripper.sms.refusal_handler")

    with pytest.raises(RefusalHandlerMissing):
        record_permanent_error(outbound(subscriber), 21610, None)
    # An error that says nothing about the person needs no handler.
    assert record_permanent_error(outbound(subscriber), 30007, None) is None


def test_carrier_filtering_three_times_running_holds_the_lessons_until_they_text(
    subscriber: Subscriber,
) -> None:
    outbound(subscriber, code=30007)
    outbound(subscriber, code=21408)

    refusal = record_permanent_error(outbound(subscriber), 30007, "Carrier violation")

    assert refusal is Refusal.BLOCKED
    assert subscriber.status is SubscriberStatus.ACTIVE  # nothing said about the person
    [subscription] = subscriber.subscriptions
    assert subscription.state is SubscriptionState.PARKED
    assert subscription.next_send_at is None
    assert subscription.parked_reason == (
        "texts blocked: 30007: filtered by the carrier, 3 times running"
    )


def test_blocked_texts_broken_by_a_delivery_do_not_hold_the_lessons(
    subscriber: Subscriber,
) -> None:
    outbound(subscriber, code=30007)
    outbound(subscriber, code=None)  # one got through in between

    assert record_permanent_error(outbound(subscriber), 30007, "Carrier violation") is None
    [subscription] = subscriber.subscriptions
    assert subscription.state is SubscriptionState.ACTIVE


def test_blocked_texts_leave_a_crisis_hold_as_it_is(subscriber: Subscriber) -> None:
    [subscription] = subscriber.subscriptions
    subscription.state = SubscriptionState.HELD
    outbound(subscriber, code=30007)
    outbound(subscriber, code=30007)

    assert record_permanent_error(outbound(subscriber), 30007, None) is Refusal.BLOCKED
    assert subscription.state is SubscriptionState.HELD  # only a person resumes it
