"""Fixtures: the app on each database under test, its client and CLI runner, Redis.

Every test that uses ``app`` runs on SQLite and, when TEST_DATABASE_URL points at a
PostgreSQL server, again on PostgreSQL. A test that only makes sense on one asks for
it with ``@pytest.mark.database("postgresql")``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis as redis_lib
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from hypothesis import HealthCheck, settings

# Every process of a test run (this one and the Celery workers it starts, which inherit
# the environment) counts its metrics in one directory, as web and worker do in
# production, and /metrics adds them up. Set before dripper (and its metrics) is imported.
_METRICS_DIR = None
if "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
    _METRICS_DIR = os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="dripper-m-")

from dripper import create_app  # noqa: E402
from dripper.extensions import db  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
LESSONS = ROOT / "lessons"
TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

# Property-based tests: the same modest set of examples on every run (CI and here), so
# the suite stays fast and a failure is repeatable. HYPOTHESIS_PROFILE=deep searches
# wider, with fresh random examples each run. The examples share one app per test
# (function-scoped fixtures), which the tests are written for: each example uses its
# own MessageSid and numbers.
settings.register_profile(
    "dripper",
    max_examples=25,
    derandomize=True,
    deadline=None,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
settings.register_profile(
    "deep", settings.get_profile("dripper"), max_examples=1000, derandomize=False
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dripper"))


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "database(name): run only on that database")


def pytest_unconfigure(config: pytest.Config) -> None:
    if _METRICS_DIR:
        shutil.rmtree(_METRICS_DIR, ignore_errors=True)


def available_databases() -> list[str]:
    return ["sqlite", "postgresql"] if os.environ.get("TEST_DATABASE_URL") else ["sqlite"]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "database" in metafunc.fixturenames:
        names = available_databases()
        marker = metafunc.definition.get_closest_marker("database")
        if marker:
            names = [n for n in names if n in marker.args]
            if not names:
                names = [
                    pytest.param(
                        marker.args[0],
                        marks=pytest.mark.skip(
                            reason=f"{marker.args[0]} not configured (TEST_DATABASE_URL)"
                        ),
                    )
                ]
        metafunc.parametrize("database", names, scope="session")


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL database of this test session's own, dropped at the end."""
    base = sa.make_url(os.environ["TEST_DATABASE_URL"])
    name = f"dripper_test_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    yield base.set(database=name).render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def _postgres_schema(request: pytest.FixtureRequest) -> str:
    url = request.getfixturevalue("postgres_url")
    app = create_app({"DATABASE_URL": url, "SECRET_KEY": "schema", "REDIS_URL": TEST_REDIS_URL})
    with app.app_context():
        db.create_all()
        db.engine.dispose()
    return url


@pytest.fixture
def database_url(database: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if database == "postgresql":
        return str(request.getfixturevalue("_postgres_schema"))
    return f"sqlite:///{tmp_path / 'test.sqlite3'}"


_trained_model: Path | None = None


def trained_model(tmp_path: Path) -> Path:
    """A copy, in ``tmp_path``, of a reply model trained once per test session.

    Training from the corpus takes seconds; every test that classifies a reply would
    otherwise pay for it. Each test gets its own copy, so one that retrains (with
    corrections) changes nobody else's model.
    """
    global _trained_model
    if _trained_model is None:
        from dripper.readiness.classifier import train

        shared = tmp_path.parent / "trained-reply-model.npz"
        shared.parent.mkdir(parents=True, exist_ok=True)
        if not shared.is_file():
            train(out=shared)
        _trained_model = shared
    copy = tmp_path / "reply-model.npz"
    if not copy.exists():
        copy.write_bytes(_trained_model.read_bytes())
    return copy


def make_config(database_url: str, tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """The settings a test app runs with; tests override what they need."""
    return {
        "DATABASE_URL": database_url,
        "REDIS_URL": TEST_REDIS_URL,
        "SECRET_KEY": "test-secret",
        "SMS_BACKEND": "console",
        "PUBLIC_URL": "https://dripper.test",
        "DRIPPER_SANDBOX": True,
        "TESTING": True,
        "WTF_CSRF_ENABLED": False,
        "RATELIMIT_ENABLED": False,
        "CLASSIFIER_MODEL_PATH": str(trained_model(tmp_path)),
        **overrides,
    }


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """Override in a test module to change the app's settings."""
    return make_config(database_url, tmp_path)


@pytest.fixture
def app(app_config: dict[str, Any], database: str) -> Iterator[Flask]:
    app = create_app(app_config)
    with app.app_context():
        if database == "sqlite":
            db.create_all()
        yield app
        db.session.remove()
        if database == "postgresql":
            tables = ", ".join(f'"{t.name}"' for t in db.metadata.sorted_tables)
            with db.engine.begin() as connection:
                connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
        db.engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def runner(app: Flask) -> FlaskCliRunner:
    return app.test_cli_runner()


@pytest.fixture
def redis_client() -> Iterator[redis_lib.Redis]:
    """A real Redis, emptied before and after the test."""
    client = redis_lib.Redis.from_url(TEST_REDIS_URL)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture
def course(app: Flask) -> Any:
    """The shipped course, imported."""
    from dripper.courses.spec import load
    from dripper.courses.store import import_course

    import_course(load(LESSONS / "working-with-resistance.yaml"))
    db.session.commit()
    from dripper.models import Course

    return db.session.scalar(sa.select(Course))


pytest_plugins = [
    "fixtures_twilio",  # twilio_server: the fake Twilio API
    "fixtures_drip",  # broker, drip_config, worker: real Celery workers
    "fixtures_browser",  # live_server, browser: headless chromium against a real server
    "faults_support",  # workers, no_sending_state_left: the fault tests' set-up
    "unit_rule",  # tests/unit takes no database, Redis or network (checked)
]
