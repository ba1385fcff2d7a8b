"""The pacing policy as a pure function: facts and a label in, a decision out (no database)."""

from __future__ import annotations

import dataclasses

import pytest

from dripper.labels import ReplyLabel
from dripper.models import AlertKind
from dripper.models import SubscriptionState as State
from dripper.readiness.pacing import (
    DECAY,
    Decision,
    Facts,
    Pacing,
    Step,
    decide,
    readiness_after,
)
from dripper.subscriptions.states import NextAction

PACING = Pacing(resistant_days=2, resistant_streak_days=3, overwhelmed_hold_days=3)


def facts(**changes: object) -> Facts:
    base = Facts(
        state=State.ACTIVE,
        next_action=NextAction.QUESTION,
        readiness=0.0,
        resistant_streak=0,
        pacing=PACING,
    )
    return dataclasses.replace(base, **changes)  # type: ignore[arg-type]


@pytest.mark.parametrize("label", [ReplyLabel.ENGAGED, ReplyLabel.NEUTRAL, ReplyLabel.AMBIVALENT])
def test_engaged_neutral_and_ambivalent_replies_mean_the_next_lesson_the_next_day(label):
    decision = decide(facts(resistant_streak=1), label, needs_review=False)
    assert decision.heard and decision.step is Step.LESSON and decision.days == 1
    assert decision.acknowledgement is None and decision.answer is None and decision.alert is None
    assert decision.resistant_streak == 0


def test_a_resistant_reply_is_acknowledged_and_the_next_lesson_waits():
    decision = decide(facts(), ReplyLabel.RESISTANT, needs_review=False)
    assert (decision.step, decision.days) == (Step.LESSON, 2)
    assert decision.acknowledgement == "resistant_ack"
    assert decision.resistant_streak == 1


def test_a_second_resistant_reply_in_a_row_offers_the_next_lesson():
    decision = decide(facts(resistant_streak=1), ReplyLabel.RESISTANT, needs_review=False)
    assert (decision.step, decision.days) == (Step.OFFER, 3)
    assert decision.acknowledgement == "resistant_ack"
    assert decision.resistant_streak == 2


def test_an_overwhelmed_reply_holds_lessons_for_a_check_in():
    decision = decide(facts(resistant_streak=1), ReplyLabel.OVERWHELMED, needs_review=False)
    assert (decision.step, decision.days) == (Step.CHECK_IN, 3)
    assert decision.acknowledgement == "overwhelmed_ack"
    assert decision.resistant_streak == 0


def test_a_course_sets_the_numbers():
    slow = dataclasses.replace(PACING, resistant_days=4, overwhelmed_hold_days=5)
    assert decide(facts(pacing=slow), ReplyLabel.RESISTANT, needs_review=False).days == 4
    assert decide(facts(pacing=slow), ReplyLabel.OVERWHELMED, needs_review=False).days == 5


def test_a_reply_to_review_takes_the_gentlest_pace_without_an_acknowledgement():
    decision = decide(facts(resistant_streak=1), ReplyLabel.ENGAGED, needs_review=True)
    assert decision.heard and (decision.step, decision.days) == (Step.LESSON, 2)
    assert decision.acknowledgement is None
    assert decision.resistant_streak == 1  # neither a resistant reply nor an engaged one


def test_a_crisis_holds_everything_answers_and_alerts():
    decision = decide(facts(), ReplyLabel.CRISIS, needs_review=False)
    assert decision.step is Step.HOLD and not decision.heard
    assert decision.answer == "crisis_response" and decision.alert is AlertKind.CRISIS
    assert decision.acknowledgement is None


@pytest.mark.parametrize("state", [State.PENDING, State.OPTED_OUT, State.COMPLETED])
def test_a_crisis_outside_a_course_still_answers_and_alerts_but_holds_nothing(state):
    decision = decide(facts(state=state), ReplyLabel.CRISIS, needs_review=False)
    assert decision.step is Step.KEEP
    assert decision.answer == "crisis_response" and decision.alert is AlertKind.CRISIS


def test_a_reply_while_held_is_heard_but_restarts_nothing():
    decision = decide(facts(state=State.HELD), ReplyLabel.ENGAGED, needs_review=False)
    assert decision.heard and decision.step is Step.KEEP and decision.acknowledgement is None


@pytest.mark.parametrize("state", [State.PENDING, State.OPTED_OUT, State.COMPLETED])
def test_a_reply_outside_a_course_changes_only_readiness(state):
    decision = decide(facts(state=state), ReplyLabel.RESISTANT, needs_review=False)
    assert decision == Decision(
        ReplyLabel.RESISTANT, readiness_after(0.0, ReplyLabel.RESISTANT), resistant_streak=0
    )


@pytest.mark.parametrize("state", [State.DORMANT, State.WAITING])
def test_a_reply_wakes_a_quiet_course_with_a_lesson(state):
    quiet = facts(state=state, next_action=NextAction.CHECK_IN)
    decision = decide(quiet, ReplyLabel.NEUTRAL, needs_review=False)
    assert decision.heard and (decision.step, decision.days) == (Step.LESSON, 1)


@pytest.mark.parametrize("action", [NextAction.CHECK_IN, NextAction.OFFER])
def test_a_reply_does_not_bring_forward_a_lesson_when_a_check_in_or_offer_is_due(action):
    decision = decide(facts(next_action=action), ReplyLabel.ENGAGED, needs_review=False)
    assert decision.heard and decision.step is Step.KEEP


def test_readiness_is_a_decaying_average():
    score = 0.0
    for label in (ReplyLabel.ENGAGED, ReplyLabel.ENGAGED, ReplyLabel.RESISTANT):
        score = decide(facts(readiness=score), label, needs_review=False).readiness
    assert score == pytest.approx(round(DECAY * round(DECAY * 0.3 + 0.3, 4) - 0.21, 4))


def test_labels_without_a_value_leave_readiness_alone():
    assert readiness_after(0.5, ReplyLabel.HELP) == 0.5


def test_a_decision_is_frozen():
    decision = decide(facts(), ReplyLabel.ENGAGED, needs_review=False)
    with pytest.raises(dataclasses.FrozenInstanceError):
        decision.step = Step.HOLD  # type: ignore[misc]
