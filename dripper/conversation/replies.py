"""The short system answers a text gets, worded by the course file where it can be.

Every answer goes out through the outbox: stored, then sent by a worker with status
tracking, or, for the few that must not wait (``outbox.IN_WEBHOOK_ANSWER``: the crisis
lines, STOP's confirmation, HELP), handed to Twilio in the webhook's own TwiML answer
when the webhook is the one acting on the text. The few answers a course file does not
word (its check knows only ``courses.spec.MESSAGE_PLACEHOLDERS``) have a plain GSM-7
default here; ``text`` would take a course's own wording first, once the course format
allows one.
"""

from __future__ import annotations

from sqlalchemy import select

from dripper.courses.spec import COUNTRY_MESSAGES
from dripper.extensions import db
from dripper.models import (
    Course,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    Subscription,
)
from dripper.phones import region_of
from dripper.sms.outbox import queue_message

#: Answers no course file words yet (the course check refuses names it does not know).
DEFAULT_TEXTS = {
    "already_subscribed": (
        "You're already signed up for {title}. Reply HELP for help, STOP to end."
    ),
    "already_completed": (
        "You've already finished {title}. Thank you! Reply HELP for help, STOP to end."
    ),
    "time_format": (
        "To change your lesson time, reply TIME and a time, like TIME 7pm or TIME 19:30."
    ),
    "time_window": (
        "Lessons can arrive between {opens} and {closes}. Reply TIME and a time in that "
        "range, like TIME 7pm."
    ),
    "pause_format": (
        "To take a break, reply PAUSE, or PAUSE and a number of days from 1 to 90, like PAUSE 3."
    ),
    "clarify": (
        "Good question. There's no right answer: reply with whatever the lesson brings up for "
        "you, in your own words. Our team reads questions like yours."
    ),
}


def text(course: Course, name: str, *, phone: str | None = None, **values: str) -> str:
    """The course's wording of a system message, or our default, with values filled in.

    Messages that differ by country (the crisis lines) use the course's wording for the
    country of ``phone`` when it has one (``crisis_response_GB``).
    """
    messages = course.messages or {}
    template = None
    if name in COUNTRY_MESSAGES and phone and (region := region_of(phone)):
        template = messages.get(f"{name}_{region}")
    template = template or messages.get(name) or DEFAULT_TEXTS[name]
    return template.format(**values)


def send(
    inbound: Message,
    kind: MessageKind,
    course: Course,
    name: str,
    *,
    subscriber: Subscriber | None = None,
    subscription: Subscription | None = None,
    dedupe_key: str | None = None,
    **values: str,
) -> Message:
    """Queue one answer to ``inbound``; at most one of each kind per inbound message,
    or, with a ``dedupe_key``, at most one per that key (e.g. once a lesson).

    The dedupe key makes handling the same inbound message twice answer it once.
    """
    key = dedupe_key or (
        f"{_answer_prefix(inbound.id)}{kind.value}:{subscription.id if subscription else '-'}"
    )
    return queue_message(
        inbound.phone,
        kind,
        text(course, name, phone=inbound.phone, **values),
        subscriber=subscriber,
        subscription=subscription,
        dedupe_key=key,
    )


def _answer_prefix(inbound_id: int) -> str:
    return f"answer:{inbound_id}:"


def unconfirmed_answers(inbound_id: int) -> list[Message]:
    """The answers to ``inbound_id`` handed over in a TwiML answer that Twilio never
    confirmed (no sid from its callback): Twilio repeats a webhook only when it did not
    get the answer, so the repeat carries them again."""
    return list(
        db.session.scalars(
            select(Message)
            .where(
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.TWIML,
                Message.provider_sid.is_(None),
                Message.dedupe_key.startswith(_answer_prefix(inbound_id), autoescape=True),
            )
            .order_by(Message.id)
        )
    )
