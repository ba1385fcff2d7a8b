"""An inbound text as Twilio posts it: read it, and store it once, before acting on it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, MessageStatus, Subscriber
from dripper.phones import PhoneError, inbound_phone

# Twilio message SIDs are "SM"/"MM" + 32 hex digits; anything SID-shaped up to the
# column's width is accepted so a new prefix does not drop messages.
_SID = re.compile(r"^[A-Za-z]{2}[0-9A-Za-z]{8,62}$")


def is_message_sid(value: str) -> bool:
    """Whether ``value`` has the shape of a Twilio message SID."""
    return bool(_SID.match(value))


def storable(text: str) -> str:
    """``text`` as every database can keep it: PostgreSQL refuses NUL in text columns,
    and a NUL a person could not have typed must not turn a message into a 500."""
    return text.replace("\x00", "\ufffd")


class MalformedWebhook(ValueError):
    """A signed request that is not an inbound message we can store."""


@dataclass(frozen=True)
class InboundSms:
    sid: str
    phone: str  # E.164
    body: str


def read_inbound(form: Mapping[str, str]) -> InboundSms:
    """The fields we need from Twilio's form; raise ``MalformedWebhook`` when they're unusable."""
    sid = (form.get("MessageSid") or form.get("SmsSid") or "").strip()
    if not is_message_sid(sid):
        raise MalformedWebhook("missing or malformed MessageSid")
    try:
        phone = inbound_phone(form.get("From"))
    except PhoneError as error:
        raise MalformedWebhook(f"From is {error}") from None
    # An MMS with only a picture has no Body; it is still a message from the person.
    return InboundSms(sid=sid, phone=phone.e164, body=storable(form.get("Body") or ""))


#: Written on an inbound message whose handling failed; a retry of it is handled again.
NOT_HANDLED = "not handled"


def store_inbound(sms: InboundSms) -> Message | None:
    """Store and commit the message; ``None`` when this MessageSid was stored before.

    Committed on its own, before it is acted on, so the record survives whatever the
    handling does, and a retry racing this one meets the unique provider_sid. A retry
    of a message whose handling failed (``mark_not_handled``) returns it to be handled.
    """
    stored = db.session.scalar(
        select(Message).where(Message.provider_sid == sms.sid).with_for_update()
    )
    if stored is not None:
        if stored.error_message == NOT_HANDLED:
            stored.error_message = None
            return stored  # committed with its handling this time
        return None
    received_at = now()
    message = Message(
        direction=Direction.INBOUND,
        kind=MessageKind.REPLY,
        status=MessageStatus.RECEIVED,
        provider_sid=sms.sid,
        phone=sms.phone,
        body=sms.body,
        subscriber_id=db.session.scalar(select(Subscriber.id).where(Subscriber.phone == sms.phone)),
        created_at=received_at,
        status_at=received_at,
    )
    db.session.add(message)
    try:
        db.session.commit()
    except IntegrityError:
        # The same MessageSid committed by a concurrent retry between our check and insert.
        db.session.rollback()
        return None
    return message


def mark_not_handled(message_id: int) -> None:
    """Note, in a transaction of its own, that handling this inbound message failed."""
    db.session.execute(
        update(Message).where(Message.id == message_id).values(error_message=NOT_HANDLED)
    )
    db.session.commit()
