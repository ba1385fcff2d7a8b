"""Provider errors: which are retried, which are looked up, which stop texting a person."""

from __future__ import annotations

import http.client

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded
from flask import Flask
from twilio.base.exceptions import TwilioRestException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from dripper.extensions import db
from dripper.models import (
    Course,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
)
from dripper.sms.base import AmbiguousSendError, PermanentSendError, RetryableSendError
from dripper.sms.errors import (
    Refusal,
    RefusalHandlerMissing,
    classify_exception,
    on_refusal,
    record_permanent_error,
)
from dripper.sms.tasks import BACKOFF_MAX, retry_delay

PHONE = "+15005550123"
URI = "/2010-04-01/Accounts/AC1/Messages.json"


def rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, URI, msg="Unable to create record", code=code, method="POST")


def connection_error(reason: Exception) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(MaxRetryError(None, URI, reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (rest(429, 20429), RetryableSendError),
        (rest(400, 20429), RetryableSendError),
        (rest(500, 20500), RetryableSendError),
        (rest(503, None), RetryableSendError),
        (rest(400, 21611), RetryableSendError),
        (rest(400, 21610), PermanentSendError),
        (rest(400, 21211), PermanentSendError),
        (rest(401, 20003), PermanentSendError),
        (rest(404, None), PermanentSendError),
        (requests.exceptions.ReadTimeout(), AmbiguousSendError),
        (
            connection_error(ProtocolError("aborted", http.client.RemoteDisconnected())),
            AmbiguousSendError,
        ),
        (requests.exceptions.ChunkedEncodingError(), AmbiguousSendError),
        (SoftTimeLimitExceeded(), AmbiguousSendError),
        (requests.exceptions.ConnectTimeout(), RetryableSendError),
        (connection_error(NewConnectionError(None, "refused")), RetryableSendError),  # type: ignore[arg-type]
    ],
)
def test_provider_errors_are_classified(error: Exception, kind: type) -> None:
    classified = classify_exception(error)

    assert type(classified) is kind


def test_classified_error_keeps_code_and_status() -> None:
    classified = classify_exception(rest(400, 21610))

    assert (classified.code, classified.status) == (21610, 400)


def outbound(
    subscriber: Subscriber | None, *, phone: str = PHONE, code: int | None = None
) -> Message:
    message = Message(
        direction=Direction.OUTBOUND,
        kind=MessageKind.LESSON,
        phone=phone,
        subscriber=subscriber,
        body="Day 1",
        status=MessageStatus.FAILED,
        error_code=code,
    )
    db.session.add(message)
    db.session.flush()
    return message


@pytest.fixture
def subscriber(app: Flask, course: Course) -> Subscriber:
    person = Subscriber(phone=PHONE)
    db.session.add(person)
    db.session.add(Subscription(subscriber=person, course=course, state=SubscriptionState.ACTIVE))
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


def test_retries_back_off_with_jitter_and_wait_as_long_as_asked() -> None:
    first = [retry_delay(0) for _ in range(50)]
    fifth = [retry_delay(4) for _ in range(50)]

    assert all(2.5 <= d <= 5 for d in first) and len(set(first)) > 1
    assert all(40 <= d <= 80 for d in fifth)
    assert all(d <= BACKOFF_MAX for d in (retry_delay(n) for n in range(20)))
    assert retry_delay(0, retry_after=30) == 30


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
