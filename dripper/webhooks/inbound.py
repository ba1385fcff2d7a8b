"""An inbound text as Twilio posts it: read it, and store it once, before acting on it."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy import select
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


def store_inbound(sms: InboundSms) -> Message | None:
    """Store and commit the message, or find it stored before (a retry: its ``handled_at``
    says whether it was acted on); ``None`` when a twin stored it at the same moment.

    Committed on its own, before it is acted on, so the record survives whatever the
    handling does, and a retry racing this one meets the unique provider_sid. A retry
    of a message not handled yet (its handling failed) is handled now; ``handle_stored``
    makes sure only one of the racers acts on it.
    """
    stored = db.session.scalar(select(Message).where(Message.provider_sid == sms.sid))
    if stored is not None:
        return stored
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
