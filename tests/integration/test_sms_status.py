"""Status callbacks: late, repeated and out-of-order reports move a message forward only."""

from __future__ import annotations

import pytest
from flask import Flask

from dripper.extensions import db
from dripper.models import (
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SubscriberStatus,
)
from dripper.sms.status import apply_status
from dripper_testkit.builders import outbound_message, subscriber

SID = "SM" + "a" * 32


@pytest.fixture
def message(app: Flask) -> Message:
    person = subscriber("+15005550123")
    message = outbound_message(person.phone, body="Day 1", provider_sid=SID, subscriber=person)
    db.session.commit()
    return message


def status_of(message: Message) -> MessageStatus:
    db.session.expire_all()
    return message.status


def test_status_moves_forward(message: Message) -> None:
    assert apply_status(SID, "sent", None, None) is True
    assert status_of(message) is MessageStatus.SENT
    assert apply_status(SID, "delivered", None, None) is True
    assert status_of(message) is MessageStatus.DELIVERED
    assert message.status_at is not None


def test_status_never_moves_backwards(message: Message) -> None:
    apply_status(SID, "delivered", None, None)

    assert apply_status(SID, "sent", None, None) is False
    assert apply_status(SID, "queued", None, None) is False
    assert status_of(message) is MessageStatus.DELIVERED


def test_repeated_status_is_ignored(message: Message) -> None:
    assert apply_status(SID, "sent", None, None) is True
    assert apply_status(SID, "sent", None, None) is False


def test_unknown_sid_is_ignored(message: Message) -> None:
    assert apply_status("SM" + "b" * 32, "delivered", None, None) is False
    assert status_of(message) is MessageStatus.QUEUED


def test_unknown_status_word_is_ignored(message: Message) -> None:
    assert apply_status(SID, "teleported", None, None) is False
    assert apply_status(SID, "pending", None, None) is False
    assert status_of(message) is MessageStatus.QUEUED


def test_a_final_failure_is_not_overwritten(message: Message) -> None:
    apply_status(SID, "undelivered", 30003, "Unreachable destination handset")

    assert apply_status(SID, "delivered", None, None) is False
    assert apply_status(SID, "read", None, None) is False
    assert status_of(message) is MessageStatus.UNDELIVERED


def test_read_follows_delivery(message: Message) -> None:
    apply_status(SID, "delivered", None, None)

    assert apply_status(SID, "read", None, None) is True
    assert status_of(message) is MessageStatus.READ


def test_failed_with_error_records_it_on_the_message(message: Message) -> None:
    assert apply_status(SID, "failed", 30007, "Carrier violation") is True

    db.session.expire_all()
    assert (message.status, message.error_code, message.error_message) == (
        MessageStatus.FAILED,
        30007,
        "Carrier violation",
    )
    assert message.subscriber is not None
    assert message.subscriber.status is SubscriberStatus.ACTIVE


def test_undelivered_with_opt_out_code_opts_the_person_out(message: Message) -> None:
    assert apply_status(SID, "undelivered", 21610, None) is True

    db.session.expire_all()
    assert message.subscriber is not None
    assert message.subscriber.status is SubscriberStatus.OPTED_OUT


def test_landline_reported_late_marks_the_number_unreachable(message: Message) -> None:
    apply_status(SID, "failed", 30006, "Landline or unreachable carrier")

    db.session.expire_all()
    assert message.subscriber is not None
    assert message.subscriber.status is SubscriberStatus.UNREACHABLE


def test_inbound_message_sids_are_not_status_targets(app: Flask) -> None:
    inbound = Message(
        direction=Direction.INBOUND,
        kind=MessageKind.REPLY,
        phone="+15005550123",
        body="yes",
        status=MessageStatus.RECEIVED,
        provider_sid="SM" + "c" * 32,
    )
    db.session.add(inbound)
    db.session.commit()

    assert apply_status(inbound.provider_sid or "", "delivered", None, None) is False
