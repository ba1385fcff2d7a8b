"""The service skeleton as an operator meets it: migrations, course files, health."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from conftest import LESSONS, TEST_REDIS_URL, make_config
from flask import Flask
from flask.testing import FlaskCliRunner

from dripper import create_app
from dripper.courses.spec import dump, load
from dripper.courses.store import export_course, import_course
from dripper.extensions import db
from dripper.models import AuditEntry, Course, Lesson, Message

SHIPPED = LESSONS / "working-with-resistance.yaml"


@pytest.fixture
def empty_database(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    """A database with no tables at all, for the migrations to build."""
    if database == "sqlite":
        return f"sqlite:///{tmp_path / 'empty.sqlite3'}"
    base = sa.make_url(request.getfixturevalue("postgres_url"))
    name = f"{base.database}_mig"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    request.addfinalizer(lambda: _drop(admin, name))
    return base.set(database=name).render_as_string(hide_password=False)


def _drop(admin: sa.Engine, name: str) -> None:
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def test_migrations_build_the_whole_model_on_an_empty_database(
    empty_database: str, tmp_path: Path
) -> None:
    app = create_app(make_config(empty_database, tmp_path))
    result = app.test_cli_runner().invoke(args=["db", "upgrade"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        with db.engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"render_as_batch": True})
            differences = compare_metadata(context, db.metadata)
        tables = set(sa.inspect(db.engine).get_table_names())
        db.engine.dispose()
    assert differences == []
    assert {"course", "lesson", "subscriber", "subscription", "message", "admin"} <= tables


def test_import_is_idempotent(app: Flask, runner: FlaskCliRunner) -> None:
    first = runner.invoke(args=["course", "import", str(LESSONS)])
    assert first.exit_code == 0, first.output
    assert "created with" in first.output
    before = [
        (lesson.id, lesson.key, lesson.position) for lesson in db.session.scalars(sa.select(Lesson))
    ]
    second = runner.invoke(args=["course", "import", str(LESSONS)])
    assert second.exit_code == 0 and "unchanged" in second.output
    after = [
        (lesson.id, lesson.key, lesson.position) for lesson in db.session.scalars(sa.select(Lesson))
    ]
    assert before == after
    assert db.session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 1


def test_export_round_trips(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    runner.invoke(args=["course", "import", str(SHIPPED)])
    out = tmp_path / "exported.yaml"
    result = runner.invoke(args=["course", "export", "working-with-resistance", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert load(out) == load(SHIPPED)
    again = runner.invoke(args=["course", "import", str(out)])
    assert "unchanged" in again.output
    assert dump(load(out)) == out.read_text()


def test_export_of_unknown_course_fails(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["course", "export", "nope"])
    assert result.exit_code != 0 and "no course 'nope'" in result.output


def test_reimport_after_edit_reorders_and_archives_without_touching_history(
    app: Flask, tmp_path: Path
) -> None:
    spec = load(SHIPPED)
    import_course(spec)
    db.session.commit()
    ids = {lesson.key: lesson.id for lesson in db.session.scalars(sa.select(Lesson))}
    edited = load(SHIPPED)
    edited.lessons = [edited.lessons[1], edited.lessons[0], *edited.lessons[3:]]
    edited.lessons[0].text = "A new text for the lesson."
    result = import_course(edited)
    db.session.commit()
    assert result.reordered and result.lessons_changed == [spec.lessons[1].key]
    assert result.lessons_archived == [spec.lessons[2].key]
    course = db.session.scalar(sa.select(Course))
    assert [lesson.key for lesson in course.lessons] == [lesson.key for lesson in edited.lessons]
    # Same rows (ids) as before: messages that point at them keep their history.
    assert {lesson.key: lesson.id for lesson in db.session.scalars(sa.select(Lesson))} == ids
    # Putting the archived lesson back restores the same row.
    import_course(spec)
    db.session.commit()
    assert export_course(spec.slug) == spec


def test_import_refuses_a_broken_file_and_imports_nothing(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    data = yaml.safe_load(SHIPPED.read_text())
    data["lessons"][0]["text"] = "x" * 400
    broken = tmp_path / "broken.yaml"
    broken.write_text(yaml.safe_dump(data))
    result = runner.invoke(args=["course", "import", str(broken)])
    assert result.exit_code != 0 and "nothing was imported" in result.output
    assert db.session.scalar(sa.select(sa.func.count()).select_from(Course)) == 0


def test_check_command_exit_status(app: Flask, runner: FlaskCliRunner, tmp_path: Path) -> None:
    ok = runner.invoke(args=["course", "check", str(LESSONS)])
    assert ok.exit_code == 0 and "1 course file(s) OK" in ok.output
    data = yaml.safe_load(SHIPPED.read_text())
    data["lessons"][4]["question"] = "What do you think \u2014 honestly?"
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data))
    failed = runner.invoke(args=["course", "check", str(bad)])
    assert failed.exit_code == 1
    assert f"{bad}: lesson 5 (" in failed.output and "EM DASH" in failed.output


def test_healthz_answers_200_when_database_and_broker_answer(client, redis_client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json == {"status": "ok", "database": "ok", "broker": "ok"}


def test_healthz_answers_503_when_the_broker_is_down(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_config(database_url, tmp_path, REDIS_URL="redis://127.0.0.1:1/0"))
    with app.app_context():
        db.create_all()
        response = app.test_client().get("/healthz")
        db.engine.dispose()
    assert response.status_code == 503
    assert response.json["broker"] == "ConnectionError" and response.json["database"] == "ok"


@pytest.mark.database("sqlite")
def test_healthz_answers_503_when_the_database_is_down(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'missing' / 'no.sqlite3'}"
    app = create_app(make_config(url, tmp_path, REDIS_URL=TEST_REDIS_URL))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503 and response.json["database"] == "OperationalError"


def test_admin_create_reads_the_password_from_stdin(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(
        args=["admin", "create", "Ops@Example.org", "--password-stdin"],
        input="a long enough password\n",
    )
    assert result.exit_code == 0, result.output
    from dripper.models import Admin

    admin = db.session.scalar(sa.select(Admin))
    assert admin.email == "ops@example.org" and admin.password_hash.startswith("$argon2id$")
    short = runner.invoke(
        args=["admin", "create", "x@example.org", "--password-stdin"], input="short\n"
    )
    assert short.exit_code != 0 and "at least 12" in short.output


def test_sandbox_clock_moves_forward_for_every_process(app: Flask, runner: FlaskCliRunner) -> None:
    result = runner.invoke(args=["clock", "set", "2026-03-07T14:00:00Z"])
    assert result.output.startswith("2026-03-07T14:00")
    result = runner.invoke(args=["clock", "advance", "1d12h"])
    assert result.output.startswith("2026-03-09T02:00")
    # A second app on the same database (another process) sees the same time.
    other = create_app(dict(app.config.items()) | {"DATABASE_URL": app.config["DATABASE_URL"]})
    with other.app_context():
        assert (
            other.test_cli_runner()
            .invoke(args=["clock", "show"])
            .output.startswith("2026-03-09T02:00")
        )
    bad = runner.invoke(args=["clock", "advance", "soon"])
    assert bad.exit_code != 0 and "not a duration" in bad.output


def test_sandbox_clock_is_refused_outside_the_sandbox(database_url: str, tmp_path: Path) -> None:
    app = create_app(make_config(database_url, tmp_path, DRIPPER_SANDBOX=False))
    with app.app_context():
        db.create_all()
        for args in (
            ["clock", "show"],
            ["clock", "advance", "1d"],
            ["clock", "set", "2026-01-01T00:00Z"],
        ):
            result = app.test_cli_runner().invoke(args=args)
            assert result.exit_code != 0 and "DRIPPER_SANDBOX=1" in result.output
        db.engine.dispose()


def test_the_inbound_handled_migration_marks_old_texts_handled_and_leaves_failed_ones_to_the_sweep(
    empty_database: str, tmp_path: Path
) -> None:
    app = create_app(make_config(empty_database, tmp_path))
    runner = app.test_cli_runner()
    assert runner.invoke(args=["db", "upgrade", "0001"]).exit_code == 0
    insert = sa.text(
        "INSERT INTO message (direction, kind, phone, body, status, provider_sid, error_message,"
        " attempts, created_at, needs_review) VALUES ('inbound', 'reply', '+12015550123', 'hi',"
        " 'received', :sid, :error, 0, :at, false)"
    )
    at = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    with app.app_context():
        with db.engine.begin() as connection:
            connection.execute(insert, {"sid": "SM" + "1" * 32, "error": None, "at": at})
            connection.execute(insert, {"sid": "SM" + "2" * 32, "error": "not handled", "at": at})
        db.engine.dispose()

    result = runner.invoke(args=["db", "upgrade"])

    assert result.exit_code == 0, result.output
    with app.app_context():
        rows = db.session.execute(
            sa.select(Message.provider_sid, Message.handled_at, Message.error_message).order_by(
                Message.id
            )
        ).all()
        db.session.remove()
        db.engine.dispose()
    assert rows == [("SM" + "1" * 32, at, None), ("SM" + "2" * 32, None, None)]
