"""How a labelled reply changes what happens next: offer once and step back.

The policy, per label (a course's pacing settings override each number):
- engaged, neutral, ambivalent: next lesson on the next day.
- resistant: one short acknowledgement, no argument; the next lesson 2 days out. Two in a
  row: 3 days out, and then it is offered ("reply NEXT"), not pushed, for up to 7 days.
- overwhelmed: a brief, kind acknowledgement; lessons held 3 days, then one check-in.
- crisis: the crisis response at once, everything held, an alert for the team.
- possible danger read as a worry or a plan (``crisis_review``): the conversation layer
  raises a ``review`` alert; the reply is paced by its label (gently: it needs review).
- a label the classifier is unsure of takes the gentlest pace and waits for review.

Commands (opt_out, help, pause, more, reschedule) are acted on by the conversation layer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.labels import ReplyLabel
from dripper.logs import mask_phone
from dripper.models import Alert, AlertKind, Message, Subscription, SubscriptionState
from dripper.sms.outbox import lesson_key
from dripper.subscriptions import schedule, states
from dripper.subscriptions.states import NextAction

log = logging.getLogger(__name__)

#: Where each label pulls readiness (-1 pushing away … +1 leaning in).
LABEL_VALUE = {
    ReplyLabel.ENGAGED: 1.0,
    ReplyLabel.MORE: 1.0,
    ReplyLabel.AMBIVALENT: 0.0,
    ReplyLabel.NEUTRAL: 0.2,
    ReplyLabel.RESISTANT: -0.7,
    ReplyLabel.OVERWHELMED: -1.0,
    ReplyLabel.PAUSE: -0.3,
    ReplyLabel.CRISIS: -1.0,
}
#: How much of the old score each new label keeps (a decaying average).
DECAY = 0.7


@dataclass(frozen=True)
class Reply:
    """What the conversation layer should answer, if anything: a course message name."""

    message: str | None = None


def update_readiness(subscription: Subscription, label: ReplyLabel) -> None:
    value = LABEL_VALUE.get(label)
    if value is not None:
        subscription.readiness = round(
            DECAY * (subscription.readiness or 0.0) + (1 - DECAY) * value, 4
        )


def _days(subscription: Subscription, name: str) -> int:
    return schedule.pacing_count(subscription.course, name)


def _lesson_day(subscription: Subscription, now: datetime) -> datetime:
    return subscription.last_lesson_at or now


def _next_lesson_in(subscription: Subscription, now: datetime, days: int) -> datetime:
    """The daily slot ``days`` after the day of the last lesson, never in the past."""
    at = schedule.next_daily_slot(
        subscription.subscriber, subscription.course, _lesson_day(subscription, now), days=days
    )
    return max(at, schedule.next_daily_slot(subscription.subscriber, subscription.course, now))


def apply(
    subscription: Subscription,
    message: Message,
    label: ReplyLabel,
    *,
    needs_review: bool,
    now: datetime,
) -> Reply:
    """Act on a free-text reply's label; the caller commits and sends the reply."""
    update_readiness(subscription, label)
    if label is ReplyLabel.CRISIS:
        return _crisis(subscription, message, now)
    if subscription.state not in states.LIVE_STATES:
        return Reply()
    woke = subscription.state in (SubscriptionState.DORMANT, SubscriptionState.WAITING)
    states.reply_received(subscription, now)
    if subscription.state is SubscriptionState.HELD:
        return Reply()  # held for a person on the team; a reply does not restart lessons
    if needs_review:
        # Unsure what they meant: no acknowledgement that might misread them, and the
        # gentlest pace the policy has short of holding lessons.
        _lesson_at(
            subscription, _next_lesson_in(subscription, now, _days(subscription, "resistant_days"))
        )
        return Reply()
    if label is ReplyLabel.RESISTANT:
        return _resistant(subscription, message, now)
    subscription.resistant_streak = 0
    if label is ReplyLabel.OVERWHELMED:
        return _overwhelmed(subscription, message, now)
    if woke or subscription.next_action in (NextAction.LESSON, NextAction.QUESTION, None):
        _lesson_at(subscription, _next_lesson_in(subscription, now, 1))
    return Reply()


def _lesson_at(subscription: Subscription, at: datetime) -> None:
    states.lesson_at(subscription, at)


def acknowledgement_key(subscription: Subscription, kind: str) -> str:
    """The dedupe key of an acknowledgement: one of each kind per lesson."""
    return lesson_key(subscription.id, subscription.last_lesson_id, kind)


def _acknowledged(subscription: Subscription, kind: str) -> bool:
    """One acknowledgement per lesson at most: a second would be pressure."""
    key = acknowledgement_key(subscription, kind)
    return db.session.query(Message.id).filter(Message.dedupe_key == key).first() is not None


def _resistant(subscription: Subscription, message: Message, now: datetime) -> Reply:
    subscription.resistant_streak = (subscription.resistant_streak or 0) + 1
    if subscription.resistant_streak >= 2:
        at = _next_lesson_in(subscription, now, _days(subscription, "resistant_streak_days"))
        states.offer_next(subscription, at)
    else:
        _lesson_at(
            subscription, _next_lesson_in(subscription, now, _days(subscription, "resistant_days"))
        )
    if _acknowledged(subscription, "resistant_ack"):
        return Reply()
    return Reply("resistant_ack")


def _overwhelmed(subscription: Subscription, message: Message, now: datetime) -> Reply:
    at = _next_lesson_in(subscription, now, _days(subscription, "overwhelmed_hold_days"))
    states.check_in_at(subscription, at)
    if _acknowledged(subscription, "overwhelmed_ack"):
        return Reply()
    return Reply("overwhelmed_ack")


def _crisis(subscription: Subscription, message: Message, now: datetime) -> Reply:
    """Hold everything, record an open alert, tell the team; the reply is the crisis response."""
    if subscription.state in states.LIVE_STATES:
        states.hold(subscription)
    raise_alert(message, subscription, now)
    return Reply("crisis_response")


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
    alert = Alert(kind=kind.value, subscription=subscription, message=message, created_at=now)
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
    from dripper.readiness.tasks import notify_admins

    enqueue_after_commit(notify_admins, alert.id)
    return alert


def gap_after_question(subscription: Subscription) -> int:
    """Days from a lesson to the next when nothing else decided: silence slows the pace."""
    if (subscription.unanswered_questions or 0) >= _days(subscription, "silent_slowdown_after"):
        return 2
    return 1


def silent_too_long(subscription: Subscription) -> bool:
    """Enough unanswered questions in a row that the next step is a check-in, not a lesson."""
    return (subscription.unanswered_questions or 0) >= _days(subscription, "silent_check_in_after")
