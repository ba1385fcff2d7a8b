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

The policy is pure: ``decide`` reads a subscription's ``Facts`` and returns a ``Decision``;
the conversation layer (``dripper.conversation.apply``) carries it out through the named
transitions, the outbox and the alerts.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from dripper.labels import ReplyLabel
from dripper.models import AlertKind, Subscription, SubscriptionState
from dripper.subscriptions import schedule, states
from dripper.subscriptions.states import NextAction

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
#: Resistant replies in a row after which the next lesson is offered rather than sent.
RESISTANT_STREAK_TO_OFFER = 2

#: The course message that answers a crisis reply.
CRISIS_RESPONSE = "crisis_response"
RESISTANT_ACK = "resistant_ack"
OVERWHELMED_ACK = "overwhelmed_ack"


class Step(StrEnum):
    """What a reply does to the schedule; each names a transition in ``subscriptions.states``."""

    KEEP = "keep"  # nothing changes
    LESSON = "lesson"  # states.lesson_at
    OFFER = "offer"  # states.offer_next
    CHECK_IN = "check_in"  # states.check_in_at
    HOLD = "hold"  # states.hold


@dataclass(frozen=True)
class Pacing:
    """The course's pacing numbers the policy reads (``dripper.courses.spec.PACING_DEFAULTS``)."""

    resistant_days: int
    resistant_streak_days: int
    overwhelmed_hold_days: int


@dataclass(frozen=True)
class Facts:
    """What the policy knows of a subscription when a labelled reply comes in."""

    state: SubscriptionState
    next_action: str | None
    readiness: float
    resistant_streak: int
    pacing: Pacing


@dataclass(frozen=True)
class Decision:
    """What should happen after one labelled reply.

    ``heard``: the reply counts as the person being here (``states.reply_received``: quiet
    counters reset, a dormant or waiting course woken). ``step`` is then taken at the daily
    slot ``days`` after the local day of the last lesson (never in the past).
    ``acknowledgement`` is a course message to answer with, at most once per lesson;
    ``answer`` is one to answer with every time (the crisis response). ``alert`` is the kind
    of alert to open for the team, if any.
    """

    label: ReplyLabel
    readiness: float
    resistant_streak: int
    heard: bool = False
    step: Step = Step.KEEP
    days: int = 0
    acknowledgement: str | None = None
    answer: str | None = None
    alert: AlertKind | None = None


def facts_of(subscription: Subscription) -> Facts:
    """The facts ``decide`` reads, taken from a subscription and its course."""
    course = subscription.course
    return Facts(
        state=subscription.state,
        next_action=subscription.next_action,
        readiness=subscription.readiness or 0.0,
        resistant_streak=subscription.resistant_streak or 0,
        pacing=Pacing(
            resistant_days=schedule.pacing_count(course, "resistant_days"),
            resistant_streak_days=schedule.pacing_count(course, "resistant_streak_days"),
            overwhelmed_hold_days=schedule.pacing_count(course, "overwhelmed_hold_days"),
        ),
    )


def readiness_after(score: float, label: ReplyLabel) -> float:
    """The readiness score after one more label (labels with no value leave it as it was)."""
    value = LABEL_VALUE.get(label)
    if value is None:
        return score
    return round(DECAY * score + (1 - DECAY) * value, 4)


def decide(facts: Facts, label: ReplyLabel, *, needs_review: bool) -> Decision:
    """What a free-text reply with ``label`` should change, answer and raise."""
    readiness = readiness_after(facts.readiness, label)
    streak = facts.resistant_streak
    if label is ReplyLabel.CRISIS:
        # Hold everything, tell the team; the reply is the crisis response.
        live = facts.state in states.LIVE_STATES
        return Decision(
            label, readiness, streak, step=Step.HOLD if live else Step.KEEP,
            answer=CRISIS_RESPONSE, alert=AlertKind.CRISIS,
        )  # fmt: skip
    if facts.state not in states.LIVE_STATES:
        return Decision(label, readiness, streak)
    if facts.state is SubscriptionState.HELD:
        # Held for a person on the team; a reply does not restart lessons.
        return Decision(label, readiness, streak, heard=True)
    pacing = facts.pacing
    if needs_review:
        # Unsure what they meant: no acknowledgement that might misread them, and the
        # gentlest pace the policy has short of holding lessons.
        return Decision(
            label, readiness, streak, heard=True, step=Step.LESSON, days=pacing.resistant_days
        )
    if label is ReplyLabel.RESISTANT:
        streak += 1
        if streak >= RESISTANT_STREAK_TO_OFFER:
            step, days = Step.OFFER, pacing.resistant_streak_days
        else:
            step, days = Step.LESSON, pacing.resistant_days
        return Decision(
            label, readiness, streak, heard=True, step=step, days=days,
            acknowledgement=RESISTANT_ACK,
        )  # fmt: skip
    if label is ReplyLabel.OVERWHELMED:
        return Decision(
            label, readiness, 0, heard=True, step=Step.CHECK_IN,
            days=pacing.overwhelmed_hold_days, acknowledgement=OVERWHELMED_ACK,
        )  # fmt: skip
    woke = facts.state in (SubscriptionState.DORMANT, SubscriptionState.WAITING)
    if woke or facts.next_action in (NextAction.LESSON, NextAction.QUESTION, None):
        return Decision(label, readiness, 0, heard=True, step=Step.LESSON, days=1)
    # A check-in or an offer is due: a reply does not bring the lesson forward.
    return Decision(label, readiness, 0, heard=True)
