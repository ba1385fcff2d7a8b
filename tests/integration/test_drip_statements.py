"""How much database work the drip does for a chunk of due subscriptions: the same number
of statements for 5 as for 40, so a query per subscription shows up here (one such query,
a lookup of skipped lessons per send, once cost three times the rest of the send)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from drip_support import record_sent
from flask import Flask
from sql_support import counting

from dripper.clock import sandbox_clock
from dripper.drip.tasks import perform_many
from dripper.drip.tick import claim_batch
from dripper.extensions import db
from dripper.models import Course, LessonSkip, Message, MessageKind
from dripper_testkit.builders import all_day_course, bulk_due

NOW = datetime(2026, 3, 9, 14, 0, tzinfo=UTC)


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    return record_sent(app, monkeypatch)


@pytest.fixture
def course(app: Flask) -> Course:
    """A short course that sends at any hour."""
    made = all_day_course()
    db.session.commit()
    return made


def claimed(count: int) -> tuple[list[int], str]:
    rows = claim_batch(NOW, NOW - timedelta(minutes=10), after_id=0, limit=count)
    db.session.commit()
    return [row[0] for row in rows], rows[0][2]


def lessons_sent() -> dict[int, int]:
    """The lesson each subscription was sent, by subscription."""
    rows = db.session.execute(
        sa.select(Message.subscription_id, Message.lesson_id).where(
            Message.kind == MessageKind.LESSON
        )
    )
    return {subscription_id: lesson_id for subscription_id, lesson_id in rows}


def compared(statements: list[str], database: str) -> list[str]:
    """The statements that must not grow with the chunk. On SQLite, only the reads: its
    driver cannot report the rows a batch matched, so the ORM writes there one row at a
    time by design (PostgreSQL gets one batch of each)."""
    if database == "sqlite":
        return [s for s in statements if s.startswith("SELECT")]
    return statements


def test_a_chunk_of_forty_sends_runs_no_more_statements_than_a_chunk_of_five(
    app: Flask, course: Course, sent: list[Any], database: str
) -> None:
    sandbox_clock().set(NOW)
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 45, NOW - timedelta(minutes=1))
    ids, token = claimed(45)
    with counting() as five:
        perform_many(ids[:5], token)
    with counting() as forty:
        perform_many(ids[5:], token)

    assert len(lessons_sent()) == 45
    many, few = compared(forty.statements, database), compared(five.statements, database)
    assert len(many) == len(few), many
    assert forty.commits == five.commits == 1


def test_a_chunk_leaves_out_the_lessons_published_before_each_persons_place(
    app: Flask, course: Course, sent: list[Any]
) -> None:
    sandbox_clock().set(NOW)
    with db.engine.begin() as connection:
        bulk_due(connection, course.id, 6, NOW - timedelta(minutes=1))
    ids, token = claimed(6)
    first, second = (lesson.id for lesson in course.lessons[:2])
    skipping = ids[::2]
    db.session.add_all(LessonSkip(subscription_id=i, lesson_id=first) for i in skipping)
    db.session.commit()

    perform_many(ids, token)

    sent_lessons = lessons_sent()
    assert {sent_lessons[i] for i in skipping} == {second}
    assert {sent_lessons[i] for i in ids if i not in skipping} == {first}
