"""The console's auth, roles, CSRF, validation and escaping, through the test client."""

from __future__ import annotations

import re
from typing import Any

import pytest
from admin_support import csrf_from, sign_in
from conftest import TEST_REDIS_URL, make_config
from flask import Flask
from flask.testing import FlaskClient

from dripper.extensions import db
from dripper.labels import ReplyLabel
from dripper.models import (
    Admin,
    Alert,
    Course,
    Direction,
    Message,
    MessageKind,
    MessageStatus,
    SubscriptionState,
    TrainingExample,
)
from dripper_testkit.builders import PASSWORD, add_person, make_admin

SCRIPT = "<script>alert('x')</script><b>bold</b>"

GETS = [
    "/admin/courses",
    "/admin/courses/{slug}",
    "/admin/courses/{slug}/settings",
    "/admin/courses/{slug}/history",
    "/admin/courses/{slug}/lessons/new",
    "/admin/courses/{slug}/export.yaml",
    "/admin/courses/new",
    "/admin/dashboard",
]
OWNER_GETS = ["/admin/subscribers", "/admin/subscribers/{sid}", "/admin/review", "/admin/audit",
              "/admin/admins"]  # fmt: skip
POSTS = [
    "/admin/courses/{slug}/order",
    "/admin/courses/{slug}/lessons/{key}/move",
    "/admin/courses/{slug}/lessons/{key}/delete",
    "/admin/courses/{slug}/publish",
    "/admin/courses/{slug}/discard",
    "/admin/courses/{slug}/settings",
]
OWNER_POSTS = [
    "/admin/subscriptions/{subid}/pause",
    "/admin/subscriptions/{subid}/resume",
    "/admin/subscriptions/{subid}/send-next",
    "/admin/subscribers/{sid}/time",
    "/admin/subscribers/{sid}/export",
    "/admin/subscribers/{sid}/forget",
    "/admin/replies/{mid}/relabel",
    "/admin/alerts/{aid}/acknowledge",
    "/admin/admins/1/role",
]


@pytest.fixture
def world(app: Flask, course: Course) -> dict[str, Any]:
    person = add_person(course, "+12025550123")
    reply = Message(
        direction=Direction.INBOUND, kind=MessageKind.REPLY, phone="+12025550123",
        subscriber_id=person.subscriber_id, subscription_id=person.id, body=SCRIPT,
        status=MessageStatus.RECEIVED, label=ReplyLabel.AMBIVALENT, confidence=0.41,
        needs_review=True,
    )  # fmt: skip
    crisis = Message(
        direction=Direction.INBOUND, kind=MessageKind.REPLY, phone="+12025550123",
        subscriber_id=person.subscriber_id, subscription_id=person.id,
        body="<img src=x onerror=alert(1)>", status=MessageStatus.RECEIVED,
        label=ReplyLabel.CRISIS, confidence=0.9, needs_review=True,
    )  # fmt: skip
    db.session.add_all([reply, crisis])
    db.session.flush()
    alert = Alert(subscription_id=person.id, message_id=crisis.id)
    db.session.add(alert)
    db.session.commit()
    return {
        "slug": course.slug,
        "key": course.lessons[0].key,
        "sid": person.subscriber_id,
        "subid": person.id,
        "mid": reply.id,
        "aid": alert.id,
    }


def test_every_page_and_action_needs_a_signed_in_admin(client: FlaskClient, world: Any) -> None:
    for url in GETS + OWNER_GETS:
        response = client.get(url.format(**world))
        assert response.status_code == 302, url
        assert "/admin/login" in response.headers["Location"]
    for url in POSTS + OWNER_POSTS:
        response = client.post(url.format(**world))
        assert response.status_code == 302, url
        assert "/admin/login" in response.headers["Location"]


def test_editors_get_courses_but_not_peoples_data(client: FlaskClient, world: Any) -> None:
    make_admin("editor@example.org", role="editor")
    assert sign_in(client, "editor@example.org") == 303
    for url in GETS:
        assert client.get(url.format(**world)).status_code == 200, url
    for url in OWNER_GETS:
        assert client.get(url.format(**world)).status_code == 403, url
    for url in OWNER_POSTS:
        assert client.post(url.format(**world)).status_code == 403, url
    assert "+12025550123" not in client.get("/admin/dashboard").get_data(as_text=True)


def test_a_wrong_email_and_a_wrong_password_get_the_same_answer(
    client: FlaskClient, app: Flask
) -> None:
    make_admin()
    wrong_password = client.post(
        "/admin/login", data={"email": "owner@example.org", "password": "nope nope nope"}
    )
    wrong_email = client.post(
        "/admin/login", data={"email": "nobody@example.org", "password": PASSWORD}
    )
    assert wrong_password.status_code == wrong_email.status_code == 401
    strip = lambda r: re.sub(r'value="[^"]*"', "", r.get_data(as_text=True))  # noqa: E731
    assert strip(wrong_password) == strip(wrong_email)
    assert client.get("/admin/courses").status_code == 302


def test_sign_in_upgrades_an_old_werkzeug_hash_to_argon2(client: FlaskClient, app: Flask) -> None:
    from werkzeug.security import generate_password_hash

    db.session.add(Admin(email="old@example.org", password_hash=generate_password_hash(PASSWORD)))
    db.session.commit()
    assert sign_in(client, "old@example.org") == 303
    admin = db.session.scalar(db.select(Admin).where(Admin.email == "old@example.org"))
    assert admin is not None and admin.password_hash.startswith("$argon2id$")


def test_sign_out_ends_the_session(client: FlaskClient, app: Flask) -> None:
    make_admin()
    sign_in(client, "owner@example.org")
    assert client.get("/admin/courses").status_code == 200
    assert client.post("/admin/logout").status_code == 303
    assert client.get("/admin/courses").status_code == 302


def test_the_admin_create_command_makes_argon2_admins_with_a_role(runner: Any, app: Flask) -> None:
    result = runner.invoke(
        args=["admin", "create", "Boss@Example.org", "--password-stdin", "--role", "owner"],
        input=PASSWORD + "\n",
    )
    assert result.exit_code == 0, result.output
    admin = db.session.scalar(db.select(Admin).where(Admin.email == "boss@example.org"))
    assert admin is not None and admin.role == "owner"
    assert admin.password_hash.startswith("$argon2id$")
    assert db.session.scalar(db.select(db.func.count(Admin.id))) == 1  # no default account


@pytest.fixture
def csrf_app(database_url: str, tmp_path: Any, database: str) -> Any:
    from dripper import create_app

    app = create_app(make_config(database_url, tmp_path, WTF_CSRF_ENABLED=True))
    with app.app_context():
        if database == "sqlite":
            db.create_all()
        yield app
        db.session.remove()
        if database == "postgresql":
            import sqlalchemy as sa

            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


def test_every_form_needs_its_csrf_token(csrf_app: Flask) -> None:
    from conftest import LESSONS

    from dripper.courses.spec import load
    from dripper.courses.store import import_course

    import_course(load(LESSONS / "working-with-resistance.yaml"))
    db.session.commit()
    course = db.session.scalar(db.select(Course))
    assert course is not None
    person = add_person(course, "+12025550123")
    db.session.commit()
    ids = {"slug": course.slug, "key": course.lessons[0].key, "sid": person.subscriber_id,
           "subid": person.id, "mid": 1, "aid": 1}  # fmt: skip
    make_admin()
    client = csrf_app.test_client()
    # Without the token, not even sign-in works.
    no_token = client.post(
        "/admin/login", data={"email": "owner@example.org", "password": PASSWORD}
    )
    assert no_token.status_code == 400
    assert sign_in(client, "owner@example.org") == 303
    for url in POSTS + OWNER_POSTS + ["/admin/logout"]:
        response = client.post(url.format(**ids), data={"direction": "up", "order": "x"})
        assert response.status_code == 400, url
    # With the page's token, a form goes through. (The test holds one app context for
    # every request, so flask-wtf's per-context token cache is dropped as a new request
    # would drop it.)
    from flask import g

    g.pop("csrf_token", None)
    page = client.get(f"/admin/courses/{course.slug}").get_data(as_text=True)
    moved = client.post(
        f"/admin/courses/{course.slug}/lessons/{course.lessons[1].key}/move",
        data={"direction": "up", "csrf_token": csrf_from(page)},
    )
    assert moved.status_code == 303


def test_session_cookie_is_httponly_and_lax(client: FlaskClient, app: Flask) -> None:
    make_admin()
    client.get("/admin/login")
    response = client.post(
        "/admin/login", data={"email": "owner@example.org", "password": PASSWORD}
    )
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_sign_in_is_limited_per_account_and_per_address(
    database_url: str, tmp_path: Any, database: str
) -> None:
    import redis

    from dripper import create_app

    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
    config = make_config(
        database_url, tmp_path, RATELIMIT_ENABLED=True,
        ADMIN_LOGIN_ACCOUNT_LIMIT="3/hour", ADMIN_LOGIN_IP_LIMIT="6/hour",
    )  # fmt: skip
    app = create_app(config)
    with app.app_context():
        if database == "sqlite":
            db.create_all()
        make_admin()
        client = app.test_client()
        bad = {"email": "owner@example.org", "password": "wrong wrong wrong"}
        codes = [client.post("/admin/login", data=bad).status_code for _ in range(4)]
        assert codes == [401, 401, 401, 429]
        # The right password is refused too while the account is locked.
        good = {"email": "owner@example.org", "password": PASSWORD}
        assert client.post("/admin/login", data=good).status_code == 429
        # Other accounts from the same address: limited by the address.
        other = {"email": "x@example.org", "password": "wrong wrong wrong"}
        codes = [client.post("/admin/login", data=other).status_code for _ in range(6)]
        assert codes[-1] == 429 and 429 not in codes[:1]
        db.session.remove()
        if database == "postgresql":
            import sqlalchemy as sa

            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()


def test_replies_with_html_show_as_text_everywhere(client: FlaskClient, world: Any) -> None:
    make_admin()
    sign_in(client, "owner@example.org")
    for url in ("/admin/subscribers/{sid}", "/admin/review"):
        page = client.get(url.format(**world)).get_data(as_text=True)
        assert "<script>alert" not in page and "<img src=x" not in page
        assert "&lt;script&gt;" in page or "&lt;img" in page


def test_a_lesson_that_course_check_refuses_is_not_saved(client: FlaskClient, world: Any) -> None:
    make_admin("editor@example.org", role="editor")
    sign_in(client, "editor@example.org")
    too_long = "word " * 80
    response = client.post(
        f"/admin/courses/{world['slug']}/lessons/new",
        data={"key": "too-long", "title": "T", "text": too_long, "question": "Why “this”?"},
    )
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "segments" in page and "not GSM-7" in page
    course = db.session.scalar(db.select(Course))
    assert course is not None and course.draft is None
    bad_key = client.post(
        f"/admin/courses/{world['slug']}/lessons/new",
        data={"key": "Not A Key", "title": "T", "text": "ok", "question": "ok?"},
    )
    assert bad_key.status_code == 400
    escaped = client.post(
        f"/admin/courses/{world['slug']}/lessons/new",
        data={"key": "html", "title": SCRIPT, "text": "ok", "question": "ok?"},
    )
    assert escaped.status_code == 303
    page = client.get(f"/admin/courses/{world['slug']}").get_data(as_text=True)
    assert "<script>alert" not in page and "&lt;script&gt;" in page


def test_settings_are_validated_like_course_check(client: FlaskClient, world: Any) -> None:
    make_admin("editor@example.org", role="editor")
    sign_in(client, "editor@example.org")
    url = f"/admin/courses/{world['slug']}/settings"
    page = client.get(url).get_data(as_text=True)
    assert "crisis_response" in page
    form = dict(re.findall(r'<input id="([^"]+)" name="[^"]+" value="([^"]*)"', page))
    messages = dict(
        re.findall(r'<textarea id="(message-[^"]+)" name="[^"]+"[^>]*>([^<]*)</textarea>', page)
    )
    import html

    data = {k: html.unescape(v) for k, v in {**form, **messages}.items()}
    data["keyword"] = "STOP"
    data["pacing-window_start"] = "22:00"
    response = client.post(url, data=data)
    assert response.status_code == 400
    text = response.get_data(as_text=True)
    assert "reserved SMS keyword" in text and "window_start must be before window_end" in text
    data.update({"keyword": "CALMER", "pacing-window_start": "08:00", "new-country": "GB",
                 "new-country-text": "Call Samaritans on 116 123."})  # fmt: skip
    assert client.post(url, data=data).status_code == 303
    course = db.session.scalar(db.select(Course))
    assert course is not None and course.draft is not None
    assert course.draft["keyword"] == "CALMER"
    assert course.draft["messages"]["crisis_response_GB"] == "Call Samaritans on 116 123."


def test_export_is_the_same_text_as_the_course_export_command(
    client: FlaskClient, world: Any, runner: Any
) -> None:
    make_admin("editor@example.org", role="editor")
    sign_in(client, "editor@example.org")
    web = client.get(f"/admin/courses/{world['slug']}/export.yaml").get_data(as_text=True)
    cli = runner.invoke(args=["course", "export", world["slug"]]).output
    assert web == cli
    # Importing the exported file as a new course and exporting it again: the same text.
    from io import BytesIO

    renamed = web.replace(f"slug: {world['slug']}", "slug: copy-course").replace(
        "keyword: ", "keyword: X", 1
    )
    response = client.post(
        "/admin/courses/import", data={"file": (BytesIO(renamed.encode()), "copy.yaml")},
        content_type="multipart/form-data",
    )  # fmt: skip
    assert response.status_code == 303, response.get_data(as_text=True)
    again = client.get("/admin/courses/copy-course/export.yaml").get_data(as_text=True)
    assert again == renamed


def test_owner_actions_use_the_sms_transitions(client: FlaskClient, world: Any) -> None:
    make_admin()
    sign_in(client, "owner@example.org")
    # Acknowledging needs a note.
    assert (
        client.post(f"/admin/alerts/{world['aid']}/acknowledge", data={"note": ""}).status_code
        == 303
    )
    assert db.session.get(Alert, world["aid"]).status.value == "open"  # type: ignore[union-attr]
    client.post(f"/admin/alerts/{world['aid']}/acknowledge", data={"note": "Called them."})
    db.session.expire_all()
    assert db.session.get(Alert, world["aid"]).status.value == "resolved"  # type: ignore[union-attr]
    assert (
        client.post(f"/admin/subscriptions/{world['subid']}/pause", data={"days": "3"}).status_code
        == 303
    )
    from dripper.models import Subscription

    subscription = db.session.get(Subscription, world["subid"])
    assert subscription is not None and subscription.state is SubscriptionState.PAUSED
    assert client.post(f"/admin/subscriptions/{world['subid']}/resume").status_code == 303
    db.session.refresh(subscription)
    assert subscription.state is SubscriptionState.ACTIVE
    assert (
        client.post(
            f"/admin/subscribers/{world['sid']}/time", data={"send_time": "25:00"}
        ).status_code
        == 303
    )
    assert (
        client.post(
            f"/admin/subscribers/{world['sid']}/time", data={"send_time": "19:30"}
        ).status_code
        == 303
    )
    db.session.refresh(subscription.subscriber)
    assert subscription.subscriber.send_time.strftime("%H:%M") == "19:30"
    exported = client.post(f"/admin/subscribers/{world['sid']}/export")
    assert exported.json["phone"] == "+12025550123"  # type: ignore[index]
    # Review: relabel in one click, then the waiting corrections count shows it.
    assert (
        client.post(f"/admin/replies/{world['mid']}/relabel", data={"label": "engaged"}).status_code
        == 303
    )
    assert db.session.scalar(db.select(db.func.count(TrainingExample.id))) == 1
    assert "1 correction(s) wait" in client.get("/admin/review").get_data(as_text=True)
    # Forget needs the last four digits.
    client.post(f"/admin/subscribers/{world['sid']}/forget", data={"confirm": "9999"})
    assert db.session.scalar(db.select(db.func.count(Message.id))) == 2
    client.post(f"/admin/subscribers/{world['sid']}/forget", data={"confirm": "0123"})
    assert db.session.scalar(db.select(db.func.count(Message.id))) == 0


def test_subscriber_list_pages_by_keyset_and_filters(
    client: FlaskClient, world: Any, course: Course
) -> None:
    for n in range(5):
        add_person(course, f"+1303555{n:04d}", state=SubscriptionState.PAUSED)
    db.session.commit()
    make_admin()
    sign_in(client, "owner@example.org")
    client.application.config["ADMIN_PAGE_SIZE"] = 2
    seen: list[str] = []
    url = "/admin/subscribers?state=paused"
    while url:
        page = client.get(url).get_data(as_text=True)
        seen += re.findall(r">(\+1\d{10})</a>", page)
        found = re.search(r'href="([^"]+)">Next page', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert sorted(seen) == [f"+1303555{n:04d}" for n in range(5)]
    page = client.get("/admin/subscribers?q=%2B1303").get_data(as_text=True)
    assert "+13035550004" in page and "+12025550123" not in page


def test_dashboard_counts_the_drop_off_by_lesson(client: FlaskClient, course: Course) -> None:
    from datetime import UTC, datetime

    first, second = course.lessons[0], course.lessons[1]
    when = datetime(2026, 3, 2, 14, tzinfo=UTC)
    for n, (lesson, status, state, replied) in enumerate([
        (first, MessageStatus.DELIVERED, SubscriptionState.ACTIVE, True),
        (first, MessageStatus.FAILED, SubscriptionState.PAUSED, False),
        (second, MessageStatus.DELIVERED, SubscriptionState.OPTED_OUT, False),
    ]):  # fmt: skip
        person = add_person(course, f"+1202555{n:04d}", state=state)
        person.last_lesson_id, person.last_lesson_at = lesson.id, when
        person.last_reply_at = when.replace(hour=18) if replied else None
        db.session.add(
            Message(direction=Direction.OUTBOUND, kind=MessageKind.LESSON, phone=f"+1202555{n:04d}",
                    subscription_id=person.id, lesson_id=lesson.id, body="x", status=status,
                    error_code=30003 if status is MessageStatus.FAILED else None)
        )  # fmt: skip
    db.session.commit()
    make_admin("editor@example.org", role="editor")
    sign_in(client, "editor@example.org")
    page = client.get("/admin/dashboard").get_data(as_text=True)
    rows = re.findall(
        r"<tr><td>(\d+)</td><td>[^<]*</td>((?:<td class=\"num\">\d+</td>\s*)+)</tr>", page
    )
    numbers = {row: [int(x) for x in re.findall(r">(\d+)<", cells)] for row, cells in rows}
    # sent, delivered, at it now, replied to it, stopped there
    assert numbers["1"] == [2, 1, 2, 1, 1]
    assert numbers["2"] == [1, 1, 1, 0, 1]
    assert "30003" in page


def test_a_persons_page_shows_the_question_each_reply_answered(
    client: FlaskClient, world: Any
) -> None:
    question = Message(
        direction=Direction.OUTBOUND, kind=MessageKind.QUESTION, phone="+12025550123",
        subscriber_id=world["sid"], subscription_id=world["subid"],
        body="What would their pushback say if it could speak?", status=MessageStatus.DELIVERED,
    )  # fmt: skip
    db.session.add(question)
    db.session.flush()
    reply = db.session.get(Message, world["mid"])
    assert reply is not None
    reply.answers_message_id = question.id
    db.session.commit()
    make_admin()
    sign_in(client, "owner@example.org")
    page = client.get(f"/admin/subscribers/{world['sid']}").get_data(as_text=True)
    assert "In answer to the question: What would their pushback say if it could speak?" in page
