"""Course files <-> the database.

Importing is idempotent and only ever touches the course and its lessons: what a
subscriber has received is recorded on their messages, so an import never resends
or reorders it. A lesson missing from the file is archived, not deleted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select

from dripper.clock import now
from dripper.courses.spec import CourseSpec, LessonSpec
from dripper.extensions import db
from dripper.models import AuditEntry, Course, Lesson


@dataclass
class ImportResult:
    """What an import changed, for the CLI to print and the audit log to keep."""

    slug: str
    created: bool = False
    course_changed: list[str] = field(default_factory=list)
    lessons_added: list[str] = field(default_factory=list)
    lessons_changed: list[str] = field(default_factory=list)
    lessons_archived: list[str] = field(default_factory=list)
    reordered: bool = False

    @property
    def changed(self) -> bool:
        return bool(
            self.created
            or self.course_changed
            or self.lessons_added
            or self.lessons_changed
            or self.lessons_archived
            or self.reordered
        )

    def summary(self) -> str:
        if self.created:
            return f"{self.slug}: created with {len(self.lessons_added)} lessons"
        if not self.changed:
            return f"{self.slug}: unchanged"
        parts = []
        if self.course_changed:
            parts.append("course " + ", ".join(self.course_changed))
        for what, keys in (
            ("added", self.lessons_added),
            ("changed", self.lessons_changed),
            ("archived", self.lessons_archived),
        ):
            if keys:
                parts.append(f"{len(keys)} lessons {what} ({', '.join(keys)})")
        if self.reordered:
            parts.append("lessons reordered")
        return f"{self.slug}: " + "; ".join(parts)


_COURSE_FIELDS = ("title", "keyword", "description", "contact", "pacing", "messages")
_LESSON_FIELDS = ("title", "text", "question")


def import_course(spec: CourseSpec, actor: str = "cli") -> ImportResult:
    """Create or update a course from its file; the caller commits."""
    result = ImportResult(spec.slug)
    course = db.session.scalar(select(Course).where(Course.slug == spec.slug))
    if course is None:
        course = Course(slug=spec.slug)
        db.session.add(course)
        result.created = True
    for name in _COURSE_FIELDS:
        value = getattr(spec, name)
        if name == "keyword":
            value = value.upper()
        if getattr(course, name) != value:
            setattr(course, name, value)
            if not result.created:
                result.course_changed.append(name)
    db.session.flush()

    existing = {
        lesson.key: lesson
        for lesson in db.session.scalars(select(Lesson).where(Lesson.course_id == course.id))
    }
    old_order = [
        lesson.key
        for lesson in sorted(existing.values(), key=lambda item: item.position)
        if lesson.archived_at is None
    ]
    for position, lesson_spec in enumerate(spec.lessons, start=1):
        lesson = existing.get(lesson_spec.key)
        if lesson is None:
            lesson = Lesson(course_id=course.id, key=lesson_spec.key, position=position)
            db.session.add(lesson)
            result.lessons_added.append(lesson_spec.key)
        elif lesson.archived_at is not None:
            lesson.archived_at = None
            result.lessons_added.append(lesson_spec.key)
        elif any(getattr(lesson, f) != getattr(lesson_spec, f) for f in _LESSON_FIELDS):
            result.lessons_changed.append(lesson_spec.key)
        for name in _LESSON_FIELDS:
            setattr(lesson, name, getattr(lesson_spec, name))
        lesson.position = position
    wanted = {lesson.key for lesson in spec.lessons}
    for key, lesson in existing.items():
        if key not in wanted and lesson.archived_at is None:
            lesson.archived_at = now()
            lesson.position = 0
            result.lessons_archived.append(key)
    kept_old = [key for key in old_order if key in wanted]
    kept_new = [lesson.key for lesson in spec.lessons if lesson.key in set(old_order)]
    result.reordered = not result.created and kept_old != kept_new

    if result.changed:
        db.session.add(
            AuditEntry(
                actor=actor,
                action="course.import",
                target=f"course:{spec.slug}",
                detail={"summary": result.summary()},
            )
        )
    db.session.flush()
    db.session.expire(course, ["lessons"])
    return result


def export_course(slug: str) -> CourseSpec | None:
    """The course as its file would say it, or None when there is no such course."""
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        return None
    return CourseSpec(
        slug=course.slug,
        title=course.title,
        keyword=course.keyword,
        description=course.description,
        contact=course.contact,
        pacing=dict(course.pacing),
        messages=dict(course.messages),
        lessons=[
            LessonSpec(
                key=lesson.key, title=lesson.title, text=lesson.text, question=lesson.question
            )
            for lesson in course.lessons
        ],
    )
