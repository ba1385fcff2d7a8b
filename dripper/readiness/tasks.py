"""Telling the team about a reply that needs a person now.

``notify_admins`` is queued after the commit that opens an alert. It tries once; a
failed POST is recorded on the alert and the beat sweep (``sweep_alerts``) queues it
again after a growing pause, so an alert whose task was lost or whose webhook was down
is still delivered. A Redis lock per alert keeps two runs (the first task running late
and a sweep's) from POSTing the same alert twice.
"""

from __future__ import annotations

import logging
import uuid

import redis
import requests
from celery import shared_task
from flask import Flask, current_app

from dripper.clock import now
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import Alert, AlertKind
from dripper.readiness.alerts import claim_unnotified, record_failed_notification

log = logging.getLogger(__name__)

POST_TIMEOUT = 10.0
#: What the alert says to the team, by its kind.
ALERT_TEXT = {
    AlertKind.CRISIS.value: "A subscriber's reply needs a person now. Lessons are held; "
    "the crisis response was sent. Open the admin console.",
    AlertKind.REVIEW.value: "A subscriber's reply may be about danger but reads as a worry "
    "or a plan. Nothing was sent to them for it and lessons go on. Please read it in the "
    "admin console.",
}
#: Longer than a POST can take; a run that dies holding it frees the alert after this.
LOCK_SECONDS = 30
_LOCK_PREFIX = "dripper:alert:notify:"
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0
"""


@shared_task(
    name="dripper.readiness.notify_admins",
    acks_late=True,
    soft_time_limit=LOCK_SECONDS - 5,
    time_limit=LOCK_SECONDS,
)
def notify_admins(alert_id: int) -> str:
    """POST an alert not yet delivered to ADMIN_ALERT_WEBHOOK (no message body, a masked number)."""
    url = current_app.config.get("ADMIN_ALERT_WEBHOOK")
    if not url:
        return "no webhook"
    client = _redis(current_app._get_current_object())  # type: ignore[attr-defined]
    key, token = f"{_LOCK_PREFIX}{alert_id}", uuid.uuid4().hex
    if not client.set(key, token, nx=True, ex=LOCK_SECONDS):
        return "in progress"  # another run is POSTing it; it records the outcome
    try:
        return _notify(alert_id, url)
    finally:
        try:
            client.eval(_RELEASE, 1, key, token)
        except redis.RedisError:  # pragma: no cover - it expires by itself
            log.warning("could not release the notification lock of alert %s", alert_id)


def _redis(app: Flask) -> redis.Redis:
    """The Redis connection that holds the notification locks, one per app."""
    client = app.extensions.get("dripper.readiness.redis")
    if client is None:
        client = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_connect_timeout=5, socket_timeout=10
        )
        app.extensions["dripper.readiness.redis"] = client
    return client


def _notify(alert_id: int, url: str) -> str:
    # Read under the lock, past anything this session cached: a run before us may
    # just have delivered it.
    db.session.expire_all()
    alert = db.session.get(Alert, alert_id)
    if alert is None or alert.notified_at is not None:
        return "done"
    subscription = alert.subscription
    payload = {
        "alert": alert.id,
        "kind": alert.kind,
        "created_at": alert.created_at.isoformat(),
        "subscription": alert.subscription_id,
        "phone": mask_phone(alert.message.phone if alert.message else None),
        "course": subscription.course.slug if subscription else None,
        "text": ALERT_TEXT.get(alert.kind, ALERT_TEXT[AlertKind.CRISIS.value]),
    }
    db.session.commit()  # no transaction stays open during the POST
    try:
        response = requests.post(url, json=payload, timeout=POST_TIMEOUT)
        problem = None if response.ok else f"answered {response.status_code}"
    except requests.RequestException as error:
        problem = type(error).__name__
    alert = db.session.get(Alert, alert_id)
    if alert is None:  # pragma: no cover - forgotten while we POSTed
        return "done"
    if problem is None:
        alert.notified_at = now()
        alert.next_notify_at = None
        db.session.commit()
        log.info("alert %s sent to the alert webhook", alert_id)
        return "sent"
    record_failed_notification(alert, now())
    db.session.commit()
    log.warning(
        "alert %s not delivered (the alert webhook %s; attempt %d); the sweep tries again",
        alert_id,
        problem,
        alert.notify_attempts,
    )
    return "failed"


@shared_task(
    name="dripper.readiness.sweep_alerts", acks_late=True, soft_time_limit=50, time_limit=55
)
def sweep_alerts() -> int:
    """Queue again the notification of open alerts the team was never told about."""
    if not current_app.config.get("ADMIN_ALERT_WEBHOOK"):
        return 0
    alert_ids = claim_unnotified(now())
    db.session.commit()  # the claim holds before any task can run
    for alert_id in alert_ids:
        notify_admins.apply_async(args=[alert_id])
    if alert_ids:
        log.warning("%d crisis alert(s) not delivered yet: queued again", len(alert_ids))
    return len(alert_ids)
