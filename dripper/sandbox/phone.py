"""The dev phone: pretend numbers that text the service through its real inbound path.

A pretend number is remembered as a ``Setting`` row (``sandbox_phone:<E.164>``), so
only numbers made here can be reset. A text from one is signed exactly as Twilio signs
a webhook and handed to ``/sms/inbound`` in this process (through the WSGI app, not
over HTTP: PUBLIC_URL need not be reachable from the server, and a single-threaded
server cannot call itself). Moving the clock lives through the time step by step: each
send of a pretend number that falls due is done, in order, as beat and the worker
would do it. What they queue is delivered by the worker when one answers a ping, and in
the request otherwise (the per-message send lock settles a race between the two); a text
its webhook left to a worker is acted on the same way. Either way the clock moves on only
once those sends are recorded and those texts acted on: a text still waiting for the
worker when the clock passes its window's close would be held until the next morning.
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

import phonenumbers
from flask import current_app
from phonenumbers import PhoneNumberFormat, PhoneNumberType, geocoder
from sqlalchemy import select
from twilio.request_validator import RequestValidator

from dripper import people
from dripper.clock import sandbox_clock
from dripper.conversation.tasks import handle_inbound
from dripper.drip.tasks import perform
from dripper.drip.tick import claim_one
from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import (
    Direction,
    Message,
    MessageStatus,
    Setting,
    Subscriber,
    Subscription,
)
from dripper.phones import time_zones_for
from dripper.sandbox.explain import explain
from dripper.sms.base import SendError
from dripper.sms.delivery import deliver_message
from dripper.subscriptions.states import SCHEDULED_STATES

log = logging.getLogger(__name__)

KEY_PREFIX = "sandbox_phone:"
#: The "To" of a dev phone's texts: Twilio's magic test number, never a real line.
SERVICE_NUMBER = "+15005550006"
_MOBILE = {PhoneNumberType.MOBILE, PhoneNumberType.FIXED_LINE_OR_MOBILE}
#: Sends one advance may do before it stops (a course that never settles).
MAX_STEPS = 200


class NotPretend(LookupError):
    """A number that was not made on the dev phone (only those may be reset)."""


class SendsNotRecorded(RuntimeError):
    """Texts a clock step queued were still unsent after SANDBOX_SEND_WAIT seconds."""


# -- numbers ---------------------------------------------------------------------------


@lru_cache(maxsize=1)
def countries() -> list[tuple[str, str]]:
    """(ISO code, name) of every country with a mobile number range, by name."""
    found = []
    for region in phonenumbers.SUPPORTED_REGIONS:
        example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
        if example is None:
            continue
        name = geocoder.country_name_for_number(example, "en") or region
        found.append((region, name))
    return sorted(found, key=lambda item: item[1])


def make_number(region: str, rng: random.Random | None = None) -> str:
    """A mobile number in ``region``'s range that no one here uses yet (E.164)."""
    rng = rng or random.SystemRandom()
    region = region.upper()
    example = phonenumbers.example_number_for_type(region, PhoneNumberType.MOBILE)
    if example is None:
        raise ValueError(f"no mobile numbers known for {region!r}")
    national = str(example.national_number)
    keep = max(len(national) - 4, 1)
    for _ in range(200):
        digits = national[:keep] + "".join(rng.choice("0123456789") for _ in national[keep:])
        candidate = phonenumbers.parse(f"+{example.country_code}{digits}", None)
        if not (
            phonenumbers.is_valid_number(candidate)
            and phonenumbers.number_type(candidate) in _MOBILE
        ):
            continue
        e164 = phonenumbers.format_number(candidate, PhoneNumberFormat.E164)
        taken = db.session.scalar(select(Subscriber.id).where(Subscriber.phone == e164))
        if taken is None and db.session.get(Setting, KEY_PREFIX + e164) is None:
            return e164
    raise ValueError(f"could not find a free mobile number in {region!r}")


def create(region: str) -> str:
    """Make and remember a pretend number in ``region``; returns it (E.164)."""
    e164 = make_number(region)
    db.session.add(
        Setting(
            key=KEY_PREFIX + e164,
            value=json.dumps({"region": region.upper(), "created": datetime.now(UTC).isoformat()}),
        )
    )
    db.session.commit()
    log.info("dev phone: pretend number %s made", mask_phone(e164))
    return e164


def pretend_numbers() -> list[str]:
    """Every pretend number, oldest first."""
    rows = list(
        db.session.execute(
            select(Setting.key, Setting.value).where(Setting.key.startswith(KEY_PREFIX))
        )
    )
    rows.sort(key=lambda row: (json.loads(row.value).get("created", ""), row.key))
    return [row.key[len(KEY_PREFIX) :] for row in rows]


def is_pretend(phone: str) -> bool:
    return db.session.get(Setting, KEY_PREFIX + phone) is not None


def zone(phone: str) -> ZoneInfo:
    """The zone the service reads this number's send time in (its first one)."""
    return ZoneInfo(time_zones_for(phone)[0])


def describe_number(phone: str) -> dict[str, Any]:
    number = phonenumbers.parse(phone, None)
    return {
        "phone": phone,
        "display": phonenumbers.format_number(number, PhoneNumberFormat.INTERNATIONAL),
        "country": geocoder.country_name_for_number(number, "en")
        or phonenumbers.region_code_for_number(number),
        "zone": zone(phone).key,
    }


def reset(phone: str) -> int:
    """Forget everything about a pretend number (``people.forget``); keeps the number."""
    if not is_pretend(phone):
        raise NotPretend(f"{mask_phone(phone)} is not a dev phone number")
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.phone == phone))
    erased = 0
    if subscriber is not None:
        erased = people.forget(subscriber, actor="dev phone")
    # Texts that reached no subscriber (a STOP to a stranger, a hint) are its data too.
    for message in db.session.scalars(select(Message).where(Message.phone == phone)):
        db.session.delete(message)
        erased += 1
    db.session.commit()
    return erased


# -- texting ---------------------------------------------------------------------------


def auth_token() -> str:
    """The token webhooks are checked with: the app's, else the sandbox's own."""
    config = current_app.config
    token = config.get("TWILIO_AUTH_TOKEN") or config.get("SANDBOX_AUTH_TOKEN")
    if not token:
        raise RuntimeError("no auth token to sign the dev phone's texts with")
    return str(token)


def signed_inbound(phone: str, body: str) -> tuple[str, dict[str, str], str]:
    """(path, form, X-Twilio-Signature) of an inbound text, as Twilio would post it."""
    path = "/sms/inbound"
    sid = "SM" + uuid.uuid4().hex
    region = phonenumbers.region_code_for_number(phonenumbers.parse(phone, None)) or ""
    form = {
        "MessageSid": sid,
        "SmsSid": sid,
        "SmsMessageSid": sid,
        "AccountSid": str(current_app.config.get("TWILIO_ACCOUNT_SID") or "AC" + "0" * 32),
        "From": phone,
        "To": str(current_app.config.get("TWILIO_FROM_NUMBER") or SERVICE_NUMBER),
        "Body": body,
        "NumMedia": "0",
        "NumSegments": "1",
        "FromCountry": region,
        "SmsStatus": "received",
        "ApiVersion": "2010-04-01",
    }
    url = current_app.config["PUBLIC_URL"].rstrip("/") + path
    return path, form, RequestValidator(auth_token()).compute_signature(url, form)


def text(phone: str, body: str) -> int:
    """Send ``body`` from a pretend number through ``/sms/inbound``; returns the status."""
    if not is_pretend(phone):
        raise NotPretend(f"{mask_phone(phone)} is not a dev phone number")
    path, form, signature = signed_inbound(phone, body)
    # Nothing of ours may hold the database while the webhook writes (SQLite locks).
    db.session.commit()
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    # A fresh app context: the webhook gets a session of its own, as in production.
    with app.app_context():
        response = app.test_client().post(
            path, data=form, headers={"X-Twilio-Signature": signature}
        )
        status = response.status_code
    db.session.expire_all()
    act_on_pending([phone])
    deliver_pending([phone])
    return status


#: Seconds a "does a worker answer?" finding is trusted before asking again.
WORKER_CHECK_SECONDS = 15.0
_worker_seen: dict[int, tuple[float, bool]] = {}


def worker_answers() -> bool:
    """Whether a Celery worker answers a ping on this app's broker (cached briefly)."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    seen = _worker_seen.get(id(app))
    if seen is not None and time.monotonic() - seen[0] < WORKER_CHECK_SECONDS:
        return seen[1]
    try:
        answered = bool(app.extensions["celery"].control.ping(timeout=0.5))
    except Exception as error:  # noqa: BLE001 - no broker is "no worker"
        log.info("dev phone: no worker answers (%s)", type(error).__name__)
        answered = False
    _worker_seen[id(app)] = (time.monotonic(), answered)
    return answered


def unhandled(phones: list[str]) -> list[int]:
    """Texts from these numbers that wait to be acted on (left to a worker by their webhook)."""
    return list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.phone.in_(phones),
                Message.direction == Direction.INBOUND,
                Message.handled_at.is_(None),
            )
            .order_by(Message.id)
        )
    )


def act_on_pending(phones: list[str]) -> int:
    """Act on the texts these numbers sent that wait for a worker, unless one is there to
    do it (as ``deliver_pending`` does for sends). Returns how many were acted on."""
    if worker_answers():
        return 0
    ids = unhandled(phones)
    db.session.commit()
    return sum(handle_inbound.run(message_id) for message_id in ids)


def deliver_pending(phones: list[str]) -> int:
    """Deliver what is queued for these numbers now, unless a worker is there to do it.

    With a worker (``make run``) the deliveries queued after each commit are its job, and
    the page shows them go from pending to sent. Without one (tests, a web process on its
    own) they are delivered here; a worker that turns up meanwhile and holds one keeps it.
    """
    if worker_answers():
        return 0
    ids = list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.phone.in_(phones),
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                Message.provider_sid.is_(None),
            )
            .order_by(Message.id)
        )
    )
    db.session.commit()
    delivered = 0
    for message_id in ids:
        try:
            deliver_message(message_id)
            delivered += 1
        except SendError as error:
            # Busy in a worker, or a retry it will do: the page shows its status.
            db.session.rollback()
            log.info("dev phone: message %s left to the worker (%s)", message_id, error)
    return delivered


def unsent(phones: list[str]) -> list[int]:
    """Outbound messages to these numbers that wait for their provider call.

    Not those whose attempt is recorded: accepted (a sid), failed or canceled, refused
    for now (the error is on the row, a retry follows), or held on the row until
    ``retry_at`` (a retry or the window's opening: moving the clock is what frees them).
    """
    return list(
        db.session.scalars(
            select(Message.id)
            .where(
                Message.phone.in_(phones),
                Message.direction == Direction.OUTBOUND,
                Message.status == MessageStatus.PENDING,
                Message.provider_sid.is_(None),
                Message.error_code.is_(None),
                Message.retry_at.is_(None),
            )
            .order_by(Message.id)
        )
    )


def settle(phones: list[str]) -> None:
    """Deliver what is queued for these numbers, and wait until each send is recorded and
    each text they sent is acted on.

    In the request when no worker answers; otherwise the worker's, polled until done.
    Raises SendsNotRecorded after SANDBOX_SEND_WAIT seconds (a worker that answers a
    ping but takes nothing, or is stuck on something else).
    """
    wait = float(current_app.config["SANDBOX_SEND_WAIT"])
    deadline = time.monotonic() + wait
    pause = 0.05
    while True:
        act_on_pending(phones)
        deliver_pending(phones)
        waiting = unsent(phones) + unhandled(phones)
        db.session.commit()  # the next look sees the worker's commits
        if not waiting:
            return
        if time.monotonic() >= deadline:
            raise SendsNotRecorded(
                f"{len(waiting)} text(s) were still not sent after {wait:g} s, so the clock "
                "stopped here: is the worker running and taking tasks? (see its log)"
            )
        time.sleep(pause)
        pause = min(pause * 2, 0.5)


# -- time ------------------------------------------------------------------------------


def _due_query(phones: list[str]) -> Any:
    return (
        select(Subscription.id, Subscription.next_send_at)
        .join(Subscriber, Subscriber.id == Subscription.subscriber_id)
        .where(
            Subscriber.phone.in_(phones),
            Subscription.state.in_(SCHEDULED_STATES),
            Subscription.next_send_at.is_not(None),
            Subscription.next_action.is_not(None),
        )
        .order_by(Subscription.next_send_at, Subscription.id)
    )


def next_send(phones: list[str]) -> datetime | None:
    row = db.session.execute(_due_query(phones).limit(1)).first()
    return row.next_send_at if row else None


def live_until(target: datetime, phones: list[str]) -> int:
    """Move the sandbox clock to ``target``, doing each due send of ``phones`` on the way.

    The clock stops at each send's time, as if beat had ticked then, so a lesson and the
    question hours later both go out, in order, each stamped with its own time; and it
    moves on only once what each step queued is sent (``settle``), so no send is left
    for a worker to find after the clock has passed its window.
    """
    clock = sandbox_clock()
    done = 0
    skipped: set[int] = set()
    for _ in range(MAX_STEPS):
        settle(phones)
        due = [
            row
            for row in db.session.execute(_due_query(phones)).all()
            if row.id not in skipped and row.next_send_at <= target
        ]
        if not due:
            break
        subscription_id, at = due[0]
        if at > clock.now():
            clock.set(at)
        token = claim_one(subscription_id)
        db.session.commit()
        if token is None:
            # Beat claimed it first: the worker sends it; the page shows it when it does.
            skipped.add(subscription_id)
            continue
        perform(subscription_id, token)
        done += 1
    settle(phones)
    if target > clock.now():
        clock.set(target)
    deliver_pending(phones)
    return done


def advance(by: timedelta, phones: list[str]) -> int:
    """Advance the sandbox clock by ``by``, living through it."""
    if by <= timedelta(0):
        raise ValueError("the sandbox clock only moves forward")
    return live_until(sandbox_clock().now() + by, phones)


def advance_to_next(phone: str, phones: list[str]) -> datetime | None:
    """Advance to this number's next scheduled send and do it; None if nothing is."""
    at = next_send([phone])
    if at is None:
        return None
    live_until(max(at, sandbox_clock().now()), phones)
    return at


# -- what the page shows ---------------------------------------------------------------


@dataclass(frozen=True)
class Bubble:
    id: int
    direction: str
    body: str
    status: str
    kind: str
    at: datetime
    label: str | None
    confidence: float | None
    needs_review: bool

    def as_json(self, tz: ZoneInfo) -> dict[str, Any]:
        return {
            "id": self.id,
            "direction": self.direction,
            "body": self.body,
            "status": self.status,
            "kind": self.kind,
            "at": self.at.astimezone(tz).strftime("%a %H:%M"),
            "label": self.label,
            "confidence": self.confidence,
            "needs_review": self.needs_review,
        }


def _label(message: Message) -> str | None:
    label = message.reviewed_label or message.label
    return label.value if label is not None else None


def conversation(phone: str) -> list[Bubble]:
    """Every text to and from the number, in order."""
    rows = db.session.scalars(select(Message).where(Message.phone == phone).order_by(Message.id))
    return [
        Bubble(
            id=m.id,
            direction=m.direction.value,
            body=m.body,
            status=m.status.value,
            kind=m.kind.value,
            at=m.created_at,
            label=_label(m),
            confidence=m.confidence,
            needs_review=m.needs_review,
        )
        for m in rows
    ]


def state(phone: str) -> dict[str, Any]:
    """Everything one phone column shows: the number, its time, its texts, what's next."""
    tz = zone(phone)
    now = sandbox_clock().now()
    subscriber = db.session.scalar(select(Subscriber).where(Subscriber.phone == phone))
    subscriptions = list(subscriber.subscriptions) if subscriber else []
    return {
        **describe_number(phone),
        "now": now.astimezone(tz).strftime("%a %d %b %H:%M"),
        "now_iso": now.astimezone(tz).isoformat(),
        "messages": [bubble.as_json(tz) for bubble in conversation(phone)],
        "schedule": [explain(s, now) for s in subscriptions],
        "subscriber_status": subscriber.status.value if subscriber else None,
    }
