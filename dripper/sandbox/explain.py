"""What is scheduled next for a subscription, and why, in words.

Read from the subscription's state, ``next_action``/``next_send_at``, its counters and
the last reply the classifier labelled, so it says what the pacing policy
(dripper.readiness.pacing) actually decided rather than what a page assumes.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import select

from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import Direction, Message, Subscription, SubscriptionState
from dripper.subscriptions import schedule
from dripper.subscriptions.states import NextAction

_NUMBERS = {0: "zero", 1: "one", 2: "two", 3: "three", 4: "four", 5: "five", 6: "six", 7: "seven"}
_STEADY = {ReplyLabel.ENGAGED, ReplyLabel.MORE, ReplyLabel.NEUTRAL, ReplyLabel.AMBIVALENT}


def _days(n: int) -> str:
    word = _NUMBERS.get(n, str(n))
    return f"{word} day" if n == 1 else f"{word} days"


def last_reply(subscription: Subscription) -> Message | None:
    """The newest labelled reply from this person since their last lesson, if any."""
    query = select(Message).where(
        Message.phone == subscription.subscriber.phone,
        Message.direction == Direction.INBOUND,
        Message.label.is_not(None),
    )
    if subscription.last_lesson_at is not None:
        query = query.where(Message.created_at >= subscription.last_lesson_at)
    return db.session.scalar(query.order_by(Message.id.desc()).limit(1))


def _read_as(message: Message) -> str:
    label = message.reviewed_label or message.label
    assert label is not None
    confidence = f" ({message.confidence:.2f})" if message.confidence is not None else ""
    return f"the last reply read as {label.value}{confidence}"


def _distance(subscription: Subscription, at: datetime, today: date) -> str:
    """A lesson's distance from the last one (the pace); anything else's from today."""
    zone = schedule.zones_of(subscription.subscriber)[0]
    day = at.astimezone(zone).date()
    if subscription.last_lesson_at is not None and subscription.next_action == NextAction.LESSON:
        since = (day - subscription.last_lesson_at.astimezone(zone).date()).days
        return f"{_days(since)} after the last lesson"
    ahead = (day - today).days
    return {0: "today", 1: "tomorrow"}.get(ahead, f"in {_days(ahead)}")


def _lesson_reason(subscription: Subscription, reply: Message | None) -> str:
    course = subscription.course
    if not subscription.lessons_sent:
        return f"the first lesson comes at the daily send time ({subscription.subscriber.send_time:%H:%M}) after YES"
    if reply is not None:
        label = reply.reviewed_label or reply.label
        if reply.needs_review and reply.reviewed_label is None:
            return f"{_read_as(reply)}, unsure: the gentlest pace until someone reviews it"
        if label is ReplyLabel.RESISTANT:
            return f"because {_read_as(reply)}"
        if label in _STEADY:
            return f"because {_read_as(reply)}: the daily pace"
        return f"after a reply read as {label.value if label else 'unknown'}"
    unanswered = subscription.unanswered_questions or 0
    if unanswered >= schedule.pacing_count(course, "silent_slowdown_after"):
        return f"every other day: {_days(unanswered).replace('day', 'question')} unanswered"
    return "the daily pace"


def _reason(subscription: Subscription, reply: Message | None) -> str:
    action = subscription.next_action
    course = subscription.course
    if action == NextAction.LESSON:
        return _lesson_reason(subscription, reply)
    if action == NextAction.QUESTION:
        hours = schedule.pacing(course, "question_delay_hours")
        return f"the reflection question follows the lesson after {hours} hours"
    if action == NextAction.CHECK_IN:
        label = (reply.reviewed_label or reply.label) if reply is not None else None
        if reply is not None and label is ReplyLabel.OVERWHELMED:
            held = schedule.pacing_count(course, "overwhelmed_hold_days")
            return f"lessons held {_days(held)} because {_read_as(reply)}; a check-in instead"
        unanswered = subscription.unanswered_questions or 0
        return f"a check-in instead of a lesson: {unanswered} questions unanswered"
    if action == NextAction.OFFER:
        reason = f"{subscription.resistant_streak or 0} resistant replies in a row"
        if reply is not None:
            reason = f"{reason} ({_read_as(reply)})"
        return f"{reason}: the next lesson is offered (reply NEXT), not pushed"
    if action == NextAction.OFFER_EXPIRES:
        return "the offered lesson waits for NEXT until then"
    return ""


_WAITING_WORDS = {
    SubscriptionState.PENDING: "nothing until YES confirms the subscription",
    SubscriptionState.HELD: "held for a person on the team after a crisis reply",
    SubscriptionState.DORMANT: "dormant after check-ins went unanswered; a text wakes it",
    SubscriptionState.COMPLETED: "the course is complete",
    SubscriptionState.OPTED_OUT: "opted out: nothing will be sent",
}


def explain(subscription: Subscription, now: datetime) -> dict[str, Any]:
    """What comes next for this subscription, when (local time) and why."""
    zone = schedule.zones_of(subscription.subscriber)[0]
    reply = last_reply(subscription)
    total = len(subscription.course.lessons)
    result: dict[str, Any] = {
        "course": subscription.course.title,
        "state": subscription.state.value,
        "lessons_sent": subscription.lessons_sent or 0,
        "lessons_total": total,
        "readiness": round(subscription.readiness or 0.0, 2),
        "action": subscription.next_action,
        "at": None,
        "days_out": None,
        "summary": "",
    }
    if not subscription.subscriber.may_be_texted:
        result["summary"] = f"nothing: the number is {subscription.subscriber.status.value}"
        return result
    at = subscription.next_send_at
    if subscription.next_action is None or at is None:
        result["summary"] = _WAITING_WORDS.get(subscription.state, subscription.state.value)
        return result
    local = at.astimezone(zone)
    what = subscription.next_action.replace("_", "-")
    if subscription.next_action == NextAction.LESSON:
        what = f"lesson {min((subscription.lessons_sent or 0) + 1, total)} of {total}"
    distance = _distance(subscription, at, now.astimezone(zone).date())
    reason = _reason(subscription, reply)
    if subscription.state is SubscriptionState.PAUSED and subscription.paused_until:
        reason = f"paused until {subscription.paused_until.astimezone(zone):%a %d %b %H:%M}"
    if subscription.last_lesson_at is not None and subscription.next_action == NextAction.LESSON:
        days_out = (local.date() - subscription.last_lesson_at.astimezone(zone).date()).days
    else:
        days_out = (local.date() - now.astimezone(zone).date()).days
    result.update(
        at=local.isoformat(),
        days_out=days_out,
        summary=f"next {what} {local:%a %H:%M}, {distance}"
        + (f", {reason}" if reason.startswith(("because", "after")) else f": {reason}"),
    )
    return result
