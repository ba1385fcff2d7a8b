"""``GET /healthz``: can this process reach its database and its broker?"""

from __future__ import annotations

import redis
from flask import Blueprint, current_app, jsonify
from flask.typing import ResponseReturnValue
from sqlalchemy import text

from dripper.extensions import db, limiter

bp = Blueprint("health", __name__)


def database_ok() -> tuple[bool, str]:
    try:
        db.session.execute(text("SELECT 1"))
        return True, "ok"
    except Exception as error:  # noqa: BLE001 - any failure means unhealthy
        db.session.rollback()
        return False, type(error).__name__


def broker_ok() -> tuple[bool, str]:
    try:
        client = redis.Redis.from_url(
            current_app.config["REDIS_URL"], socket_connect_timeout=1, socket_timeout=1
        )
        client.ping()
        client.close()
        return True, "ok"
    except Exception as error:  # noqa: BLE001
        return False, type(error).__name__


@bp.get("/healthz")
@limiter.exempt
def healthz() -> ResponseReturnValue:
    """Database and broker reachability; 200 when both answer, 503 otherwise."""
    database, database_detail = database_ok()
    broker, broker_detail = broker_ok()
    healthy = database and broker
    body = {
        "status": "ok" if healthy else "unavailable",
        "database": database_detail,
        "broker": broker_detail,
    }
    return jsonify(body), 200 if healthy else 503
