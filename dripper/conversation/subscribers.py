"""Finding and creating the person behind a number, safely under concurrent messages."""

from __future__ import annotations

from datetime import time

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Subscriber, SubscriberStatus
from dripper.phones import time_zones_for


def find_subscriber(phone: str, *, lock: bool = False) -> Subscriber | None:
    """The subscriber with this E.164 number, if any.

    ``lock`` takes a row lock (PostgreSQL) so two texts from one person are acted on
    one after the other, e.g. a STOP never interleaves with a MORE. It is ``FOR NO KEY
    UPDATE``: the handling never changes the row's key, and a plain ``FOR UPDATE`` would
    also hold up every INSERT that refers to the row (its foreign key check takes a key
    share lock): the webhook storing that person's next text, the drip writing their
    lesson.
    """
    query = select(Subscriber).where(Subscriber.phone == phone)
    if lock:
        query = query.with_for_update(key_share=True).execution_options(populate_existing=True)
    return db.session.scalar(query)


def get_or_create_subscriber(
    phone: str, *, send_time: time | None = None, time_zones: list[str] | None = None
) -> Subscriber:
    """The subscriber with this E.164 number, created (with its time zones) if new."""
    existing = find_subscriber(phone, lock=True)
    if existing is not None:
        return existing
    subscriber = Subscriber(
        phone=phone,
        time_zones=time_zones or time_zones_for(phone),
        send_time=send_time or time(9, 0),
        status=SubscriberStatus.ACTIVE,
        created_at=now(),
    )
    try:
        with db.session.begin_nested():
            db.session.add(subscriber)
    except IntegrityError:
        # A concurrent request for the same new number created it first: use that one.
        found = find_subscriber(phone, lock=True)
        if found is None:  # pragma: no cover - the conflict was on something else
            raise
        return found
    return subscriber
