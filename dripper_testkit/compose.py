"""docker-compose.yml as the tests and the bench read it: its services, and web's command."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent


@functools.cache
def compose_services() -> dict[str, Any]:
    """docker-compose.yml's services, read once."""
    return dict(yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"])


def compose_web_command() -> list[str]:
    """docker-compose.yml's web command (a copy: callers change its bind address)."""
    return list(compose_services()["web"]["command"])
