"""Configuration: defaults in one place, environment variables on top.

Tests pass their own mapping to ``create_app`` instead of setting variables.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit


class ConfigError(RuntimeError):
    """The configuration cannot run the service (a required value is missing or wrong)."""


#: Every variable in docs/INTERFACE.md, and the ones added since, with its default.
DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # SQLite file in the instance folder
    "REDIS_URL": "redis://localhost:6379/0",
    "SECRET_KEY": None,
    "SMS_BACKEND": None,  # console without Twilio credentials, else twilio
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_FROM_NUMBER": None,
    "TWILIO_MESSAGING_SERVICE_SID": None,
    "TWILIO_API_URL": "https://api.twilio.com",
    "PUBLIC_URL": "http://localhost:5000",
    "DRIPPER_SANDBOX": False,
    "SEND_RATE": 1.0,
    # Added beyond the first interface:
    "ADMIN_ALERT_WEBHOOK": None,  # POSTed to on a crisis reply
    "CLASSIFIER_MODEL_PATH": None,  # default: reply-model.npz in the instance folder
    "LOG_LEVEL": "INFO",
    "DRIP_BATCH_SIZE": None,  # claims per tick transaction; unset: by database (below)
    "DRIP_CLAIM_TIMEOUT": 600,  # seconds before an unfinished claim may be taken again
    "TWILIO_TIMEOUT": 15.0,  # seconds for one REST call before its outcome is unknown
    "TWILIO_WEBHOOK_SHARED_KEY": None,  # for webhooks signed with a Twilio SharedKey
    "SEND_RATE_MAX_WAIT": 60.0,  # seconds a send waits for the limiter before it retries
    "SMS_SEND_CONCURRENCY": 4,  # provider calls in flight at once per chunk delivery task
    "SEND_RATE_REPLY_SHARE": 0.2,  # part of SEND_RATE the drip leaves free for replies
    "TWILIO_LOOKUP_DELAY": 60.0,  # seconds before an unanswered send is looked up, and between lookups
    "DELIVERY_STALE_AFTER": 600,  # seconds a pending outbound message waits before the sweep re-queues it
    # Seconds a message's send lock lives when its holder dies without releasing it; the
    # sweep leaves a locked message alone, so recovery after a worker is killed takes
    # max(DELIVERY_STALE_AFTER, this) + a sweep (60 s) + the lookups. Default (None):
    # the longest a single delivery holds it before its provider call has answered or
    # timed out, a lookup and a send (TWILIO_TIMEOUT each) and the longest wait for a
    # slot (SEND_RATE_MAX_WAIT): 90 s with the defaults.
    "SEND_LOCK_SECONDS": None,
    "SIGNUP_IP_LIMIT": "5/hour;20/day",  # web signups per client address
    "SIGNUP_PHONE_LIMIT": "3/day",  # web signups per phone number
    # Proxies in front of the web process whose X-Forwarded-For/-Proto are trusted.
    "PROXY_FIX_HOPS": 0,
    # ISO codes the web form may text (comma-separated); default: the course's countries.
    "SIGNUP_COUNTRIES": None,
    # The key of the suppression list's hashes (default: derived from SECRET_KEY), and
    # earlier keys still recognised (comma-separated) after a rotation.
    "SUPPRESSION_KEY": None,
    "SUPPRESSION_OLD_KEYS": None,
    "DELIVERY_RETRY_FOR": 43200,  # seconds a refused send keeps being retried (12 h)
    "DELIVERY_RETRY_BASE": 5.0,  # seconds before the first retry; doubled each time
    "DELIVERY_RETRY_MAX_DELAY": 1800.0,  # the longest wait between two retries
    "DRIP_MAX_FAILURES": 5,  # drip errors in a row before a subscription is parked
    # Bytes a request body may have (Flask answers 413 beyond): Twilio's largest webhook,
    # a 1,600-character text with ten media links, is a few kilobytes.
    "MAX_CONTENT_LENGTH": 131072,
    "METRICS_TOKEN": None,  # bearer token for /metrics; unset: /metrics answers 404
    "ADMIN_LOGIN_IP_LIMIT": "10/minute;100/day",  # admin sign-in attempts per client address
    "ADMIN_LOGIN_ACCOUNT_LIMIT": "5/15 minutes",  # failed admin sign-ins per account
    "ADMIN_PAGE_SIZE": 50,  # rows per page in the admin subscriber list
    # Seconds the dev phone's clock waits for a worker to send what a step queued.
    "SANDBOX_SEND_WAIT": 30.0,
    # Seconds a process trusts its copy of the course list before asking the database
    # whether a course changed in another process (dripper/conversation/live_courses.py).
    "COURSE_CACHE_SECONDS": 5.0,
    # "idle": a worker runs only on CPU nothing else wants (Linux SCHED_IDLE), so on a host
    # it shares with web the webhooks Twilio waits on go first; "normal": as scheduled.
    "WORKER_CPU_POLICY": "normal",
    # Seconds a worker may hold nothing and take nothing while tasks wait in a queue it
    # consumes before it stops itself (exit code 1) to be started again; 0: never
    # (dripper/stall.py).
    "WORKER_STALL_AFTER": 120.0,
}

#: The values WORKER_CPU_POLICY may take.
WORKER_CPU_POLICIES = ("normal", "idle")

#: DRIP_BATCH_SIZE when unset. PostgreSQL locks only a batch's own rows (``SKIP LOCKED``),
#: so fewer, larger batches save round trips and commits; SQLite has one writer, which a
#: batch holds until it commits, so its batches stay short.
DRIP_BATCH_SIZE_POSTGRESQL = 5000
DRIP_BATCH_SIZE_OTHER = 500

_BOOLEANS = {"DRIPPER_SANDBOX"}
_FLOATS = {
    "SEND_RATE",
    "TWILIO_TIMEOUT",
    "SEND_RATE_MAX_WAIT",
    "TWILIO_LOOKUP_DELAY",
    "SEND_LOCK_SECONDS",
    "DELIVERY_RETRY_BASE",
    "DELIVERY_RETRY_MAX_DELAY",
    "SANDBOX_SEND_WAIT",
    "COURSE_CACHE_SECONDS",
}
#: Seconds where 0 turns the thing off.
_SECONDS_OR_OFF = {"WORKER_STALL_AFTER"}
_INTS = {
    "DRIP_BATCH_SIZE",
    "DRIP_CLAIM_TIMEOUT",
    "SMS_SEND_CONCURRENCY",
    "DELIVERY_STALE_AFTER",
    "PROXY_FIX_HOPS",
    "DELIVERY_RETRY_FOR",
    "DRIP_MAX_FAILURES",
    "MAX_CONTENT_LENGTH",
    "ADMIN_PAGE_SIZE",
}
#: A part of a whole: at least 0, below 1.
_FRACTIONS = {"SEND_RATE_REPLY_SHARE"}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _coerce(name: str, value: Any) -> Any:
    if value is None or not isinstance(value, str):
        return value
    if name in _BOOLEANS:
        lowered = value.strip().lower()
        if lowered not in _TRUE | _FALSE:
            raise ConfigError(f"{name} must be 0 or 1, not {value!r}")
        return lowered in _TRUE
    try:
        if name in _FRACTIONS:
            fraction = float(value)
            if not 0 <= fraction < 1:
                raise ConfigError(f"{name} must be at least 0 and below 1, not {value!r}")
            return fraction
        if name in _SECONDS_OR_OFF:
            seconds = float(value)
            if not seconds >= 0:
                raise ConfigError(f"{name} must be 0 (off) or more seconds, not {value!r}")
            return seconds
        if name in _FLOATS:
            number: float = float(value)
            if number <= 0:
                raise ValueError
            return number
        if name in _INTS:
            return int(value)
    except ValueError:
        raise ConfigError(f"{name} must be a positive number, not {value!r}") from None
    return value


def load(
    instance_path: str | Path,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    *,
    from_cli: bool = False,
) -> dict[str, Any]:
    """Return the settings: defaults, then ``environ``, then ``overrides``.

    ``from_cli`` is true under the ``flask`` command (the development door), where a
    missing SECRET_KEY is generated and kept in the instance folder, as in sandbox mode.
    """
    environ = os.environ if environ is None else environ
    instance = Path(instance_path)
    settings: dict[str, Any] = {}
    for name, default in DEFAULTS.items():
        value = environ.get(name, default)
        if overrides and name in overrides:
            value = overrides[name]
        settings[name] = _coerce(name, value)
    if overrides:
        settings.update({k: v for k, v in overrides.items() if k not in DEFAULTS})

    if not settings["DATABASE_URL"]:
        settings["DATABASE_URL"] = f"sqlite:///{instance / 'dripper.sqlite3'}"
    if not settings["DRIP_BATCH_SIZE"]:
        postgresql = str(settings["DATABASE_URL"]).startswith("postgres")
        settings["DRIP_BATCH_SIZE"] = (
            DRIP_BATCH_SIZE_POSTGRESQL if postgresql else DRIP_BATCH_SIZE_OTHER
        )
    if not settings["SMS_BACKEND"]:
        has_credentials = settings["TWILIO_ACCOUNT_SID"] and settings["TWILIO_AUTH_TOKEN"]
        settings["SMS_BACKEND"] = "twilio" if has_credentials else "console"
    settings["WORKER_CPU_POLICY"] = str(settings["WORKER_CPU_POLICY"] or "normal").strip().lower()
    if settings["WORKER_CPU_POLICY"] not in WORKER_CPU_POLICIES:
        raise ConfigError(
            f"WORKER_CPU_POLICY must be {' or '.join(WORKER_CPU_POLICIES)}, "
            f"not {settings['WORKER_CPU_POLICY']!r}"
        )
    if settings["SMS_BACKEND"] not in {"twilio", "console"}:
        raise ConfigError(f"SMS_BACKEND must be twilio or console, not {settings['SMS_BACKEND']!r}")
    if not settings["SEND_LOCK_SECONDS"]:
        settings["SEND_LOCK_SECONDS"] = send_lock_seconds(settings)
    if not settings["CLASSIFIER_MODEL_PATH"]:
        settings["CLASSIFIER_MODEL_PATH"] = str(instance / "reply-model.npz")
    settings["PUBLIC_URL"] = str(settings["PUBLIC_URL"]).rstrip("/")
    if (
        settings["DRIPPER_SANDBOX"]
        and settings["SMS_BACKEND"] == "twilio"
        and not _is_local(str(settings["TWILIO_API_URL"]))
    ):
        # The sandbox moves the clock and signs its own webhooks: with real Twilio
        # behind it, a dev phone or a clock jump would text real people.
        raise ConfigError(
            "DRIPPER_SANDBOX=1 cannot run with SMS_BACKEND=twilio: the sandbox would "
            "text real people (use SMS_BACKEND=console, or turn the sandbox off)"
        )
    if settings["DRIPPER_SANDBOX"] and not settings["TWILIO_AUTH_TOKEN"]:
        # The dev phone signs its webhooks as Twilio would; without an auth token it
        # uses this one, which the signature check accepts only in sandbox mode.
        if not settings.get("SANDBOX_AUTH_TOKEN"):
            settings["SANDBOX_AUTH_TOKEN"] = _instance_secret(instance, "sandbox_auth_token")

    if not settings["SECRET_KEY"]:
        if not (settings["DRIPPER_SANDBOX"] or from_cli):
            raise ConfigError("SECRET_KEY is required unless DRIPPER_SANDBOX=1")
        settings["SECRET_KEY"] = _instance_secret(instance)
    return settings


def send_lock_seconds(settings: Mapping[str, Any]) -> float:
    """SEND_LOCK_SECONDS derived from the settings it must cover (see DEFAULTS)."""
    timeout = float(settings.get("TWILIO_TIMEOUT") or DEFAULTS["TWILIO_TIMEOUT"])
    max_wait = float(settings.get("SEND_RATE_MAX_WAIT") or DEFAULTS["SEND_RATE_MAX_WAIT"])
    return 2 * timeout + max_wait


def _is_local(url: str) -> bool:
    """Whether the Twilio API URL is a fake on this machine (tests), not Twilio."""
    host = urlsplit(url).hostname or ""
    return host in {"localhost", "127.0.0.1", "::1"}


def _instance_secret(instance: Path, name: str = "secret_key") -> str:
    """A development secret, generated once and kept beside the SQLite database."""
    path = instance / name
    if path.exists():
        return path.read_text().strip()
    instance.mkdir(parents=True, exist_ok=True)
    key = secrets.token_hex(32)
    path.write_text(key)
    path.chmod(0o600)
    return key
