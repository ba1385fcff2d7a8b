"""The tick: which subscriptions it claims, how, and what it queues."""

from __future__ import annotations

import base64
import json
import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from drip_support import record_sent
from flask import Flask
from flask.testing import FlaskCliRunner

from dripper.clock import sandbox_clock
from dripper.drip.tick import claim_one, tick
from dripper.extensions import db
from dripper.models import Course, Subscription, SubscriptionState
from dripper.subscriptions.states import NextAction
from dripper_testkit.builders import add_person, bulk_due

NOW = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    return record_sent(app, monkeypatch)


@pytest.fixture
def at_now(app: Flask) -> datetime:
    sandbox_clock().set(NOW)
    return NOW


def claims() -> dict[int, tuple[str | None, datetime | None]]:
    rows = db.session.execute(
        sa.select(Subscription.id, Subscription.claim_token, Subscription.claimed_at)
    )
    return {row.id: (row.claim_token, row.claimed_at) for row in rows}


def batched_ids(sent: list[tuple[str, tuple[Any, ...]]]) -> list[int]:
    return sorted(i for name, args in sent if name == "dripper.drip.send_batch" for i in args[0])


def test_tick_claims_only_what_is_due_and_unclaimed(
    app: Flask, course: Course, sent: list[Any], at_now: datetime
) -> None:
    due = add_person(course, "+12025550001", due=NOW - timedelta(minutes=5))
    question = add_person(course, "+12025550002", action=NextAction.QUESTION, due=NOW)
    paused_due = add_person(course, "+12025550003", state=SubscriptionState.PAUSED, due=NOW)
    add_person(course, "+12025550004", due=NOW + timedelta(minutes=1))  # not yet
    add_person(course, "+12025550005", state=SubscriptionState.PENDING, due=NOW)
    add_person(course, "+12025550006", state=SubscriptionState.HELD, due=NOW)
    add_person(course, "+12025550007", state=SubscriptionState.COMPLETED, due=NOW)
    add_person(course, "+12025550008", due=None)
    fresh = add_person(course, "+12025550009", due=NOW)
    fresh.claim_token, fresh.claimed_at = "someone-else", NOW - timedelta(minutes=1)
    stale = add_person(course, "+12025550010", due=NOW)
    stale.claim_token, stale.claimed_at = "dead-worker", NOW - timedelta(minutes=11)
    db.session.commit()

    result = tick()

    expected = {due.id, question.id, paused_due.id, stale.id}
    assert result.claimed == 4
    assert result.by_action == {"lesson": 3, "question": 1}
    assert result.summary() == "queued 4 (lesson 3, question 1) in 1 task(s)"
    assert batched_ids(sent) == sorted(expected)
    tokens = claims()
    assert {i for i, (token, _) in tokens.items() if token and token != "someone-else"} == expected
    assert tokens[fresh.id][0] == "someone-else"
    # The sandbox clock runs on from where it was set.
    assert all(NOW <= tokens[i][1] < NOW + timedelta(minutes=1) for i in expected)


def test_tasks_are_queued_only_after_the_claim_commits(
    app: Flask, course: Course, sent: list[Any], at_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    add_person(course, "+12025550001", due=NOW)
    db.session.commit()
    seen_committed: list[bool] = []
    real_commit = db.session.commit

    def commit() -> None:
        seen_committed.append(bool(sent))
        real_commit()

    monkeypatch.setattr(db.session, "commit", commit)
    tick()
    assert sent and seen_committed[-1] is False


def test_tasks_are_queued_one_by_one_when_the_pipelined_publish_fails(
    app: Flask, course: Course, sent: list[Any], at_now: datetime, monkeypatch: pytest.MonkeyPatch
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 7, NOW)

    def broker_gone(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("no producer")

    monkeypatch.setattr(app.extensions["celery"], "producer_or_acquire", broker_gone)
    result = tick(batch_size=5, chunk_size=2)
    assert (result.claimed, result.tasks) == (7, 3 + 1)
    assert batched_ids(sent) == sorted(claims())


def test_the_send_tasks_reach_the_broker(app: Flask, course: Course, at_now: datetime) -> None:
    celery = app.extensions["celery"]
    key = celery.conf.task_default_queue
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 120, NOW)
    with celery.connection_for_write() as connection:
        client = connection.default_channel.client
        client.delete(key)
        result = tick(chunk_size=50)
        waiting = [json.loads(raw) for raw in client.lrange(key, 0, -1)]
        client.delete(key)
    assert result.tasks == 3 and len(waiting) == 3
    assert {message["headers"]["task"] for message in waiting} == {"dripper.drip.send_batch"}
    sent = [json.loads(base64.b64decode(message["body"]))[0] for message in waiting]
    assert sorted(i for ids, _ in sent for i in ids) == sorted(claims())
    for ids, token in sent:
        assert {claims()[i][0] for i in ids} == {token}


def test_a_second_tick_finds_nothing_to_claim(
    app: Flask, course: Course, sent: list[Any], at_now: datetime
) -> None:
    for n in range(5):
        add_person(course, f"+1202555000{n}", due=NOW)
    db.session.commit()
    assert tick().claimed == 5
    again = tick()
    assert again.claimed == 0 and again.summary() == "nothing due"
    assert len(batched_ids(sent)) == 5


def test_claims_go_in_batches_and_chunks(
    app: Flask, course: Course, sent: list[Any], at_now: datetime
) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 23, NOW)
    result = tick(batch_size=10, chunk_size=4)
    assert (result.claimed, result.batches) == (23, 3)
    assert result.tasks == 3 + 3 + 1  # 10 -> 4+4+2, 10 -> 4+4+2, 3
    assert batched_ids(sent) == sorted(claims())
    # One token per batch: a chunk carries the token its rows were claimed with.
    for _, (ids, token) in sent:
        assert {claims()[i][0] for i in ids} == {token}


def test_limit_caps_a_pass(app: Flask, course: Course, sent: list[Any], at_now: datetime) -> None:
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 12, NOW)
    assert tick(limit=5, batch_size=3).claimed == 5
    assert tick().claimed == 7


def test_drip_tick_command_prints_what_it_queued(
    app: Flask, course: Course, sent: list[Any], at_now: datetime, runner: FlaskCliRunner
) -> None:
    add_person(course, "+12025550001", due=NOW)
    add_person(course, "+12025550002", action=NextAction.QUESTION, due=NOW)
    db.session.commit()
    result = runner.invoke(args=["drip", "tick"])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "queued 2 (lesson 1, question 1) in 1 task(s)"
    assert runner.invoke(args=["drip", "tick"]).output.strip() == "nothing due"


def test_claim_one_takes_a_due_subscription_once(
    app: Flask, course: Course, sent: list[Any], at_now: datetime
) -> None:
    subscription = add_person(course, "+12025550001", due=NOW)
    later = add_person(course, "+12025550002", due=NOW + timedelta(hours=1))
    db.session.commit()
    token = claim_one(subscription.id)
    db.session.commit()
    assert token and subscription.claim_token == token
    assert claim_one(subscription.id) is None
    assert claim_one(later.id) is None


def test_concurrent_ticks_claim_disjoint_sets(
    app: Flask, course: Course, sent: list[Any], at_now: datetime, database: str
) -> None:
    total = 3000
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, total, NOW)
    results: list[Any] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def run() -> None:
        try:
            with app.app_context():
                start.wait()
                results.append(tick(batch_size=50, chunk_size=50))
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors, errors
    per_tick = [r.claimed for r in results]
    assert sum(per_tick) == total, per_tick
    claimed_ids = batched_ids(sent)
    assert len(claimed_ids) == total and len(set(claimed_ids)) == total
    if database == "postgresql":
        # SKIP LOCKED lets them share the work rather than queue behind each other.
        assert sum(1 for n in per_tick if n) >= 2, per_tick
