"""docker-compose.yml and the README stay true to docs/INTERFACE.md."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from dripper.config import DEFAULTS

ROOT = Path(__file__).resolve().parents[2]
INTERFACE_VARIABLES = [
    "DATABASE_URL", "REDIS_URL", "SECRET_KEY", "SMS_BACKEND", "TWILIO_ACCOUNT_SID",
    "TWILIO_AUTH_TOKEN", "TWILIO_FROM_NUMBER", "TWILIO_MESSAGING_SERVICE_SID",
    "TWILIO_API_URL", "PUBLIC_URL", "DRIPPER_SANDBOX", "SEND_RATE", "DELIVERY_STALE_AFTER",
]  # fmt: skip


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_the_interface_processes() -> None:
    services = compose()["services"]
    assert {"postgres", "redis", "migrate", "web", "worker", "beat"} <= set(services)
    assert (
        services["web"]["command"][:1] == ["gunicorn"] and "web:app" in services["web"]["command"]
    )
    assert services["worker"]["command"][:4] == ["celery", "-A", "worker", "worker"]
    assert services["beat"]["command"][:4] == ["celery", "-A", "worker", "beat"]
    assert services["beat"]["deploy"]["replicas"] == 1
    assert "db upgrade" in " ".join(services["migrate"]["command"])


def test_compose_answers_people_from_a_worker_of_their_own() -> None:
    services = compose()["services"]
    command = services["replies"]["command"]
    assert command[:4] == ["celery", "-A", "worker", "worker"]
    assert command[command.index("-Q") + 1] == "dripper.replies"
    assert "-Q" not in services["worker"]["command"]  # the plain worker takes both queues
    assert services["replies"]["depends_on"]["migrate"]["condition"] == (
        "service_completed_successfully"
    )


def test_a_plain_worker_consumes_the_drip_and_the_replies(tmp_path: Path) -> None:
    from dripper import create_app

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}", "SECRET_KEY": "x"})
    queues = app.extensions["celery"].amqp.queues

    assert set(queues) == {"dripper", "dripper.replies"}
    # Each has a routing key of its own, so a task goes to one queue only.
    assert {name: queue.routing_key for name, queue in queues.items()} == {
        "dripper": "dripper",
        "dripper.replies": "dripper.replies",
    }


def test_compose_waits_for_healthy_services_and_the_migration() -> None:
    services = compose()["services"]
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["test"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("web", "worker", "replies", "beat"):
        assert (
            services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
        )


def test_compose_configures_every_interface_variable() -> None:
    for name in ("migrate", "web", "worker", "replies", "beat"):
        environment = compose()["services"][name]["environment"]
        assert set(INTERFACE_VARIABLES) <= set(environment), name
        assert environment["DRIPPER_SANDBOX"] == "0"
        assert environment["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert set(INTERFACE_VARIABLES) <= set(DEFAULTS)


def test_readme_starts_with_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text()
    head = "\n".join(text.splitlines()[:15])
    assert "make run" in head and "make test" in head
    for name in INTERFACE_VARIABLES:
        assert re.search(rf"`{name}`", text), name
