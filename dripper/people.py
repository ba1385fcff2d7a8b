"""A subscriber's own data: export it, erase it, and resume their lessons.

These back the ``subscriber`` and ``reply`` commands and, later, the admin console.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from dripper import suppression
from dripper.conversation.subscribers import find_subscriber
from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.logs import mask_phone
from dripper.models import (
    Alert,
    AlertStatus,
    AuditEntry,
    DeliveryFailure,
    Message,
    Subscriber,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
    TrainingExample,
    utcnow,
)
from dripper.phones import PhoneError, written_e164
from dripper.subscriptions import states


class NotFound(LookupError):
    """No such subscriber or reply."""


def lookup(written: str) -> Subscriber:
    """The subscriber with this number, written in any common format (an admin's lookup)."""
    try:
        e164 = written_e164(written)
    except PhoneError:
        raise NotFound(f"{written!r} is not a phone number") from None
    subscriber = find_subscriber(e164)
    if subscriber is None:
        raise NotFound(f"no subscriber {mask_phone(e164)}")
    return subscriber


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _label(message: Message) -> str | None:
    label = message.reviewed_label or message.label
    return label.value if label is not None else None


def export(subscriber: Subscriber) -> dict[str, Any]:
    """Everything stored about a person, as they would ask to see it."""
    messages = db.session.scalars(
        select(Message).where(Message.phone == subscriber.phone).order_by(Message.id)
    )
    return {
        "phone": subscriber.phone,
        "status": subscriber.status.value,
        "time_zones": subscriber.time_zones,
        "send_time": subscriber.send_time.strftime("%H:%M"),
        "created_at": _iso(subscriber.created_at),
        "opted_out_at": _iso(subscriber.opted_out_at),
        "subscriptions": [
            {
                "course": s.course.slug,
                "state": s.state.value,
                "source": s.source,
                "lessons_sent": s.lessons_sent,
                "readiness": s.readiness,
                "next_send_at": _iso(s.next_send_at),
                "confirmed_at": _iso(s.confirmed_at),
                "completed_at": _iso(s.completed_at),
                "parked_at": _iso(s.parked_at),
                "parked_reason": s.parked_reason,
            }
            for s in subscriber.subscriptions
        ],
        "messages": [
            {
                "direction": m.direction.value,
                "kind": m.kind.value,
                "body": m.body,
                "status": m.status.value,
                "created_at": _iso(m.created_at),
                "label": _label(m),
            }
            for m in messages
        ],
    }


def has_corrections(subscriber: Subscriber) -> bool:
    """Whether an admin's correction of one of this person's replies is training data, so
    their words are in the reply model until it is trained again without them."""
    message_ids = select(Message.id).where(Message.phone == subscriber.phone)
    found = db.session.scalar(
        select(TrainingExample.id).where(TrainingExample.message_id.in_(message_ids)).limit(1)
    )
    return found is not None


def forget(subscriber: Subscriber, actor: str = "cli", at: datetime | None = None) -> int:
    """Erase a person: their messages, subscriptions, alerts and the training examples
    taken from their replies. Returns how many messages were erased. The caller commits.

    A number that opted out stays on the suppression list (a keyed hash only), so that
    erasing the person does not erase their STOP.
    """
    if subscriber.status is SubscriberStatus.OPTED_OUT:
        suppression.suppress(subscriber.phone, subscriber.opted_out_at or at or utcnow())
    message_ids = select(Message.id).where(Message.phone == subscriber.phone)
    subscription_ids = select(Subscription.id).where(Subscription.subscriber_id == subscriber.id)
    count = len(db.session.scalars(message_ids).all())
    db.session.execute(delete(TrainingExample).where(TrainingExample.message_id.in_(message_ids)))
    db.session.execute(delete(DeliveryFailure).where(DeliveryFailure.message_id.in_(message_ids)))
    db.session.execute(
        delete(Alert).where(
            Alert.message_id.in_(message_ids) | Alert.subscription_id.in_(subscription_ids)
        )
    )
    db.session.execute(delete(Message).where(Message.phone == subscriber.phone))
    db.session.execute(delete(Subscription).where(Subscription.subscriber_id == subscriber.id))
    db.session.add(
        AuditEntry(
            actor=actor,
            action="subscriber.forget",
            target=f"subscriber:{subscriber.id}",
            detail={
                "messages": count,
                "suppressed": subscriber.status is SubscriberStatus.OPTED_OUT,
            },
        )
    )
    db.session.delete(subscriber)
    return count


def resume_lessons(subscriber: Subscriber, now: datetime, actor: str = "cli") -> list[datetime]:
    """Resume every subscription held by a pause, a crisis alert or repeated failures
    (parked), and close its alerts."""
    resumed = []
    for subscription in subscriber.subscriptions:
        if subscription.state not in (SubscriptionState.PAUSED, SubscriptionState.HELD,
                                      SubscriptionState.DORMANT, SubscriptionState.WAITING,
                                      SubscriptionState.PARKED):  # fmt: skip
            continue
        resumed.append(states.resume(subscription, now))
        for alert in db.session.scalars(
            select(Alert).where(
                Alert.subscription_id == subscription.id, Alert.status == AlertStatus.OPEN
            )
        ):
            alert.status, alert.resolved_at = AlertStatus.RESOLVED, now
        db.session.add(
            AuditEntry(
                actor=actor, action="subscription.resume", target=f"subscription:{subscription.id}"
            )
        )
    return resumed


def parked() -> list[Subscription]:
    """Subscriptions parked because their sends kept failing, oldest first."""
    return list(
        db.session.scalars(
            select(Subscription)
            .where(Subscription.state == SubscriptionState.PARKED)
            .order_by(Subscription.parked_at, Subscription.id)
        )
    )


def relabel(message_id: int, label: ReplyLabel, actor: str = "cli") -> Message:
    """Correct a reply's label; the correction is kept as a training example."""
    message = db.session.get(Message, message_id)
    if message is None or message.direction.value != "inbound":
        raise NotFound(f"no reply {message_id}")
    previous = message.reviewed_label or message.label
    message.reviewed_label = label
    message.needs_review = False
    example = db.session.scalar(
        select(TrainingExample).where(TrainingExample.message_id == message.id)
    )
    if example is None:
        example = TrainingExample(message_id=message.id, text=message.body, label=label)
        db.session.add(example)
    example.label = label
    db.session.add(
        AuditEntry(
            actor=actor,
            action="reply.relabel",
            target=f"message:{message.id}",
            detail={"from": previous.value if previous else None, "to": label.value},
        )
    )
    return message
