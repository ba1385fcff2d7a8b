"""Telling the team about a reply that needs a person now."""

from __future__ import annotations

import logging

import requests
from celery import shared_task
from flask import current_app

from dripper.clock import now
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import Alert

log = logging.getLogger(__name__)


class AlertNotDelivered(Exception):
    """The alert webhook did not answer 2xx; worth trying again."""


@shared_task(
    name="dripper.readiness.notify_admins",
    autoretry_for=(AlertNotDelivered, requests.RequestException),
    retry_backoff=5,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=10,
    acks_late=True,
)
def notify_admins(alert_id: int) -> None:
    """POST an open alert to ADMIN_ALERT_WEBHOOK (no message body, a masked number)."""
    url = current_app.config.get("ADMIN_ALERT_WEBHOOK")
    alert = db.session.get(Alert, alert_id)
    if not url or alert is None or alert.notified_at is not None:
        return
    subscription = alert.subscription
    payload = {
        "alert": alert.id,
        "kind": alert.kind,
        "created_at": alert.created_at.isoformat(),
        "subscription": alert.subscription_id,
        "phone": mask_phone(alert.message.phone if alert.message else None),
        "course": subscription.course.slug if subscription else None,
        "text": "A subscriber's reply needs a person now. Lessons are held; "
        "the crisis response was sent. Open the admin console.",
    }
    response = requests.post(url, json=payload, timeout=10)
    if not response.ok:
        raise AlertNotDelivered(f"alert webhook answered {response.status_code}")
    alert.notified_at = now()
    db.session.commit()
    log.info("alert %s sent to the alert webhook", alert.id)
