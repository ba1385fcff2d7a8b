"""Publishing a course to people already in it: they keep their place by lesson
identity, through the real tick claim and send (``claim_one`` + ``perform``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from admin_support import sign_in
from conftest import LESSONS
from drip_support import outbound, record_sent
from flask import Flask
from flask.testing import FlaskClient

from dripper.admin import publishing
from dripper.clock import now, sandbox_clock
from dripper.courses.spec import LessonSpec, load
from dripper.courses.store import import_course
from dripper.drip.tasks import perform
from dripper.drip.tick import claim_one
from dripper.extensions import db
from dripper.models import AuditEntry, Course, CourseVersion, MessageKind, Subscription
from dripper_testkit.builders import add_person, make_admin

NEW_YORK = ZoneInfo("America/New_York")
MONDAY_9AM = datetime(2026, 3, 9, 9, 0, tzinfo=NEW_YORK)


@pytest.fixture
def sent(app: Flask, monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, tuple[Any, ...]]]:
    return record_sent(app, monkeypatch)


@pytest.fixture
def five(app: Flask, sent: Any) -> Course:
    # The shipped course's messages (they pass ``course check``), with five short lessons.
    spec = load(LESSONS / "working-with-resistance.yaml")
    spec.slug, spec.lessons = (
        "five",
        [
            LessonSpec(f"l{n}", f"Lesson {n}", f"Lesson {n} text.", f"Question {n}?")
            for n in range(1, 6)
        ],
    )
    # Nobody replies in these tests: silence must not make anyone dormant mid-course.
    spec.pacing.update(silent_slowdown_after=50, silent_check_in_after=50)
    import_course(spec)
    db.session.commit()
    course = db.session.scalar(db.select(Course).where(Course.slug == "five"))
    assert course is not None
    sandbox_clock().set(MONDAY_9AM)
    return course


def step(subscription: Subscription) -> None:
    """Move the clock to the next send, claim it as the tick does, and perform it."""
    assert subscription.next_send_at is not None
    if subscription.next_send_at > now():
        sandbox_clock().set(subscription.next_send_at)
    token = claim_one(subscription.id)
    db.session.commit()
    assert token
    perform(subscription.id, token)
    db.session.refresh(subscription)


def lessons_to(subscription: Subscription, count: int) -> None:
    """Run the drip until ``count`` lessons went to this person."""
    while len(lesson_keys(subscription)) < count:
        step(subscription)


def lesson_keys(subscription: Subscription) -> list[str]:
    return [m.lesson.key for m in outbound(subscription.id, MessageKind.LESSON)]


def run_to_end(subscription: Subscription) -> list[str]:
    for _ in range(60):
        if subscription.next_send_at is None:
            break
        step(subscription)
    return lesson_keys(subscription)


def people_at(course: Course, places: dict[str, int]) -> dict[str, Subscription]:
    people = {}
    for n, (name, had) in enumerate(places.items()):
        person = add_person(course, f"+1202555{n:04d}", due=MONDAY_9AM)
        db.session.commit()
        lessons_to(person, had)
        people[name] = person
    return people


def edit(course: Course, change: Any) -> None:
    spec = publishing.working_spec(course)
    change(spec)
    publishing.save_draft(course, spec, "test", "test.edit", None, None)
    db.session.commit()


def publish(course: Course) -> CourseVersion:
    version = publishing.publish(course, "editor@example.org")
    db.session.commit()
    return version


def test_an_inserted_lesson_reaches_only_those_not_yet_past_its_place(five: Course) -> None:
    people = people_at(five, {"new": 0, "early": 1, "middle": 3, "late": 4})
    edit(five, lambda s: s.lessons.insert(2, LessonSpec("fresh", "Fresh", "Fresh text.", "Q?")))
    impact = publishing.impact(five, publishing.spec_of(five.draft))
    added = next(c for c in impact.changes if c.kind == "added")
    assert added.affected == 2  # middle and late are already past lesson 3's place
    publish(five)

    assert run_to_end(people["new"]) == ["l1", "l2", "fresh", "l3", "l4", "l5"]
    assert run_to_end(people["early"]) == ["l1", "l2", "fresh", "l3", "l4", "l5"]
    assert run_to_end(people["middle"]) == ["l1", "l2", "l3", "l4", "l5"]
    assert run_to_end(people["late"]) == ["l1", "l2", "l3", "l4", "l5"]


def test_a_deleted_lesson_not_yet_had_is_skipped_and_nobody_gets_one_twice(five: Course) -> None:
    people = people_at(five, {"early": 1, "past_it": 4})
    edit(five, lambda s: s.lessons.pop(2))  # l3
    impact = publishing.impact(five, publishing.spec_of(five.draft))
    removed = next(c for c in impact.changes if c.kind == "removed")
    assert removed.affected == 1  # only "early" has not had it
    publish(five)

    assert run_to_end(people["early"]) == ["l1", "l2", "l4", "l5"]
    assert run_to_end(people["past_it"]) == ["l1", "l2", "l3", "l4", "l5"]


def test_reordered_lessons_not_yet_had_come_in_the_new_order(five: Course) -> None:
    people = people_at(five, {"start": 0, "second": 2, "fourth": 4})

    def reorder(spec: Any) -> None:
        by_key = {lesson.key: lesson for lesson in spec.lessons}
        spec.lessons = [by_key[k] for k in ("l1", "l5", "l3", "l2", "l4")]

    edit(five, reorder)
    publish(five)

    assert run_to_end(people["start"]) == ["l1", "l5", "l3", "l2", "l4"]
    assert run_to_end(people["second"]) == ["l1", "l2", "l5", "l3", "l4"]
    assert run_to_end(people["fourth"]) == ["l1", "l2", "l3", "l4", "l5"]


def test_publishing_keeps_versions_that_can_be_compared_and_rolled_back(
    five: Course, client: FlaskClient
) -> None:
    make_admin("editor@example.org", role="editor")
    assert sign_in(client, "editor@example.org") == 303
    response = client.post(
        "/admin/courses/five/lessons/l2",
        data={"key": "l2", "title": "Lesson two", "text": "New text.", "question": "New q?"},
    )
    assert response.status_code == 303
    review = client.get("/admin/courses/five/publish").get_data(as_text=True)
    assert "edited" in review and "+- key: l2" not in review and "New text." in review
    assert client.post("/admin/courses/five/publish").status_code == 303
    db.session.expire_all()
    assert five.lessons[1].text == "New text."
    numbers = db.session.scalars(db.select(CourseVersion.number)).all()
    assert sorted(numbers) == [1, 2]
    diff = client.get("/admin/courses/five/versions/2").get_data(as_text=True)
    assert "Lesson 2 text." in diff and "New text." in diff

    assert client.post("/admin/courses/five/versions/1/rollback").status_code == 303
    assert client.post("/admin/courses/five/publish").status_code == 303
    db.session.expire_all()
    assert five.lessons[1].text == "Lesson 2 text."
    actions = db.session.scalars(db.select(AuditEntry.action)).all()
    assert {"lesson.edit", "course.publish", "course.rollback_draft"} <= set(actions)
    publish_entry = db.session.scalars(
        db.select(AuditEntry).where(AuditEntry.action == "course.publish")
    ).first()
    assert publish_entry is not None and publish_entry.actor == "editor@example.org"
    assert publish_entry.detail["before"]["lessons"][1]["text"] == "Lesson 2 text."
    assert publish_entry.detail["after"]["lessons"][1]["text"] == "New text."
