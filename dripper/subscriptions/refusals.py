"""Acting on a refusal: what the carrier said about a person becomes their state.

The sending side (``dripper.sms.errors``) names a refusal (21610: opted out; an invalid
or landline number: unreachable; carrier filtering several times running: blocked) and
hands it here through the handler ``create_app`` registers, inside the transaction that
records the message, for every send: the drip's lessons, replies, and status callbacks
alike.
"""

from __future__ import annotations

from sqlalchemy import select

from dripper.clock import now
from dripper.extensions import db
from dripper.models import Message, Subscriber, SubscriberStatus
from dripper.models import SubscriptionState as State
from dripper.sms.errors import Refusal
from dripper.subscriptions import states

#: The states in which a course sends on its own schedule.
SENDING = frozenset({State.ACTIVE, State.WAITING})


def apply_refusal(message: Message, refusal: Refusal, reason: str) -> None:
    """Opt the person out, mark their number unreachable, or hold their lessons while texts to
    it are blocked; flushes nothing, commits nothing.

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
    elif refusal is Refusal.BLOCKED:
        # Lessons would only fail the same way: held until the person texts in (their
        # text shows the route works) or an admin resumes them, with the reason on record.
        # Only courses that would send on their own: a pause runs out and is parked by its
        # next failure, and a crisis hold stays a hold (resumed only by a person).
        at = now()
        for subscription in subscriber.subscriptions:
            if subscription.state in SENDING:
                states.park(subscription, at, f"texts blocked: {reason}")
