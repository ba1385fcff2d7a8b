"""The send a claim leads to: the right lesson or question, once, at the right time."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from drip_support import outbound, record_sent
from flask import Flask

from dripper.clock import now, sandbox_clock
from dripper.drip import tasks
from dripper.drip.tasks import StepOutcome, kick, perform, send_batch
from dripper.drip.tick import claim_one
from dripper.extensions import db
from dripper.models import (
    Course,
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    SubscriberStatus,
    Subscription,
    SubscriptionState,
)
from dripper.subscriptions import states
from dripper.subscriptions.states import NextAction
from dripper_testkit.builders import add_person, small_course

NEW_YORK = ZoneInfo("America/New_York")
MONDAY_9AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    return record_sent(app, monkeypatch)


@pytest.fixture
def tiny(app: Flask) -> Course:
    course = small_course(3)
    db.session.commit()
    return course


@pytest.fixture
def person(app: Flask, tiny: Course, sent: list[Any]) -> Subscription:
    sandbox_clock().set(MONDAY_9AM)
    subscription = add_person(tiny, "+12125550100", due=MONDAY_9AM)
    db.session.commit()
    return subscription


def run_when_due(subscription: Subscription) -> StepOutcome:
    """Move the clock to the next send, claim it as the tick would, and do it."""
    assert subscription.next_send_at is not None
    if subscription.next_send_at > now():
        sandbox_clock().set(subscription.next_send_at)
    token = claim_one(subscription.id)
    db.session.commit()
    assert token, "it was due"
    outcome = perform(subscription.id, token)
    db.session.refresh(subscription)
    return outcome


def bodies(subscription: Subscription) -> list[str]:
    return [m.body for m in outbound(subscription.id)]


def local(when: datetime | None) -> datetime:
    """In New York, to the minute (the sandbox clock runs on between steps)."""
    assert when is not None
    return when.astimezone(NEW_YORK).replace(second=0, microsecond=0)


def test_a_day_is_a_lesson_then_its_question_then_tomorrows_lesson_at_nine(
    person: Subscription, sent: list[Any]
) -> None:
    assert run_when_due(person) is StepOutcome.LESSON
    assert bodies(person) == ["Lesson 1 text."]
    assert person.next_action == NextAction.QUESTION
    assert local(person.next_send_at).time() == time(12, 0)  # 3 hours later
    assert person.claim_token is None and person.lessons_sent == 1

    assert run_when_due(person) is StepOutcome.QUESTION
    assert bodies(person) == ["Lesson 1 text.", "Question 1?"]
    assert person.next_action == NextAction.LESSON
    assert local(person.next_send_at) == MONDAY_9AM + timedelta(days=1)

    message = outbound(person.id)[0]
    assert message.dedupe_key == f"sub:{person.id}:lesson:{message.lesson_id}:lesson"
    assert message.status is MessageStatus.PENDING
    # Each stored message's delivery was queued once the send committed.
    delivered = [args[0] for name, args in sent if name == "dripper.sms.deliver"]
    assert delivered == [m.id for m in outbound(person.id)]


def test_running_the_same_claim_twice_sends_once(person: Subscription) -> None:
    token = claim_one(person.id)
    db.session.commit()
    assert token
    assert perform(person.id, token) is StepOutcome.LESSON
    assert perform(person.id, token) is StepOutcome.STALE
    assert len(outbound(person.id)) == 1


def test_a_stale_claim_does_nothing(person: Subscription) -> None:
    assert claim_one(person.id)
    db.session.commit()
    assert perform(person.id, "not-the-token") is StepOutcome.STALE
    assert outbound(person.id) == []


def test_a_transition_while_claimed_makes_the_send_a_no_op(person: Subscription) -> None:
    token = claim_one(person.id)
    db.session.commit()
    states.pause(person, 3, now())
    db.session.commit()
    assert perform(person.id, str(token)) is StepOutcome.STALE
    assert outbound(person.id) == []
    assert person.state is SubscriptionState.PAUSED


def test_the_question_is_skipped_when_they_already_replied(person: Subscription) -> None:
    run_when_due(person)
    states.reply_received(person, now() + timedelta(minutes=20))
    db.session.commit()
    assert run_when_due(person) is StepOutcome.QUESTION_SKIPPED
    assert bodies(person) == ["Lesson 1 text."]
    assert person.next_action == NextAction.LESSON
    assert local(person.next_send_at) == MONDAY_9AM + timedelta(days=1)


def test_an_unanswered_question_is_counted_when_the_next_lesson_goes(
    person: Subscription,
) -> None:
    run_when_due(person)  # lesson 1
    run_when_due(person)  # question 1, no answer
    run_when_due(person)  # lesson 2
    assert person.unanswered_questions == 1
    run_when_due(person)  # question 2
    states.reply_received(person, now() + timedelta(hours=1))
    db.session.commit()
    run_when_due(person)  # lesson 3: question 2 was answered
    assert person.unanswered_questions == 0
    assert bodies(person)[-1] == "Lesson 3 text."


def test_a_skipped_question_is_not_counted_as_unanswered(person: Subscription) -> None:
    run_when_due(person)  # lesson 1
    states.reply_received(person, now() + timedelta(minutes=5))
    db.session.commit()
    run_when_due(person)  # no question needed
    run_when_due(person)  # lesson 2
    assert person.unanswered_questions == 0


def test_the_end_of_the_course_sends_the_completion_once(person: Subscription) -> None:
    for _ in range(3):
        assert run_when_due(person) is StepOutcome.LESSON
        assert run_when_due(person) is StepOutcome.QUESTION
    assert run_when_due(person) is StepOutcome.COMPLETED
    assert person.state is SubscriptionState.COMPLETED
    assert person.next_send_at is None and person.claim_token is None
    kinds = [m.kind for m in outbound(person.id)]
    assert kinds.count(MessageKind.COMPLETION) == 1 and kinds.count(MessageKind.LESSON) == 3
    assert bodies(person)[-1] == "That's the end. Take care."
    assert claim_one(person.id) is None  # nothing more is ever due


def test_reordered_inserted_and_archived_lessons_never_repeat_or_skip_a_lesson(
    person: Subscription, tiny: Course
) -> None:
    run_when_due(person)  # lesson 1
    run_when_due(person)
    run_when_due(person)  # lesson 2
    run_when_due(person)
    lessons = {lesson.key: lesson for lesson in db.session.scalars(sa.select(Lesson))}
    # Lesson 2 (received) moves to the front, a new lesson goes before lesson 3, and
    # lesson 3 is deleted (archived), then a fourth is added at the end.
    lessons["l2"].position = 0
    lessons["l3"].archived_at = now()
    db.session.add_all(
        [
            Lesson(course_id=tiny.id, key="new", position=2, title="N", text="New text.", question="N?"),
            Lesson(course_id=tiny.id, key="l4", position=9, title="4", text="Lesson 4 text.", question="4?"),
        ]
    )  # fmt: skip
    db.session.commit()
    db.session.expire_all()

    sent_lessons = []
    while person.state is not SubscriptionState.COMPLETED:
        if run_when_due(person) is StepOutcome.LESSON:
            sent_lessons.append(bodies(person)[-1])
    assert sent_lessons == ["New text.", "Lesson 4 text."]
    received = [m.body for m in outbound(person.id, MessageKind.LESSON)]
    assert received == ["Lesson 1 text.", "Lesson 2 text.", "New text.", "Lesson 4 text."]


def test_someone_who_cannot_be_texted_gets_nothing_and_leaves_the_schedule(
    person: Subscription,
) -> None:
    token = claim_one(person.id)
    db.session.commit()
    person.subscriber.status = SubscriberStatus.UNREACHABLE
    db.session.commit()
    assert perform(person.id, str(token)) is StepOutcome.NOT_TEXTABLE
    db.session.refresh(person)
    assert outbound(person.id) == []
    assert person.next_send_at is None and person.claim_token is None


def test_a_send_picked_up_in_quiet_hours_moves_to_the_next_opening(
    person: Subscription,
) -> None:
    late = datetime(2026, 3, 9, 22, 30, tzinfo=NEW_YORK)  # a backlog ran late
    sandbox_clock().set(late)
    assert run_when_due(person) is StepOutcome.QUIET_HOURS
    assert outbound(person.id) == []
    assert person.next_action == NextAction.LESSON and person.claim_token is None
    assert local(person.next_send_at) == datetime(2026, 3, 10, 8, 0, tzinfo=NEW_YORK)
    assert run_when_due(person) is StepOutcome.LESSON


def test_a_pause_that_runs_out_resumes_with_the_next_lesson(person: Subscription) -> None:
    run_when_due(person)
    states.pause(person, 2, now())
    db.session.commit()
    assert person.state is SubscriptionState.PAUSED
    assert local(person.next_send_at) == MONDAY_9AM + timedelta(days=2)
    assert run_when_due(person) is StepOutcome.LESSON
    assert person.state is SubscriptionState.ACTIVE
    assert bodies(person)[-1] == "Lesson 2 text."


def test_a_racing_run_that_loses_on_the_dedupe_key_rolls_back_cleanly(
    person: Subscription, monkeypatch: pytest.MonkeyPatch, sent: list[Any]
) -> None:
    token = claim_one(person.id)
    db.session.commit()
    lesson = db.session.scalar(sa.select(Lesson).order_by(Lesson.position))
    assert lesson is not None
    key = tasks.lesson_key(person.id, lesson.id, "lesson")
    # The other run wrote the lesson between this run's check and its insert.
    with db.engine.begin() as connection:
        connection.execute(
            sa.insert(Message).values(
                direction=Direction.OUTBOUND, kind=MessageKind.LESSON, phone="+12125550100",
                body="x", status=MessageStatus.PENDING, dedupe_key=key, attempts=0,
                needs_review=False, created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    real_scalar = db.session.scalar

    def blind_to_the_winner(statement: Any, *args: Any, **kwargs: Any) -> Any:
        if "message.dedupe_key =" in str(statement):  # the outbox's "already written?"
            return None
        return real_scalar(statement, *args, **kwargs)

    monkeypatch.setattr(db.session, "scalar", blind_to_the_winner)
    assert perform(person.id, str(token)) is StepOutcome.DUPLICATE
    monkeypatch.undo()
    db.session.refresh(person)
    assert person.lessons_sent == 0 and person.next_action == NextAction.LESSON
    assert [name for name, _ in sent if name == "dripper.sms.deliver"] == []


def test_an_action_without_a_handler_keeps_its_claim_for_a_later_retry(
    person: Subscription,
) -> None:
    # An action written by a newer release, say, that this worker does not know yet.
    person.next_action = "a_newer_action"
    db.session.commit()
    assert person.next_action not in tasks.ACTIONS
    token = claim_one(person.id)
    db.session.commit()
    assert perform(person.id, str(token)) is StepOutcome.UNKNOWN_ACTION
    db.session.refresh(person)
    assert person.claim_token == token


def test_more_is_sent_at_once_through_kick(
    person: Subscription, sent: list[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    run_when_due(person)  # today's lesson at 9:00
    states.request_more(person, now())
    assert kick(person.id) is True
    assert [n for n, _ in sent if n == "dripper.drip.send_due"] == []  # not before commit
    db.session.commit()
    [(subscription_id, token)] = [args for n, args in sent if n == "dripper.drip.send_due"]
    assert subscription_id == person.id and person.claim_token == token
    assert perform(person.id, token) is StepOutcome.LESSON
    assert bodies(person)[-1] == "Lesson 2 text."


def test_more_in_quiet_hours_waits_for_the_window(person: Subscription, sent: list[Any]) -> None:
    run_when_due(person)
    sandbox_clock().set(datetime(2026, 3, 9, 23, 0, tzinfo=NEW_YORK))
    at = states.request_more(person, now())
    assert kick(person.id) is False
    db.session.commit()
    assert local(at) == datetime(2026, 3, 10, 8, 0, tzinfo=NEW_YORK)
    assert [n for n, _ in sent if n == "dripper.drip.send_due"] == []


def test_a_batch_goes_on_past_a_subscription_that_fails(
    app: Flask, tiny: Course, monkeypatch: pytest.MonkeyPatch, sent: list[Any]
) -> None:
    sandbox_clock().set(MONDAY_9AM)
    people = [add_person(tiny, f"+1212555010{n}", due=MONDAY_9AM) for n in range(3)]
    db.session.commit()
    tokens = {p.id: claim_one(p.id) for p in people}
    db.session.commit()
    token = tokens[people[0].id]
    for p in people[1:]:  # one batch shares one token, as the tick claims them
        p.claim_token = token
    db.session.commit()
    real = tasks._send_lesson

    def flaky(subscription: Subscription, at: datetime) -> StepOutcome:
        if subscription.id == people[1].id:
            raise RuntimeError("boom")
        return real(subscription, at)

    monkeypatch.setitem(tasks.ACTIONS, NextAction.LESSON, flaky)
    counts = send_batch.run([p.id for p in people], token)
    assert counts == {"lesson": 2, "error": 1}
    db.session.expire_all()
    assert [len(outbound(p.id)) for p in people] == [1, 0, 1]
    assert db.session.get(Subscription, people[1].id).claim_token == token  # retried later
