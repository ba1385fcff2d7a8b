"""dripper: SMS micro-lessons paced by each person's readiness."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix

from dripper import config as configuration
from dripper.clock import SandboxClock, SystemClock
from dripper.extensions import csrf, db, limiter, login, migrate
from dripper.jobs import celery_config, celery_init_app
from dripper.logs import configure_logging
from dripper.pool import ping_when_idle

MIGRATIONS = os.path.join(os.path.dirname(__file__), "migrations")


def _cookie_settings(sandbox: bool) -> dict[str, Any]:
    """Flags for the cookies that carry an admin's sign-in."""
    return {
        f"{prefix}_COOKIE_{name}": value
        for prefix in ("SESSION", "REMEMBER")  # Flask's session and Flask-Login's "remember me"
        for name, value in (("SECURE", not sandbox), ("HTTPONLY", True), ("SAMESITE", "Lax"))
    }


def create_app(test_config: Mapping[str, Any] | None = None) -> Flask:
    """Build the app that ``web.py`` serves and ``worker.py`` runs tasks in."""
    app = Flask(__name__, instance_relative_config=True)
    os.makedirs(app.instance_path, exist_ok=True)
    settings = configuration.load(
        app.instance_path,
        overrides=test_config,
        from_cli=os.environ.get("FLASK_RUN_FROM_CLI") == "true",
    )
    app.config.update(settings)
    app.config["SQLALCHEMY_DATABASE_URI"] = settings["DATABASE_URL"]
    # hide_parameters: a failed statement's error (and every traceback that quotes it) would
    # otherwise carry its parameters: phone numbers and message bodies. A connection is
    # pinged only when it rested in the pool (dripper.pool), not before every request.
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = {
        "pool_pre_ping": False,
        **app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {}),
        "hide_parameters": True,
    }
    # The admin session travels only over HTTPS outside the sandbox (which runs on plain
    # http://localhost), never to scripts, and not on cross-site requests.
    for name, value in _cookie_settings(settings["DRIPPER_SANDBOX"]).items():
        if name not in settings:
            app.config[name] = value
    app.config["RATELIMIT_STORAGE_URI"] = settings["REDIS_URL"]
    app.config.setdefault("RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 2})
    app.config["CELERY"] = {**celery_config(settings), **settings.get("CELERY", {})}
    configure_logging(settings["LOG_LEVEL"])
    if settings["PROXY_FIX_HOPS"] > 0:
        # The client's address (the signup limiter's key) and scheme as the trusted
        # proxies saw them; with no proxy configured, a client's X-Forwarded-For is ignored.
        hops = settings["PROXY_FIX_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]

    db.init_app(app)
    with app.app_context():
        ping_when_idle(db.engine)
    migrate.init_app(app, db, directory=MIGRATIONS, render_as_batch=True)
    csrf.init_app(app)
    login.init_app(app)
    limiter.init_app(app)
    celery_init_app(app)
    app.extensions["dripper.clock"] = (
        SandboxClock() if settings["DRIPPER_SANDBOX"] else SystemClock()
    )

    from dripper import models  # noqa: F401 - register the tables with the metadata
    from dripper.admin import bp as admin_bp
    from dripper.cli import register_commands
    from dripper.health import bp as health_bp
    from dripper.metrics.scrape import bp as metrics_bp
    from dripper.sandbox import bp as sandbox_bp
    from dripper.signup import bp as signup_bp
    from dripper.sms.errors import on_refusal
    from dripper.subscriptions.refusals import apply_refusal
    from dripper.webhooks import bp as webhooks_bp

    app.register_blueprint(admin_bp)
    app.register_blueprint(health_bp)
    app.register_blueprint(metrics_bp)
    app.register_blueprint(sandbox_bp)
    app.register_blueprint(signup_bp)
    app.register_blueprint(webhooks_bp)
    register_commands(app)
    # What the carrier says about a person (opted out, unreachable) changes their
    # subscriptions; the sending side only names it (dripper/sms/errors.py).
    on_refusal(app, apply_refusal)
    return app
