"""Courses: the lesson sequence editor, settings, new courses, YAML in and out,
publishing with its impact, history, diff and rollback (editors and owners)."""

from __future__ import annotations

import copy
from typing import Any

import yaml
from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from dripper import gsm
from dripper.admin import publishing
from dripper.admin.auth import admin_required, me
from dripper.admin.blueprint import bp
from dripper.admin.forms import ImportForm, LessonForm, NewCourseForm, OrderForm, PlainForm
from dripper.courses.check import LESSON_SEGMENTS, QUESTION_SEGMENTS, Problem, check_spec
from dripper.courses.spec import (
    COUNTRY_MESSAGES,
    MESSAGE_PLACEHOLDERS,
    PACING_DEFAULTS,
    CourseFileError,
    CourseSpec,
    LessonSpec,
    dump,
    parse,
)
from dripper.extensions import db
from dripper.models import Course, CourseVersion

_TIME_KEYS = ("send_time", "window_start", "window_end")


def _course(slug: str) -> Course:
    course = db.session.scalar(select(Course).where(Course.slug == slug))
    if course is None:
        abort(404)
    return course


def _save(course: Course, spec: CourseSpec, action: str, before: Any, after: Any) -> None:
    admin = me()
    publishing.save_draft(course, spec, admin.email, action, before, after, admin.id)
    db.session.commit()


def _lesson_problems(spec: CourseSpec, key: str) -> list[Problem]:
    index = next(i for i, lesson in enumerate(spec.lessons, start=1) if lesson.key == key)
    prefix = f"lesson {index} ({key})"
    return [p for p in check_spec(spec, spec.slug) if p.where.startswith(prefix)]


def _settings_problems(spec: CourseSpec) -> list[Problem]:
    return [p for p in check_spec(spec, spec.slug) if not p.where.startswith("lesson ")]


@bp.app_template_filter("segments")
def _segments(text: str) -> gsm.Segments:
    return gsm.count_segments(text)


@bp.get("/courses")
@admin_required()
def course_list() -> ResponseReturnValue:
    """Every course, with its lesson count and whether a draft waits to be published."""
    courses = list(db.session.scalars(select(Course).order_by(Course.title)))
    return render_template(
        "admin/courses.html", courses=courses, import_form=ImportForm(), form=PlainForm()
    )


def _templates() -> list[Course]:
    return list(db.session.scalars(select(Course).order_by(Course.title)))


@bp.route("/courses/new", methods=["GET", "POST"])
@admin_required()
def course_new() -> ResponseReturnValue:
    """A new course: its names, its system messages from an existing course, one lesson."""
    form = NewCourseForm()
    templates = _templates()
    form.template.choices = [(c.slug, c.title) for c in templates]
    lesson = LessonForm(prefix="lesson", meta={"csrf": False})  # the outer form has the token
    problems: list[Problem] = []
    if request.method == "POST" and form.validate_on_submit() and lesson.validate():
        source = next((c for c in templates if c.slug == form.template.data), None)
        messages: dict[str, str] = {}
        pacing: dict[str, Any] = {}
        if source is not None:
            # The template's wording, naming the new course instead of the old one.
            messages = {
                name: text.replace(source.title, form.title.data).replace(
                    source.contact or "\0", form.contact.data
                )
                for name, text in source.messages.items()
            }
            pacing = dict(source.pacing)
        spec = CourseSpec(
            slug=form.slug.data,
            title=form.title.data.strip(),
            keyword=form.keyword.data.strip().upper(),
            contact=form.contact.data.strip(),
            pacing=pacing,
            messages=messages,
            lessons=[
                LessonSpec(
                    lesson.key.data, lesson.title.data, lesson.text.data, lesson.question.data
                )
            ],
        )
        taken = db.session.scalar(
            select(Course.id).where((Course.slug == spec.slug) | (Course.keyword == spec.keyword))
        )
        problems = [p for p in check_spec(spec, spec.slug) if not p.warning]
        if taken:
            problems.insert(0, Problem(spec.slug, "slug", "that slug or keyword is already used"))
        if not problems:
            admin = me()
            publishing.create_course(spec, admin.email, admin.id)
            db.session.commit()
            flash(f"Created {spec.title}. Add its lessons, then publish.")
            return redirect(url_for("admin.course_edit", slug=spec.slug), code=303)
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/course_new.html", form=form, lesson=lesson, problems=problems
    ), status


@bp.post("/courses/import")
@admin_required()
def course_import() -> ResponseReturnValue:
    """A course file: a new course goes live; an existing one becomes its draft."""
    form = ImportForm()
    if not form.validate_on_submit():
        flash("Choose a course file to import.")
        return redirect(url_for("admin.course_list"), code=303)
    raw = form.file.data.read()
    try:
        spec = parse(yaml.safe_load(raw.decode("utf-8")), form.file.data.filename or "upload")
    except (yaml.YAMLError, UnicodeDecodeError, CourseFileError) as error:
        return render_template("admin/import_problems.html", problems=[str(error)]), 400
    problems = [p for p in check_spec(spec, spec.slug) if not p.warning]
    if problems:
        return render_template("admin/import_problems.html", problems=problems), 400
    existing = db.session.scalar(select(Course).where(Course.slug == spec.slug))
    admin = me()
    if existing is None:
        publishing.create_course(spec, admin.email, admin.id)
        flash(f"Imported {spec.title} and published it.")
    else:
        before = publishing.working_spec(existing).to_dict()
        publishing.save_draft(existing, spec, admin.email, "course.import_draft", before,
                              spec.to_dict(), admin.id)  # fmt: skip
        flash("Imported as a draft: review what it changes, then publish.")
    db.session.commit()
    return redirect(url_for("admin.course_edit", slug=spec.slug), code=303)


@bp.get("/courses/<slug>/export.yaml")
@admin_required()
def course_export(slug: str) -> ResponseReturnValue:
    """The live course as its file (the same text as ``course export``)."""
    course = _course(slug)
    text = dump(publishing.live_spec(course))
    return Response(
        text,
        mimetype="application/yaml",
        headers={"Content-Disposition": f'attachment; filename="{course.slug}.yaml"'},
    )


@bp.get("/courses/<slug>")
@admin_required()
def course_edit(slug: str) -> ResponseReturnValue:
    """The lesson sequence: reorder, add, edit, delete; problems; the draft's state."""
    course = _course(slug)
    spec = publishing.working_spec(course)
    problems = check_spec(spec, spec.slug)
    return render_template(
        "admin/course.html",
        course=course,
        spec=spec,
        problems=problems,
        form=PlainForm(),
        order_form=OrderForm(),
        lesson_limit=LESSON_SEGMENTS,
        question_limit=QUESTION_SEGMENTS,
    )


def _reorder(course: Course, spec: CourseSpec, keys: list[str]) -> bool:
    current = [lesson.key for lesson in spec.lessons]
    if sorted(keys) != sorted(current):
        return False
    if keys != current:
        by_key = {lesson.key: lesson for lesson in spec.lessons}
        spec.lessons = [by_key[key] for key in keys]
        _save(course, spec, "lesson.reorder", current, keys)
    return True


@bp.post("/courses/<slug>/order")
@admin_required()
def course_order(slug: str) -> ResponseReturnValue:
    """A new order for the draft's lessons (drag and drop sends the keys in order)."""
    course = _course(slug)
    form = OrderForm()
    spec = publishing.working_spec(course)
    if not form.validate_on_submit() or not _reorder(course, spec, form.order.data.split(",")):
        abort(400)
    if request.accept_mimetypes.best == "application/json":
        return {"order": [lesson.key for lesson in spec.lessons]}
    return redirect(url_for("admin.course_edit", slug=slug), code=303)


@bp.post("/courses/<slug>/lessons/<key>/move")
@admin_required()
def lesson_move(slug: str, key: str) -> ResponseReturnValue:
    """Move a lesson one place up or down (the keyboard's way to reorder)."""
    course = _course(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    spec = publishing.working_spec(course)
    keys = [lesson.key for lesson in spec.lessons]
    if key not in keys:
        abort(404)
    index = keys.index(key)
    other = index - 1 if request.form.get("direction") == "up" else index + 1
    if 0 <= other < len(keys):
        keys[index], keys[other] = keys[other], keys[index]
        _reorder(course, spec, keys)
    return redirect(url_for("admin.course_edit", slug=slug, _anchor=f"lesson-{key}"), code=303)


@bp.post("/courses/<slug>/lessons/<key>/delete")
@admin_required()
def lesson_delete(slug: str, key: str) -> ResponseReturnValue:
    """Remove a lesson from the draft (published, it is archived: history keeps it)."""
    course = _course(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    spec = publishing.working_spec(course)
    lesson = next((item for item in spec.lessons if item.key == key), None)
    if lesson is None:
        abort(404)
    if len(spec.lessons) == 1:
        flash("A course needs at least one lesson.")
        return redirect(url_for("admin.course_edit", slug=slug), code=303)
    spec.lessons.remove(lesson)
    _save(course, spec, "lesson.delete", lesson.__dict__, None)
    flash(f"Removed “{lesson.title}” from the draft.")
    return redirect(url_for("admin.course_edit", slug=slug), code=303)


@bp.route("/courses/<slug>/lessons/new", methods=["GET", "POST"])
@bp.route("/courses/<slug>/lessons/<key>", methods=["GET", "POST"])
@admin_required()
def lesson_edit(slug: str, key: str | None = None) -> ResponseReturnValue:
    """Write or change a lesson, with live counts, replacements and a phone preview;
    saved to the draft only if ``course check`` finds no error in it."""
    course = _course(slug)
    spec = publishing.working_spec(course)
    existing = next((item for item in spec.lessons if item.key == key), None)
    if key is not None and existing is None:
        abort(404)
    form = LessonForm(obj=existing) if request.method == "GET" else LessonForm()
    if key is not None:
        form.key.data = key  # a lesson's key never changes: it is how people keep their place
    problems: list[Problem] = []
    if request.method == "POST" and form.validate_on_submit():
        lesson = LessonSpec(form.key.data, form.title.data.strip(),
                            form.text.data.replace("\r\n", "\n").strip(),
                            form.question.data.replace("\r\n", "\n").strip())  # fmt: skip
        edited = copy.deepcopy(spec)
        if existing is None:
            if any(item.key == lesson.key for item in spec.lessons):
                problems.append(Problem(slug, "key", f"{lesson.key!r} is already used"))
            position = request.form.get("position", type=int)
            if position is None or not 0 <= position <= len(edited.lessons):
                position = len(edited.lessons)
            edited.lessons.insert(position, lesson)
        else:
            edited.lessons = [lesson if item.key == key else item for item in edited.lessons]
        if not problems:
            problems = [p for p in _lesson_problems(edited, lesson.key) if not p.warning]
        if not problems:
            _save(course, edited, "lesson.add" if existing is None else "lesson.edit",
                  existing.__dict__ if existing else None, lesson.__dict__)  # fmt: skip
            flash(f"Saved “{lesson.title}” to the draft.")
            return redirect(url_for("admin.course_edit", slug=slug, _anchor=f"lesson-{lesson.key}"),
                            code=303)  # fmt: skip
    status = 400 if request.method == "POST" else 200
    return render_template(
        "admin/lesson.html",
        course=course,
        form=form,
        is_new=existing is None,
        problems=problems,
        positions=len(spec.lessons),
        lesson_limit=LESSON_SEGMENTS,
        question_limit=QUESTION_SEGMENTS,
        replacements=gsm.REPLACEMENTS,
    ), status


def _settings_from_form(spec: CourseSpec, form: Any) -> tuple[CourseSpec, list[str]]:
    edited = copy.deepcopy(spec)
    bad: list[str] = []
    edited.title = form.get("title", "").strip()
    edited.keyword = form.get("keyword", "").strip().upper()
    edited.description = form.get("description", "").replace("\r\n", "\n").strip()
    edited.contact = form.get("contact", "").strip()
    pacing: dict[str, Any] = {}
    for name, default in PACING_DEFAULTS.items():
        raw = form.get(f"pacing-{name}", "").strip()
        if raw == "" or raw == str(default):
            continue  # the default: not written to the file
        if name in _TIME_KEYS:
            pacing[name] = raw
            continue
        try:
            number = float(raw)
        except ValueError:
            bad.append(f"pacing: {name}: {raw!r} is not a number")
            continue
        pacing[name] = int(number) if number.is_integer() else number
    edited.pacing = pacing
    messages: dict[str, str] = {}
    for name in MESSAGE_PLACEHOLDERS:
        messages[name] = form.get(f"message-{name}", "").replace("\r\n", "\n").strip()
    for name in spec.messages:
        if name not in MESSAGE_PLACEHOLDERS:  # per-country wording
            value = form.get(f"message-{name}", "").replace("\r\n", "\n").strip()
            if value:
                messages[name] = value
    country = form.get("new-country", "").strip().upper()
    text = form.get("new-country-text", "").replace("\r\n", "\n").strip()
    if country or text:
        if len(country) != 2 or not country.isalpha() or not text:
            bad.append("crisis line: give a two-letter country code and its message")
        else:
            messages[f"crisis_response_{country}"] = text
    edited.messages = messages
    return edited, bad


@bp.route("/courses/<slug>/settings", methods=["GET", "POST"])
@admin_required()
def course_settings(slug: str) -> ResponseReturnValue:
    """Keyword, send window and time, question delay, pacing, system messages and
    per-country crisis lines; saved to the draft when ``course check`` agrees."""
    course = _course(slug)
    spec = publishing.working_spec(course)
    problems: list[Any] = []
    shown = spec
    if request.method == "POST":
        if not PlainForm().validate_on_submit():
            abort(400)
        edited, bad = _settings_from_form(spec, request.form)
        shown = edited
        problems = bad + [p for p in _settings_problems(edited) if not p.warning]
        taken = db.session.scalar(
            select(Course.id).where(Course.keyword == edited.keyword, Course.id != course.id)
        )
        if taken:
            problems.append("keyword: another course uses it")
        if not problems:
            _save(course, edited, "course.settings", _settings_dict(spec), _settings_dict(edited))
            flash("Saved the settings to the draft.")
            return redirect(url_for("admin.course_settings", slug=slug), code=303)
    countries = sorted(name for name in shown.messages if name not in MESSAGE_PLACEHOLDERS)
    return render_template(
        "admin/settings.html",
        course=course,
        spec=shown,
        pacing=shown.effective_pacing(),
        defaults=PACING_DEFAULTS,
        names=list(MESSAGE_PLACEHOLDERS),
        countries=countries,
        country_messages=COUNTRY_MESSAGES,
        problems=problems,
        form=PlainForm(),
    ), (400 if problems else 200)


def _settings_dict(spec: CourseSpec) -> dict[str, Any]:
    data = spec.to_dict()
    data.pop("lessons")
    return data


@bp.get("/courses/<slug>/publish")
@admin_required()
def course_publish_review(slug: str) -> ResponseReturnValue:
    """What publishing the draft would change, and how many people each change affects."""
    course = _course(slug)
    if not course.draft:
        flash("There are no unpublished changes.")
        return redirect(url_for("admin.course_edit", slug=slug), code=303)
    draft = publishing.spec_of(course.draft)
    return render_template(
        "admin/publish.html",
        course=course,
        impact=publishing.impact(course, draft),
        diff=publishing.diff(publishing.live_spec(course), draft),
        errors=publishing.errors(draft),
        form=PlainForm(),
    )


@bp.post("/courses/<slug>/publish")
@admin_required()
def course_publish(slug: str) -> ResponseReturnValue:
    """Make the draft live as a new version."""
    course = _course(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    admin = me()
    try:
        version = publishing.publish(course, admin.email, admin.id)
    except publishing.PublishError as error:
        db.session.rollback()
        flash(f"Not published: {error}")
        return redirect(url_for("admin.course_edit", slug=slug), code=303)
    db.session.commit()
    flash(f"Published version {version.number}.")
    return redirect(url_for("admin.course_edit", slug=slug), code=303)


@bp.post("/courses/<slug>/discard")
@admin_required()
def course_discard(slug: str) -> ResponseReturnValue:
    """Throw the draft away: back to what is live."""
    course = _course(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    admin = me()
    publishing.discard_draft(course, admin.email, admin.id)
    db.session.commit()
    flash("Discarded the draft.")
    return redirect(url_for("admin.course_edit", slug=slug), code=303)


def _version(course: Course, number: int) -> CourseVersion:
    version = db.session.scalar(
        select(CourseVersion).where(
            CourseVersion.course_id == course.id, CourseVersion.number == number
        )
    )
    if version is None:
        abort(404)
    return version


@bp.get("/courses/<slug>/history")
@admin_required()
def course_history(slug: str) -> ResponseReturnValue:
    """Every published version, newest first."""
    course = _course(slug)
    versions = db.session.scalars(
        select(CourseVersion)
        .where(CourseVersion.course_id == course.id)
        .order_by(CourseVersion.number.desc())
    )
    return render_template(
        "admin/history.html", course=course, versions=list(versions), form=PlainForm()
    )


@bp.get("/courses/<slug>/versions/<int:number>")
@admin_required()
def course_version(slug: str, number: int) -> ResponseReturnValue:
    """One version compared with another (by default the one before it)."""
    course = _course(slug)
    version = _version(course, number)
    against = request.args.get("against", type=int) or number - 1
    base = (
        publishing.spec_of(_version(course, against).spec)
        if against >= 1
        else CourseSpec(slug=course.slug, title="", keyword="")
    )
    return render_template(
        "admin/version.html",
        course=course,
        version=version,
        against=against,
        diff=publishing.diff(base, publishing.spec_of(version.spec)),
        form=PlainForm(),
    )


@bp.post("/courses/<slug>/versions/<int:number>/rollback")
@admin_required()
def course_rollback(slug: str, number: int) -> ResponseReturnValue:
    """Make an earlier version the draft, to review and publish as a new version."""
    course = _course(slug)
    if not PlainForm().validate_on_submit():
        abort(400)
    version = _version(course, number)
    admin = me()
    publishing.rollback_draft(course, version, admin.email, admin.id)
    db.session.commit()
    flash(f"Version {number} is now the draft: review what it changes, then publish.")
    return redirect(url_for("admin.course_publish_review", slug=slug), code=303)
