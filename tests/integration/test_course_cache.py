"""The course list kept per process (dripper/conversation/live_courses.py): no query while it is
fresh, a change in this process seen at once, one in another process within
COURSE_CACHE_SECONDS."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from conftest import make_config
from flask import Flask

from dripper.conversation.live_courses import course_keywords, live_courses
from dripper.extensions import db
from dripper.models import Course


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return make_config(database_url, tmp_path, COURSE_CACHE_SECONDS=0.5)


def test_a_warm_course_list_runs_no_query_and_belongs_to_the_session(
    app: Flask, course: Course
) -> None:
    live_courses()
    db.session.commit()
    statements: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(statement)

    sa.event.listen(db.engine, "before_cursor_execute", note)
    try:
        [found] = live_courses()
        keywords = course_keywords()
    finally:
        sa.event.remove(db.engine, "before_cursor_execute", note)
    assert statements == []
    assert found in db.session and found.id == course.id
    assert keywords == {course.keyword.upper()}
    assert [lesson.key for lesson in found.lessons]  # relationships load in this session


def test_a_course_changed_in_this_process_is_seen_at_once(app: Flask, course: Course) -> None:
    assert course_keywords() == {course.keyword.upper()}
    course.keyword = "CALMER"
    db.session.commit()
    assert course_keywords() == {"CALMER"}
    assert live_courses()[0].keyword == "CALMER"


def test_a_course_changed_in_another_process_is_seen_within_the_cache_seconds(
    app: Flask, course: Course
) -> None:
    assert course_keywords() == {course.keyword.upper()}
    other = sa.create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    with other.begin() as connection:
        connection.execute(sa.update(Course).values(keyword="STEADY", updated_at=datetime.now(UTC)))
    other.dispose()
    db.session.commit()
    time.sleep(0.6)
    assert course_keywords() == {"STEADY"}
    assert live_courses()[0].keyword == "STEADY"
