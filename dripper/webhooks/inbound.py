"""An inbound text as Twilio posts it: read it, and store it once, before acting on it."""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import cast

from sqlalchemy import Table, bindparam, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.expression import Executable

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Direction, Message, MessageKind, MessageStatus, Subscriber
from dripper.phones import PhoneError, inbound_e164

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
        phone = inbound_e164(form.get("From"))
    except PhoneError as error:
        raise MalformedWebhook(f"From is {error}") from None
    # An MMS with only a picture has no Body; it is still a message from the person.
    return InboundSms(sid=sid, phone=phone, body=storable(form.get("Body") or ""))


@dataclass(frozen=True)
class StoredInbound:
    """An inbound message on record: its id, and when it was acted on (None: not yet)."""

    id: int
    handled_at: datetime | None


def store_inbound(sms: InboundSms) -> StoredInbound | None:
    """Store and commit the message, or find it stored before (a retry: its ``handled_at``
    says whether it was acted on); ``None`` when the row cannot be found either way.

    Committed on its own, before it is acted on, so the record survives whatever the
    handling does. One statement, and one round trip, for a new text: an ``INSERT … ON
    CONFLICT DO NOTHING`` on the unique provider_sid, run in autocommit (a single statement
    is its own transaction; no BEGIN or COMMIT to wait for), which waits for a racing
    twin's commit and then inserts nothing, so the twin's row is read instead. A retry of
    a message not handled yet (its handling failed, or a twin is at it now) goes on to
    ``handle_stored``, which makes sure only one of the racers acts on it.
    """
    received_at = now()
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        message_id = connection.scalar(
            _insert_statement(connection.dialect.name),
            {
                "direction": Direction.INBOUND,
                "kind": MessageKind.REPLY,
                "status": MessageStatus.RECEIVED,
                "provider_sid": sms.sid,
                "phone": sms.phone,
                "body": sms.body,
                "created_at": received_at,
                "status_at": received_at,
            },
        )
    if message_id is not None:
        return StoredInbound(message_id, None)
    return _stored(sms.sid)


@functools.cache
def _insert_statement(dialect: str) -> Executable:
    """The INSERT of a new inbound text, built once per dialect (PostgreSQL and SQLite say
    ON CONFLICT the same way): the sender's subscriber is looked up by the INSERT itself,
    and a row whose sid is taken is not inserted (nothing is returned)."""
    table = cast(Table, Message.__table__)
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    columns = ["direction", "kind", "status", "provider_sid", "phone", "body"]
    columns += ["created_at", "status_at"]
    return (
        insert(table)
        .values(
            {
                **{name: bindparam(name, type_=table.c[name].type) for name in columns},
                "subscriber_id": select(Subscriber.__table__.c.id)
                .where(Subscriber.__table__.c.phone == bindparam("phone"))
                .scalar_subquery(),
            }
        )
        .on_conflict_do_nothing(index_elements=[table.c.provider_sid])
        .returning(table.c.id)
    )


def _stored(sid: str) -> StoredInbound | None:
    stored = db.session.execute(
        select(Message.id, Message.handled_at).where(Message.provider_sid == sid)
    ).first()
    return StoredInbound(stored.id, stored.handled_at) if stored is not None else None
