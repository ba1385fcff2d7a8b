"""The suppression list: numbers that opted out and were then forgotten.

``subscriber forget`` erases a person, but their STOP must outlive the erasure, or the
web form would text them again. So forgetting a number that opted out keeps a keyed
hash of it (HMAC-SHA256 over the E.164 number), never the number itself. The web form
and every provider call (``dripper.sms.delivery.may_send``) refuse a suppressed number;
a text from it puts its opt-out back on record (a Subscriber row that is opted out, as
before it was forgotten), and only the person texting START or JOIN themselves lifts it.

The key is ``SUPPRESSION_KEY`` or, when that is unset, ``SECRET_KEY``; either way a key
for this list alone is derived from it. A hash cannot be recomputed without the number,
so after changing the key (or ``SECRET_KEY`` while ``SUPPRESSION_KEY`` is unset) list the
previous value in ``SUPPRESSION_OLD_KEYS``: entries are still recognised under it, and
one is re-keyed to the current key whenever its number comes by. Dropping an old key
forgets, in effect, the opt-outs still hashed with it.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from datetime import datetime

from flask import current_app
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from dripper.extensions import db
from dripper.logs import mask_phone
from dripper.models import Suppression

log = logging.getLogger(__name__)

# Domain separation: the same secret keys the signup limiter's hashes differently.
_PURPOSE = b"dripper suppression list v1"


def _keys() -> list[bytes]:
    """The current key, then the old ones still recognised."""
    config = current_app.config
    old = config.get("SUPPRESSION_OLD_KEYS") or []
    if isinstance(old, str):
        old = old.split(",")
    secrets = [str(config.get("SUPPRESSION_KEY") or config["SECRET_KEY"])]
    secrets += [str(secret).strip() for secret in old if str(secret).strip()]
    return [
        hmac.new(secret.encode(), _PURPOSE, hashlib.sha256).digest()
        for secret in dict.fromkeys(secrets)
    ]


def _hash(key: bytes, e164: str) -> str:
    return hmac.new(key, e164.encode(), hashlib.sha256).hexdigest()


def find(e164: str) -> Suppression | None:
    """The suppression entry of this E.164 number, re-keyed if an old key matched."""
    hashes = [_hash(key, e164) for key in _keys()]
    entries = {
        entry.phone_hash: entry
        for entry in db.session.scalars(
            select(Suppression).where(Suppression.phone_hash.in_(hashes))
        )
    }
    if not entries:
        return None
    if hashes[0] in entries:
        return entries[hashes[0]]
    entry = next(entries[h] for h in hashes if h in entries)
    entry.phone_hash = hashes[0]  # written with the caller's transaction
    return entry


def is_suppressed(e164: str) -> bool:
    """Whether this number opted out and was forgotten since (and has not texted START)."""
    return find(e164) is not None


def suppress(e164: str, at: datetime) -> None:
    """Keep this number's opt-out past its erasure (a keyed hash only); the caller commits."""
    if find(e164) is not None:
        return
    try:
        with db.session.begin_nested():
            db.session.add(Suppression(phone_hash=_hash(_keys()[0], e164), created_at=at))
    except IntegrityError:
        pass  # a concurrent forget of the same number wrote it first
    log.info("%s kept on the suppression list", mask_phone(e164))


def lift(e164: str) -> bool:
    """The person texted START or JOIN themselves: they may be texted again. Returns
    whether the number was suppressed; the caller commits."""
    hashes = [_hash(key, e164) for key in _keys()]
    result = db.session.execute(delete(Suppression).where(Suppression.phone_hash.in_(hashes)))
    lifted = bool(getattr(result, "rowcount", 0))
    if lifted:
        log.info("%s texted to join again: off the suppression list", mask_phone(e164))
    return lifted
