"""Carrying out what the pacing policy decided about a reply.

``dripper.readiness.pacing`` says what a labelled reply should change (a ``Decision``);
this module does it: the readiness score and resistant streak are recorded, the
subscription moves through the named transitions in ``dripper.subscriptions.states``,
an acknowledgement goes out through the outbox unless one of its kind was sent for
this lesson already, and an alert is opened for the team. The caller commits.
"""

from __future__ import annotations

import logging
from datetime import datetime

from dripper.conversation import replies
from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.labels import ReplyLabel
from dripper.logs import mask_phone
from dripper.models import Alert, AlertKind, Message, MessageKind, Subscription
from dripper.readiness import pacing
from dripper.readiness.pacing import Decision, Step
from dripper.readiness.tasks import notify_admins
from dripper.sms.outbox import lesson_key
from dripper.subscriptions import schedule, states

log = logging.getLogger(__name__)


def pace(
    subscription: Subscription,
    message: Message,
    label: ReplyLabel,
    *,
    needs_review: bool,
    now: datetime,
) -> str | None:
    """Decide what a free-text reply's label changes, and do it.

    Returns the name of the course message the reply was answered with, if any.
    """
    decision = pacing.decide(pacing.facts_of(subscription), label, needs_review=needs_review)
    return carry_out(subscription, message, decision, now)


def carry_out(
    subscription: Subscription, message: Message, decision: Decision, now: datetime
) -> str | None:
    """Do what ``decision`` says for the reply ``message``; returns the answer sent, if any."""
    subscription.readiness = decision.readiness
    subscription.resistant_streak = decision.resistant_streak
    if decision.heard:
        states.reply_received(subscription, now)
    _take_step(subscription, decision, now)
    if decision.alert is not None:
        raise_alert(message, subscription, now, kind=decision.alert)
    if decision.answer is not None:
        _answer(message, subscription, decision.answer, MessageKind(decision.answer))
        return decision.answer
    name = decision.acknowledgement
    if name is None or acknowledged(subscription, name):
        return None
    _answer(message, subscription, name, MessageKind.ACKNOWLEDGEMENT, once_per_lesson=True)
    return name


def _take_step(subscription: Subscription, decision: Decision, now: datetime) -> None:
    if decision.step is Step.KEEP:
        return
    if decision.step is Step.HOLD:
        states.hold(subscription)
        return
    at = next_lesson_in(subscription, now, decision.days)
    if decision.step is Step.LESSON:
        states.lesson_at(subscription, at)
    elif decision.step is Step.OFFER:
        states.offer_next(subscription, at)
    elif decision.step is Step.CHECK_IN:
        states.check_in_at(subscription, at)


def next_lesson_in(subscription: Subscription, now: datetime, days: int) -> datetime:
    """The daily slot ``days`` after the local day of the last lesson, never in the past."""
    subscriber, course = subscription.subscriber, subscription.course
    lesson_day = subscription.last_lesson_at or now
    at = schedule.next_daily_slot(subscriber, course, lesson_day, days=days)
    return max(at, schedule.next_daily_slot(subscriber, course, now))


def acknowledgement_key(subscription: Subscription, name: str) -> str:
    """The dedupe key of an acknowledgement: one of each kind per lesson."""
    return lesson_key(subscription.id, subscription.last_lesson_id, name)


def acknowledged(subscription: Subscription, name: str) -> bool:
    """Whether this acknowledgement was sent for the current lesson: a second would be pressure."""
    key = acknowledgement_key(subscription, name)
    return db.session.query(Message.id).filter(Message.dedupe_key == key).first() is not None


def _answer(
    message: Message,
    subscription: Subscription,
    name: str,
    kind: MessageKind,
    *,
    once_per_lesson: bool = False,
) -> None:
    replies.send(
        message,
        kind,
        subscription.course,
        name,
        dedupe_key=acknowledgement_key(subscription, name) if once_per_lesson else None,
        subscriber=subscription.subscriber,
        subscription=subscription,
    )
    log.info("message %s answered with %s", message.id, name)


def raise_alert(
    message: Message,
    subscription: Subscription | None,
    now: datetime,
    *,
    kind: AlertKind = AlertKind.CRISIS,
) -> Alert:
    """An open alert for the team: recorded, logged at warning, POSTed after commit.

    ``crisis``: the person was sent the crisis lines and lessons are held. ``review``: a
    reply that may be about danger but reads as a worry or a plan; nothing was sent to
    the person for it and lessons go on, but a person on the team should read it.
    """
    alert = Alert(kind=kind, subscription=subscription, message=message, created_at=now)
    db.session.add(alert)
    db.session.flush()
    if kind is AlertKind.REVIEW:
        log.warning(
            "reply from %s (subscription %s) to review for danger: alert %s open",
            mask_phone(message.phone),
            subscription.id if subscription else "none",
            alert.id,
        )
    else:
        log.warning(
            "crisis reply from %s (subscription %s): lessons held, alert %s open",
            mask_phone(message.phone),
            subscription.id if subscription else "none",
            alert.id,
        )
    enqueue_after_commit(notify_admins, alert.id)
    return alert
