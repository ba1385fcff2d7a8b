"""Queue an outbound message: store it first, then hand it to a worker after commit."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import select

from dripper.clock import now as clock_now
from dripper.extensions import db
from dripper.jobs import enqueue_after_commit
from dripper.models import (
    Direction,
    Lesson,
    Message,
    MessageKind,
    MessageStatus,
    Subscriber,
    Subscription,
)
from dripper.sms.delivery import may_revive, revive
from dripper.sms.queues import delivery_queue
from dripper.sms.tasks import deliver, deliver_batch
from dripper.window import SendWindow

_COLLECTED = "dripper.sms.collected_deliveries"
_ANSWER = "dripper.sms.webhook_answer"

#: Replies that go back in the inbound webhook's own TwiML answer when it has one: they
#: must not wait for a worker or behind a burst of lessons (docs/RELIABILITY.md).
IN_WEBHOOK_ANSWER = frozenset(
    {MessageKind.CRISIS_RESPONSE, MessageKind.STOP_CONFIRMATION, MessageKind.HELP}
)


def lesson_key(subscription_id: int, lesson_id: int | None, kind: str) -> str:
    """The dedupe key of a message about one lesson of a subscription: the lesson, its
    question, an acknowledgement of a reply to it (one of each, ever)."""
    return f"sub:{subscription_id}:lesson:{lesson_id}:{kind}"


@dataclass
class Collected:
    """What a chunk wrote, and what was already written for its subscriptions."""

    messages: list[Message] = field(default_factory=list)
    #: Subscriptions whose every dedupe key written so far is in ``known_keys``, and
    #: every lesson sent so far in ``lessons``.
    covered: set[int] = field(default_factory=set)
    known_keys: set[str] = field(default_factory=set)
    lessons: dict[int, set[int]] = field(default_factory=dict)
    #: Of ``known_keys``: messages held up (retrying, or waiting for their window), and
    #: messages that finally failed without the provider ever accepting them (written
    #: again, they go once more).
    retrying_keys: set[str] = field(default_factory=set)
    failed_keys: set[str] = field(default_factory=set)

    def message_ids(self) -> list[int]:
        """The ids of the collected messages; flushes them first if need be."""
        if any(message.id is None for message in self.messages):
            db.session.flush()
        return [message.id for message in self.messages]


def collected() -> Collected | None:
    """The collector of the ``collect_deliveries`` block this session is in, if any."""
    return db.session.info.get(_COLLECTED)


@contextmanager
def collect_deliveries(subscription_ids: Iterable[int] = ()) -> Iterator[Collected]:
    """Within this block, messages queued in this session are collected, not queued,
    and not flushed one by one: the caller flushes the chunk once.

    The caller hands the collected ids to one chunk delivery (``queue_deliveries``)
    before it commits, instead of one delivery task per message. After a rollback the
    collection is stale: the caller drops it.

    The dedupe keys and lessons already written for ``subscription_ids`` are read in
    one query, so that a message for one of them whose key is not among them is written
    without the "already written?" query. If one was written meanwhile, the unique key
    still refuses the second row (IntegrityError at the flush), as it does for any race.
    """
    collector = Collected()
    wanted = sorted(set(subscription_ids))
    if wanted:
        rows = db.session.execute(
            select(
                Message.subscription_id,
                Message.dedupe_key,
                Message.kind,
                Message.lesson_id,
                Message.status,
                Message.provider_sid,
                Message.attempts,
                Message.retry_at,
            ).where(Message.subscription_id.in_(wanted), Message.direction == Direction.OUTBOUND)
        )
        collector.lessons = {subscription_id: set() for subscription_id in wanted}
        for subscription_id, key, kind, lesson_id, status, sid, attempts, retry_at in rows:
            state = delivery_state(status, sid, attempts, retry_at)
            if key is not None:
                collector.known_keys.add(key)
                if state is DeliveryState.RETRYING:
                    collector.retrying_keys.add(key)
                elif state is DeliveryState.FAILED:
                    collector.failed_keys.add(key)
            if (
                kind is MessageKind.LESSON
                and lesson_id is not None
                and subscription_id
                and state is not DeliveryState.FAILED
            ):
                collector.lessons[subscription_id].add(lesson_id)
        collector.covered = set(wanted)
    previous = db.session.info.get(_COLLECTED)
    db.session.info[_COLLECTED] = collector
    try:
        yield collector
    finally:
        if previous is None:
            db.session.info.pop(_COLLECTED, None)
        else:
            db.session.info[_COLLECTED] = previous


@contextmanager
def webhook_answer() -> Iterator[list[Message]]:
    """Within this block (the inbound webhook acting on a text), replies of the kinds in
    ``IN_WEBHOOK_ANSWER`` are stored as handed over in TwiML, and collected for the
    webhook to put in its answer, instead of queued for a worker.

    They are outbound messages like any other (a row, a dedupe key, a status), and no
    worker or sweep sends them: only pending messages are delivered. The caller answers
    with them only once its transaction committed; after a rollback they never existed.
    """
    answers: list[Message] = []
    previous = db.session.info.get(_ANSWER)
    db.session.info[_ANSWER] = answers
    try:
        yield answers
    finally:
        if previous is None:
            db.session.info.pop(_ANSWER, None)
        else:
            db.session.info[_ANSWER] = previous


class DeliveryState(enum.StrEnum):
    """Where a message stands for whoever wrote it: not sent yet, out, or lost for good."""

    QUEUED = "queued"  # not sent yet, and nothing has held it up
    RETRYING = "retrying"  # refused so far and retrying, or held until its window opens
    OUT = "out"  # the provider has it (whatever the carrier did with it since)
    FAILED = "failed"  # finally failed, never accepted by the provider: may go once more
    CANCELED = "canceled"  # the person may not be texted


def delivery_state(
    status: MessageStatus,
    provider_sid: str | None,
    attempts: int | None = 0,
    retry_at: datetime | None = None,
) -> DeliveryState:
    """The DeliveryState of a message with these columns."""
    if provider_sid:
        return DeliveryState.OUT
    if status is MessageStatus.PENDING:
        held_up = bool(attempts) or retry_at is not None
        return DeliveryState.RETRYING if held_up else DeliveryState.QUEUED
    if status is MessageStatus.FAILED:
        return DeliveryState.FAILED
    if status is MessageStatus.CANCELED:
        return DeliveryState.CANCELED
    return DeliveryState.OUT


def state_of(dedupe_key: str, subscription_id: int | None = None) -> DeliveryState | None:
    """The DeliveryState of the message written under this key, or None if there is none.

    Within a ``collect_deliveries`` block covering ``subscription_id``, read from the
    chunk's rows (no query); a canceled or queued message reads as out there.
    """
    chunk = collected()
    if chunk is not None and subscription_id in chunk.covered:
        if dedupe_key not in chunk.known_keys:
            return None
        if dedupe_key in chunk.failed_keys:
            return DeliveryState.FAILED
        if dedupe_key in chunk.retrying_keys:
            return DeliveryState.RETRYING
        return DeliveryState.OUT
    row = db.session.execute(
        select(Message.status, Message.provider_sid, Message.attempts, Message.retry_at).where(
            Message.dedupe_key == dedupe_key
        )
    ).first()
    if row is None:
        return None
    return delivery_state(row.status, row.provider_sid, row.attempts, row.retry_at)


def queue_deliveries(message_ids: list[int]) -> None:
    """Queue the delivery of stored messages once the caller commits: one task for all."""
    if len(message_ids) == 1:
        enqueue_after_commit(deliver, message_ids[0])
    elif message_ids:
        enqueue_after_commit(deliver_batch, list(message_ids))


def queue_message(
    phone: str,
    kind: MessageKind,
    body: str,
    *,
    subscriber: Subscriber | None = None,
    subscription: Subscription | None = None,
    lesson: Lesson | None = None,
    dedupe_key: str | None = None,
    window: SendWindow | None = None,
) -> Message:
    """Store an outbound message as pending and queue its delivery once the caller commits.

    With a ``dedupe_key`` the message is written at most once: asking again returns
    the row already written (and queues nothing), which is what makes the drip
    exactly-once when a task runs twice. Asking again for one that finally failed
    without the provider ever taking it sends that same row once more.

    With a ``window`` (the drip's messages) it goes out only while that window is open;
    without one (a reply to the person's own text) it goes at once.
    """
    collector = collected()
    if dedupe_key is not None and not (
        collector is not None
        and subscription is not None
        and subscription.id in collector.covered
        and dedupe_key not in collector.known_keys
    ):
        existing = db.session.scalar(select(Message).where(Message.dedupe_key == dedupe_key))
        if existing is not None:
            if may_revive(existing):
                # The same row, not a new one: a replay and this can never both send it.
                if window is not None:
                    existing.send_window = window.to_json()
                revive(existing)
                if collector is not None:
                    collector.failed_keys.discard(dedupe_key)
                    collector.retrying_keys.add(dedupe_key)
                    if kind is MessageKind.LESSON and lesson is not None and subscription:
                        collector.lessons.setdefault(subscription.id, set()).add(lesson.id)
            return existing
    answer = db.session.info.get(_ANSWER) if kind in IN_WEBHOOK_ANSWER else None
    at = clock_now()  # the sandbox's time too, so a timeline reads in order
    message = Message(
        direction=Direction.OUTBOUND,
        kind=kind,
        phone=phone,
        subscriber=subscriber,
        subscription=subscription,
        lesson=lesson,
        body=body,
        status=MessageStatus.PENDING if answer is None else MessageStatus.TWIML,
        dedupe_key=dedupe_key,
        send_window=window.to_json() if window is not None else None,
        created_at=at,
        sent_at=None if answer is None else at,
        status_at=None if answer is None else at,
    )
    db.session.add(message)
    if answer is not None:
        db.session.flush()
        answer.append(message)
        return message
    if collector is not None:
        # Flushed with the rest of the chunk; the caller queues them all at once.
        if dedupe_key is not None:
            collector.known_keys.add(dedupe_key)
        if kind is MessageKind.LESSON and lesson is not None and subscription is not None:
            collector.lessons.setdefault(subscription.id, set()).add(lesson.id)
        collector.messages.append(message)
        return message
    db.session.flush()
    enqueue_after_commit(deliver, message.id, queue=delivery_queue(kind))
    return message
