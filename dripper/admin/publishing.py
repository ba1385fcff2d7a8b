"""Drafts, publishing, history and rollback of a course, and who each change affects.

An edit changes the course's draft (the whole course as its file would say it).
Publishing applies the draft through the same path as ``course import``
(:func:`dripper.courses.store.import_course`): lessons keep their rows by key, a
removed lesson is archived, positions follow the new order. People keep their place
by lesson identity: the drip sends the first lesson in the current order that they
have not had, so a deleted lesson is skipped and reordered ones come in the new
order; a lesson published *before* someone's place is recorded in ``LessonSkip`` for
them, so it is never sent to them either.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy import func, select

from dripper.clock import now
from dripper.courses.check import Problem, check_spec
from dripper.courses.spec import CourseSpec, dump, parse
from dripper.courses.store import export_course, import_course
from dripper.extensions import db
from dripper.models import (
    AuditEntry,
    Course,
    CourseVersion,
    Direction,
    Lesson,
    LessonSkip,
    Message,
    MessageKind,
    Subscription,
)
from dripper.subscriptions.states import LIVE_STATES


class PublishError(ValueError):
    """The draft cannot go live (it has problems ``course check`` reports as errors)."""


def spec_of(data: dict[str, Any]) -> CourseSpec:
    """A CourseSpec from its stored dict (the draft, or a version)."""
    return parse(data)


def live_spec(course: Course) -> CourseSpec:
    spec = export_course(course.slug)
    assert spec is not None
    return spec


def working_spec(course: Course) -> CourseSpec:
    """What the editors see: the draft if there is one, else what is live."""
    return spec_of(course.draft) if course.draft else live_spec(course)


def save_draft(course: Course, spec: CourseSpec, actor: str, action: str, before: Any, after: Any,
               admin_id: int | None = None) -> None:  # fmt: skip
    """Keep ``spec`` as the course's draft and log the change (who, when, before, after)."""
    course.draft = spec.to_dict()
    course.draft_updated_at = now()
    db.session.add(
        AuditEntry(
            admin_id=admin_id,
            actor=actor,
            action=action,
            target=f"course:{course.slug}",
            detail={"before": before, "after": after},
        )
    )


def discard_draft(course: Course, actor: str, admin_id: int | None = None) -> None:
    if course.draft:
        db.session.add(
            AuditEntry(admin_id=admin_id, actor=actor, action="course.discard_draft",
                       target=f"course:{course.slug}", detail={"before": course.draft, "after": None})
        )  # fmt: skip
    course.draft = None
    course.draft_updated_at = None


def errors(spec: CourseSpec) -> list[Problem]:
    return [p for p in check_spec(spec, spec.slug) if not p.warning]


@dataclass
class Change:
    """One difference between what is live and the draft, and how many people it touches."""

    kind: str  # added, removed, edited, moved, settings
    key: str
    title: str
    affected: int
    detail: str = ""


@dataclass
class Impact:
    changes: list[Change] = field(default_factory=list)
    live_people: int = 0

    @property
    def empty(self) -> bool:
        return not self.changes


def _live_subscriptions(course_id: int) -> sa.Select[Any]:
    return select(Subscription.id).where(
        Subscription.course_id == course_id, Subscription.state.in_(LIVE_STATES)
    )


def _had_any(course_id: int, lesson_ids: list[int]) -> sa.Select[Any]:
    """Live subscriptions of the course that were sent any of ``lesson_ids``."""
    return (
        select(Message.subscription_id)
        .where(
            Message.lesson_id.in_(lesson_ids or [0]),
            Message.kind == MessageKind.LESSON,
            Message.direction == Direction.OUTBOUND,
            Message.subscription_id.in_(_live_subscriptions(course_id)),
        )
        .distinct()
    )


def _count(query: sa.Select[Any]) -> int:
    return int(db.session.scalar(select(func.count()).select_from(query.subquery())) or 0)


def _not_had(course_id: int, lesson_id: int) -> int:
    had = _had_any(course_id, [lesson_id])
    return _count(_live_subscriptions(course_id).where(Subscription.id.not_in(had)))


def impact(course: Course, draft: CourseSpec) -> Impact:
    """What publishing ``draft`` changes, and for how many people in the course each change
    matters (by lesson identity: who has not had a removed, edited or moved lesson, and
    who is already past the place of an added one and so will not get it)."""
    live = live_spec(course)
    lessons = {
        lesson.key: lesson
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id))
    }
    result = Impact(live_people=_count(_live_subscriptions(course.id)))
    live_keys = [lesson.key for lesson in live.lessons]
    draft_keys = [lesson.key for lesson in draft.lessons]
    old = {lesson.key: lesson for lesson in live.lessons}
    for index, lesson in enumerate(draft.lessons):
        if lesson.key not in old:
            after = [lessons[k].id for k in draft_keys[index + 1 :] if k in lessons and k in old]
            passed = _count(_had_any(course.id, after))
            result.changes.append(
                Change("added", lesson.key, lesson.title, passed,
                       f"{passed} already past its place will not get it; "
                       f"{result.live_people - passed} will")
            )  # fmt: skip
        elif (old[lesson.key].title, old[lesson.key].text, old[lesson.key].question) != (
            lesson.title, lesson.text, lesson.question,
        ):  # fmt: skip
            n = _not_had(course.id, lessons[lesson.key].id)
            result.changes.append(
                Change("edited", lesson.key, lesson.title, n, f"{n} have not had it yet")
            )
    for key in live_keys:
        if key not in draft_keys:
            n = _not_had(course.id, lessons[key].id)
            result.changes.append(
                Change("removed", key, old[key].title, n, f"{n} who have not had it will skip it")
            )
    kept_old = [k for k in live_keys if k in draft_keys]
    kept_new = [k for k in draft_keys if k in old]
    moved = [k for i, k in enumerate(kept_new) if kept_old[i] != k]
    for key in moved:
        n = _not_had(course.id, lessons[key].id)
        result.changes.append(
            Change("moved", key, old[key].title, n,
                   f"now {kept_new.index(key) + 1} of the kept lessons (was "
                   f"{kept_old.index(key) + 1}); {n} who have not had it get it in the new order")
        )  # fmt: skip
    changed = [
        name
        for name in ("title", "keyword", "description", "contact", "pacing", "messages")
        if getattr(live, name) != getattr(draft, name)
    ]
    if changed:
        result.changes.append(
            Change("settings", "", ", ".join(changed), result.live_people,
                   "applies to everyone in the course from their next message")
        )  # fmt: skip
    return result


def _next_number(course: Course) -> int:
    latest = db.session.scalar(
        select(func.max(CourseVersion.number)).where(CourseVersion.course_id == course.id)
    )
    return int(latest or 0) + 1


def record_version(course: Course, actor: str, summary: str) -> CourseVersion:
    version = CourseVersion(
        course_id=course.id,
        number=_next_number(course),
        spec=live_spec(course).to_dict(),
        actor=actor,
        summary=summary,
        created_at=now(),
    )
    db.session.add(version)
    return version


def publish(course: Course, actor: str, admin_id: int | None = None) -> CourseVersion:
    """Make the draft live as a new version; the caller commits."""
    if not course.draft:
        raise PublishError("there is nothing to publish")
    draft = spec_of(course.draft)
    problems = errors(draft)
    if problems:
        raise PublishError("; ".join(f"{p.where}: {p.message}" for p in problems[:5]))
    before = live_spec(course).to_dict()
    if not db.session.scalar(select(CourseVersion.id).where(CourseVersion.course_id == course.id)):
        # The first publication from the console: keep what was live as version 1.
        record_version(course, "import", "as imported")
    result = import_course(draft, actor=actor)
    _skip_added_before_place(course, result.lessons_added)
    course.draft = None
    course.draft_updated_at = None
    version = record_version(course, actor, result.summary())
    db.session.add(
        AuditEntry(
            admin_id=admin_id,
            actor=actor,
            action="course.publish",
            target=f"course:{course.slug}",
            detail={
                "version": version.number,
                "summary": result.summary(),
                "before": before,
                "after": version.spec,
            },
        )
    )
    db.session.flush()
    return version


def _skip_added_before_place(course: Course, added_keys: list[str]) -> None:
    """For each lesson just published, everyone already past its place will not get it."""
    if not added_keys:
        return
    lessons = list(
        db.session.scalars(
            select(Lesson)
            .where(Lesson.course_id == course.id, Lesson.archived_at.is_(None))
            .order_by(Lesson.position)
        )
    )
    for index, lesson in enumerate(lessons):
        if lesson.key not in added_keys:
            continue
        after = [later.id for later in lessons[index + 1 :]]
        if not after:
            continue
        passed = _had_any(course.id, after).where(
            Message.subscription_id.not_in(
                select(LessonSkip.subscription_id).where(LessonSkip.lesson_id == lesson.id)
            )
        )
        db.session.execute(
            sa.insert(LessonSkip).from_select(
                ["subscription_id", "lesson_id"],
                select(passed.subquery().c.subscription_id, sa.literal(lesson.id)),
            )
        )


def create_course(spec: CourseSpec, actor: str, admin_id: int | None = None) -> Course:
    """A new course goes live as version 1 (it has no subscribers yet)."""
    problems = errors(spec)
    if problems:
        raise PublishError("; ".join(f"{p.where}: {p.message}" for p in problems[:5]))
    result = import_course(spec, actor=actor)
    course = db.session.scalar(select(Course).where(Course.slug == spec.slug))
    assert course is not None
    record_version(course, actor, result.summary())
    db.session.add(
        AuditEntry(admin_id=admin_id, actor=actor, action="course.create",
                   target=f"course:{spec.slug}", detail={"before": None, "after": spec.to_dict()})
    )  # fmt: skip
    db.session.flush()
    return course


def rollback_draft(course: Course, version: CourseVersion, actor: str,
                   admin_id: int | None = None) -> None:  # fmt: skip
    """Make an earlier version the draft; publishing it is a new version."""
    before = working_spec(course).to_dict()
    save_draft(course, spec_of(version.spec), actor, "course.rollback_draft", before, version.spec,
               admin_id)  # fmt: skip


def diff(a: CourseSpec, b: CourseSpec) -> list[str]:
    """A unified diff of the two courses as files."""
    return list(
        difflib.unified_diff(
            dump(a).splitlines(), dump(b).splitlines(), "before", "after", lineterm="", n=2
        )
    )
