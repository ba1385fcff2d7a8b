"""Acting on a refusal: what the carrier said about a person becomes their state.

The sending side (``dripper.sms.errors``) names a refusal (21610: opted out; an invalid
or landline number: unreachable) and hands it here through the handler ``create_app``
registers, inside the transaction that records the message, for every send: the drip's
lessons, replies, and status callbacks alike.
"""

from __future__ import annotations

from sqlalchemy import select

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Message, Subscriber, SubscriberStatus
from dripper.sms.errors import Refusal
from dripper.subscriptions import states


def apply_refusal(message: Message, refusal: Refusal, reason: str) -> None:
    """Opt the person out, or mark their number unreachable; flushes nothing, commits nothing.

    The carrier refusing again keeps the first opt-out's time, and an opt-out (what the
    person asked for) is never turned into unreachable.
    """
    subscriber = message.subscriber or db.session.scalar(
        select(Subscriber).where(Subscriber.phone == message.phone)
    )
    if subscriber is None:
        return
    if refusal is Refusal.OPTED_OUT:
        if subscriber.status is not SubscriberStatus.OPTED_OUT:
            states.opt_out(subscriber, now())
    elif refusal is Refusal.UNREACHABLE and subscriber.status is SubscriberStatus.ACTIVE:
        states.mark_unreachable(subscriber, reason[:200])
