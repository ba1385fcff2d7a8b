"""Configuration: every docs/INTERFACE.md variable has its default, and overrides win."""

from __future__ import annotations

from pathlib import Path

import pytest

from dripper import create_app
from dripper.config import DEFAULTS, ConfigError, load

INTERFACE_VARIABLES = {
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMS_BACKEND", "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_URL", "PUBLIC_URL", "DRIPPER_SANDBOX", "SEND_RATE", "DELIVERY_STALE_AFTER",
}  # fmt: skip


def test_every_interface_variable_is_configurable() -> None:
    assert INTERFACE_VARIABLES <= set(DEFAULTS)


def test_defaults_in_sandbox(tmp_path: Path) -> None:
    settings = load(tmp_path, environ={"DRIPPER_SANDBOX": "1"})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'dripper.sqlite3'}"
    assert settings["REDIS_URL"] == "redis://localhost:6379/0"
    assert settings["SMS_BACKEND"] == "console"
    assert settings["TWILIO_API_URL"] == "https://api.twilio.com"
    assert settings["PUBLIC_URL"] == "http://localhost:5000"
    assert settings["SEND_RATE"] == 1.0
    assert settings["DRIPPER_SANDBOX"] is True


def test_sandbox_secret_key_is_generated_once_and_kept(tmp_path: Path) -> None:
    first = load(tmp_path, environ={"DRIPPER_SANDBOX": "1"})["SECRET_KEY"]
    second = load(tmp_path, environ={"DRIPPER_SANDBOX": "1"})["SECRET_KEY"]
    assert first == second and len(first) >= 32
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_secret_key_is_required_outside_the_sandbox(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="SECRET_KEY"):
        load(tmp_path, environ={})


def test_environment_overrides_defaults(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        environ={
            "SECRET_KEY": "s",
            "DATABASE_URL": "postgresql+psycopg://db/dripper",
            "REDIS_URL": "redis://cache:6380/2",
            "SEND_RATE": "3",
            "PUBLIC_URL": "https://sms.example.org/",
            "TWILIO_ACCOUNT_SID": "AC123",
            "TWILIO_AUTH_TOKEN": "token",
        },
    )
    assert settings["DATABASE_URL"] == "postgresql+psycopg://db/dripper"
    assert settings["REDIS_URL"] == "redis://cache:6380/2"
    assert settings["SEND_RATE"] == 3.0
    assert settings["PUBLIC_URL"] == "https://sms.example.org"  # no trailing slash
    assert settings["SMS_BACKEND"] == "twilio"  # credentials present


def test_the_tick_claims_larger_batches_on_postgresql(tmp_path: Path) -> None:
    def batch_size(**environ: str) -> int:
        return int(load(tmp_path, environ={"SECRET_KEY": "s", **environ})["DRIP_BATCH_SIZE"])

    assert batch_size() == 500  # SQLite: one writer, short batches
    assert batch_size(DATABASE_URL="postgresql+psycopg://db/dripper") == 5000
    assert batch_size(DATABASE_URL="postgresql+psycopg://db/dripper", DRIP_BATCH_SIZE="800") == 800


def test_test_mapping_overrides_the_environment(tmp_path: Path) -> None:
    settings = load(
        tmp_path,
        environ={"SECRET_KEY": "env", "SEND_RATE": "5"},
        overrides={"SEND_RATE": 2, "SECRET_KEY": "mapping"},
    )
    assert settings["SEND_RATE"] == 2
    assert settings["SECRET_KEY"] == "mapping"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("DRIPPER_SANDBOX", "maybe"),
        ("SEND_RATE", "fast"),
        ("SEND_RATE", "0"),
        ("SMS_BACKEND", "pigeon"),
        ("SEND_RATE_REPLY_SHARE", "1"),
        ("SEND_RATE_REPLY_SHARE", "-0.1"),
        ("DELIVERY_STALE_AFTER", "soon"),
    ],
)
def test_bad_values_are_named(tmp_path: Path, name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=name):
        load(tmp_path, environ={"SECRET_KEY": "s", name: value})


def test_celery_shares_the_flask_config(tmp_path: Path) -> None:
    app = create_app(
        {
            "SECRET_KEY": "s",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}",
            "REDIS_URL": "redis://127.0.0.1:6390/3",
        }
    )
    celery = app.extensions["celery"]
    assert celery.conf.broker_url == "redis://127.0.0.1:6390/3"
    assert celery.conf.task_acks_late is True
    assert celery.conf.beat_schedule["drip-tick"]["task"] == "dripper.drip.tick"
    assert celery.conf.beat_schedule["drip-tick"]["schedule"] == 60.0


def test_every_task_beat_schedules_is_one_a_worker_knows(tmp_path: Path) -> None:
    app = create_app({"SECRET_KEY": "s", "DATABASE_URL": f"sqlite:///{tmp_path / 'x.sqlite3'}"})
    celery = app.extensions["celery"]
    celery.loader.import_default_modules()
    for name, entry in celery.conf.beat_schedule.items():
        assert entry["task"] in celery.tasks, name
        assert entry["options"]["expires"] < entry["schedule"], name


def test_operational_settings_have_defaults_and_take_numbers_from_the_environment(
    tmp_path: Path,
) -> None:
    settings = load(tmp_path, environ={"SECRET_KEY": "k", "TWILIO_TIMEOUT": "4.5"})
    assert settings["TWILIO_TIMEOUT"] == 4.5
    assert settings["SEND_RATE_MAX_WAIT"] == 60.0
    assert settings["SIGNUP_PHONE_LIMIT"] == "3/day"
    assert settings["SEND_RATE_REPLY_SHARE"] == 0.2
    assert settings["TWILIO_LOOKUP_DELAY"] == 60.0
    assert settings["DELIVERY_STALE_AFTER"] == 600
    # A lookup and a send (4.5 s each) and the longest wait for a slot (60 s).
    assert settings["SEND_LOCK_SECONDS"] == 69.0
    assert (
        load(tmp_path, environ={"SECRET_KEY": "k", "SEND_LOCK_SECONDS": "20"})["SEND_LOCK_SECONDS"]
        == 20.0
    )
    with pytest.raises(ConfigError, match="TWILIO_TIMEOUT"):
        load(tmp_path, environ={"SECRET_KEY": "k", "TWILIO_TIMEOUT": "soon"})


def test_worker_and_web_build_the_same_app() -> None:
    import ast

    root = Path(__file__).resolve().parents[2]
    for name in ("web.py", "worker.py"):
        tree = ast.parse((root / name).read_text())
        calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
        assert any(getattr(c.func, "id", None) == "create_app" for c in calls), name


def test_every_setting_is_documented_for_operators() -> None:
    """docs/INTERFACE.md names every variable the service reads, so operators can find it."""
    documented = (Path(__file__).resolve().parents[2] / "docs" / "INTERFACE.md").read_text()
    missing = sorted(name for name in DEFAULTS if f"`{name}`" not in documented)
    assert missing == []


def test_worker_cpu_policy_is_normal_unless_idle_is_asked_for(tmp_path: Path) -> None:
    sandbox = {"DRIPPER_SANDBOX": "1"}
    assert load(tmp_path, environ=sandbox)["WORKER_CPU_POLICY"] == "normal"
    idle = load(tmp_path, environ={**sandbox, "WORKER_CPU_POLICY": " Idle "})
    assert idle["WORKER_CPU_POLICY"] == "idle"
    with pytest.raises(ConfigError, match="WORKER_CPU_POLICY must be normal or idle"):
        load(tmp_path, environ={**sandbox, "WORKER_CPU_POLICY": "low"})


def test_a_worker_whose_idle_policy_is_refused_runs_as_scheduled(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import os

    from dripper.jobs import apply_cpu_policy

    def refuse(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setscheduler", refuse, raising=False)
    monkeypatch.setattr(os, "SCHED_IDLE", 5, raising=False)
    monkeypatch.setattr(os, "sched_param", lambda priority: priority, raising=False)
    assert apply_cpu_policy("idle") is False
    assert "runs as scheduled" in caplog.text
    assert apply_cpu_policy("normal") is False
