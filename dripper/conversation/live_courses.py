"""The course list every inbound text reads (its keywords decide what the text means),
kept per process instead of read for each text.

A process keeps a detached copy of every course's columns and hands out instances of
the caller's session (``Session.merge(load=False)``: no query); relationships such as
``lessons`` still load from the database in that session. The copy is dropped

* at once when this process flushes a change to a course (an import, a publish, a draft
  saved in the admin console: any change to the ``course`` row), and
* when another process changed one: every ``COURSE_CACHE_SECONDS`` the process asks the
  database for the number of courses and their latest ``updated_at``, which every
  write to a course row moves (``onupdate``), and reads them again if either changed.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app
from sqlalchemy import event, func, inspect, select
from sqlalchemy.orm import Session, make_transient_to_detached

from dripper.extensions import db
from dripper.models import Course

_KEY = "dripper.conversation.live_courses"
_lock = threading.Lock()
#: Moved by every flush of a course in this process (any app, any session).
_generation = 0


@dataclass(frozen=True)
class _Copy:
    generation: int
    stamp: tuple[int, datetime | None]
    checked_at: float
    courses: tuple[Course, ...]  # detached, by id
    keywords: frozenset[str]


def _stamp() -> tuple[int, datetime | None]:
    count, latest = db.session.execute(
        select(func.count(Course.id), func.max(Course.updated_at))
    ).one()
    return int(count), latest


def _detached(course: Course) -> Course:
    """A detached copy of ``course``'s columns, as if freshly loaded (no pending change)."""
    values = {attr.key: getattr(course, attr.key) for attr in inspect(Course).column_attrs}
    copy = Course(**values)
    make_transient_to_detached(copy)
    return copy


def _load(stamp: tuple[int, datetime | None], generation: int) -> _Copy:
    courses = tuple(
        _detached(course) for course in db.session.scalars(select(Course).order_by(Course.id))
    )
    return _Copy(
        generation=generation,
        stamp=stamp,
        checked_at=time.monotonic(),
        courses=courses,
        keywords=frozenset(course.keyword.upper() for course in courses),
    )


def _current() -> _Copy:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    copy: _Copy | None = app.extensions.get(_KEY)
    generation = _generation
    trust = float(app.config["COURSE_CACHE_SECONDS"])
    if (
        copy is not None
        and copy.generation == generation
        and time.monotonic() - copy.checked_at < trust
    ):
        return copy
    stamp = _stamp()
    if copy is not None and copy.generation == generation and copy.stamp == stamp:
        copy = _Copy(generation, stamp, time.monotonic(), copy.courses, copy.keywords)
    else:
        copy = _load(stamp, generation)
    with _lock:
        app.extensions[_KEY] = copy
    return copy


def live_courses() -> list[Course]:
    """Every course, by id (the first is the default course), in the current session."""
    session = db.session
    return [session.merge(course, load=False) for course in _current().courses]


def course_keywords() -> frozenset[str]:
    """The courses' JOIN keywords, upper case."""
    return _current().keywords


def _forget() -> None:
    global _generation
    with _lock:
        _generation += 1


@event.listens_for(Session, "after_flush")
def _courses_flushed(session: Session, context: Any) -> None:
    # Now, for this transaction's own reads; again at its commit, for everyone's.
    if any(isinstance(obj, Course) for obj in (*session.new, *session.dirty, *session.deleted)):
        session.info[_KEY] = True
        _forget()


@event.listens_for(Session, "after_commit")
def _courses_committed(session: Session) -> None:
    if session.info.pop(_KEY, False):
        _forget()


@event.listens_for(Session, "after_rollback")
def _courses_rolled_back(session: Session) -> None:
    if session.info.pop(_KEY, False):
        _forget()
