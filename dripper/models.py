"""The data model: courses and their lessons, subscribers and their subscriptions,
every message in both directions, admins and what they changed.
"""

from __future__ import annotations

import enum
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import (
    JSON,
    Boolean,
    Date,
    DateTime,
    Enum,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    Time,
    TypeDecorator,
    UniqueConstraint,
    false,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from dripper.extensions import Base, db
from dripper.labels import ReplyLabel

if TYPE_CHECKING:
    Model = Base  # what db.Model is to a type checker
else:
    Model = db.Model


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every database (SQLite stores them naive)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given where a UTC time is required")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _enum(cls: type[enum.Enum], length: int = 24) -> Enum:
    # Store the values (lower-case words), not the member names, and without a native
    # PostgreSQL type so that adding a member is a plain migration.
    return Enum(
        cls,
        values_callable=lambda members: [m.value for m in members],
        native_enum=False,
        length=length,
        validate_strings=True,
    )


def utcnow() -> datetime:
    return datetime.now(UTC)


class SubscriberStatus(enum.StrEnum):
    """Whether a number may be texted at all."""

    ACTIVE = "active"
    OPTED_OUT = "opted_out"  # said STOP (or the carrier says so: 21610)
    UNREACHABLE = "unreachable"  # invalid or landline (21211, 21614, 30006)


class SubscriptionState(enum.StrEnum):
    """Where a person stands in a course. Transitions live in dripper.subscriptions.states."""

    PENDING = "pending"  # asked to confirm, no YES yet
    ACTIVE = "active"  # lessons on their schedule
    WAITING = "waiting"  # a lesson or check-in was offered; waits for the person
    PAUSED = "paused"  # PAUSE: held until paused_until
    HELD = "held"  # a crisis reply: held until an admin or the person resumes
    DORMANT = "dormant"  # gone quiet after check-ins; wakes when they text
    PARKED = "parked"  # its sends kept failing: stopped until they text or an admin resumes
    COMPLETED = "completed"
    OPTED_OUT = "opted_out"


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class MessageKind(enum.StrEnum):
    """Why a message was sent (outbound) or what it was (inbound)."""

    REPLY = "reply"  # inbound: anything a person texts
    CONFIRMATION_REQUEST = "confirmation_request"
    WELCOME = "welcome"
    LESSON = "lesson"
    QUESTION = "question"
    HELP = "help"
    STOP_CONFIRMATION = "stop_confirmation"
    PAUSE_CONFIRMATION = "pause_confirmation"
    RESUME_CONFIRMATION = "resume_confirmation"
    TIME_CONFIRMATION = "time_confirmation"
    MORE_LIMIT = "more_limit"
    COMPLETION = "completion"
    CRISIS_RESPONSE = "crisis_response"
    JOIN_HINT = "join_hint"
    REJOIN = "rejoin"
    ACKNOWLEDGEMENT = "acknowledgement"
    CHECK_IN = "check_in"
    OFFER = "offer"
    NOTICE = "notice"  # any other short system answer


class MessageStatus(enum.StrEnum):
    """Twilio's message statuses, plus the two states before and around the provider call."""

    RECEIVED = "received"  # inbound
    PENDING = "pending"  # stored, provider not called yet
    # Handed to Twilio in the inbound webhook's own TwiML answer, not through the REST API;
    # Twilio's callback (the Message verb's ``action``) brings its sid and what came next.
    TWIML = "twiml"
    ACCEPTED = "accepted"
    SCHEDULED = "scheduled"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    UNDELIVERED = "undelivered"
    FAILED = "failed"
    CANCELED = "canceled"

    @property
    def rank(self) -> int:
        """How far along a message is; a status callback never moves it backwards."""
        return _STATUS_RANK[self]

    @property
    def final(self) -> bool:
        return self.rank >= _STATUS_RANK[MessageStatus.DELIVERED]


_STATUS_RANK = {
    MessageStatus.RECEIVED: 0,
    MessageStatus.PENDING: 0,
    MessageStatus.TWIML: 1,
    MessageStatus.ACCEPTED: 1,
    MessageStatus.SCHEDULED: 1,
    MessageStatus.QUEUED: 2,
    MessageStatus.SENDING: 3,
    MessageStatus.SENT: 4,
    MessageStatus.DELIVERED: 5,
    MessageStatus.UNDELIVERED: 5,
    MessageStatus.FAILED: 5,
    MessageStatus.CANCELED: 5,
    MessageStatus.READ: 6,
}


class AlertStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class SubscriptionSource(enum.StrEnum):
    """Where a person asked to join a course."""

    SMS = "sms"  # texted the course's keyword
    WEB = "web"  # the signup page


class AlertKind(enum.StrEnum):
    """Why the team is alerted."""

    CRISIS = "crisis"  # danger now: the person was sent the crisis lines, lessons are held
    REVIEW = "review"  # possible danger read as a worry or a plan: a person should read it


class Course(Model):
    """A sequence of lessons with its own keyword, system messages and pacing."""

    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(120))
    keyword: Mapped[str] = mapped_column(String(32), unique=True)
    description: Mapped[str] = mapped_column(Text, default="")
    contact: Mapped[str] = mapped_column(String(200), default="")
    pacing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    messages: Mapped[dict[str, str]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # The admin console's unpublished edits: the whole course as its file would say it
    # (CourseSpec.to_dict()), or None when what is live is what the editors see.
    draft: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    draft_updated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    lessons: Mapped[list[Lesson]] = relationship(
        back_populates="course",
        order_by="Lesson.position",
        primaryjoin="and_(Course.id == Lesson.course_id, Lesson.archived_at.is_(None))",
        viewonly=True,
    )

    def message(self, name: str, **values: str) -> str:
        """A system message of this course with its placeholders filled in."""
        return self.messages[name].format(**values)


class Lesson(Model):
    """One day's text and its reflection question. Deleting archives, so history keeps it."""

    __table_args__ = (UniqueConstraint("course_id", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    key: Mapped[str] = mapped_column(String(64))
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200))
    text: Mapped[str] = mapped_column(Text)
    question: Mapped[str] = mapped_column(Text)
    archived_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    course: Mapped[Course] = relationship(foreign_keys=[course_id])


class CourseVersion(Model):
    """One publication of a course: what went live, when and by whom (for diff and rollback)."""

    __table_args__ = (UniqueConstraint("course_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(254))
    summary: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LessonSkip(Model):
    """A lesson published before a person's place in the course: never sent to them.

    Written when the lesson goes live, for everyone who already had a lesson that now
    comes after it, so the drip can keep their place by identity, not position.
    """

    subscription_id: Mapped[int] = mapped_column(ForeignKey("subscription.id"), primary_key=True)
    lesson_id: Mapped[int] = mapped_column(ForeignKey("lesson.id"), primary_key=True)


class Subscriber(Model):
    """A phone number and what we know about when it may be texted."""

    # The admin console's search by the start of a number (LIKE '+1202%') on PostgreSQL.
    __table_args__ = (
        Index(
            "ix_subscriber_phone_pattern", "phone", postgresql_ops={"phone": "varchar_pattern_ops"}
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    phone: Mapped[str] = mapped_column(String(16), unique=True)  # E.164
    time_zones: Mapped[list[str]] = mapped_column(JSON, default=list)
    send_time: Mapped[time] = mapped_column(Time, default=time(9, 0))
    status: Mapped[SubscriberStatus] = mapped_column(
        _enum(SubscriberStatus), default=SubscriberStatus.ACTIVE
    )
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    unreachable_reason: Mapped[str | None] = mapped_column(String(200))
    join_hint_on: Mapped[date | None] = mapped_column(Date)  # at most one "text JOIN" a day
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriptions: Mapped[list[Subscription]] = relationship(back_populates="subscriber")

    @property
    def may_be_texted(self) -> bool:
        return self.status is SubscriberStatus.ACTIVE


class Subscription(Model):
    """A subscriber's journey through one course: state, cursor, schedule and readiness.

    The cursor is the set of lessons already sent (their outbound messages), so a
    reordered, inserted or deleted lesson never causes a repeat or a skip.
    """

    __table_args__ = (
        UniqueConstraint("subscriber_id", "course_id"),
        Index("ix_subscription_due", "state", "next_send_at"),
        # The admin console's subscriber list: newest first, filtered by course and state.
        Index("ix_subscription_course_state_id", "course_id", "state", "id"),
        Index("ix_subscription_state_id", "state", "id"),
        Index("ix_subscription_last_lesson_state", "last_lesson_id", "state"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # No index of their own: the unique constraint's index begins with subscriber_id and
    # ix_subscription_course_state_id with course_id (every index slows each claim).
    subscriber_id: Mapped[int] = mapped_column(ForeignKey("subscriber.id"))
    course_id: Mapped[int] = mapped_column(ForeignKey("course.id"))
    state: Mapped[SubscriptionState] = mapped_column(
        _enum(SubscriptionState), default=SubscriptionState.PENDING
    )
    source: Mapped[SubscriptionSource] = mapped_column(
        _enum(SubscriptionSource, length=16), default=SubscriptionSource.SMS
    )
    lessons_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id"))
    last_lesson_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # What the tick does next and when: "lesson", "question", "check_in" or "offer".
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_action: Mapped[str | None] = mapped_column(String(16))
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    extra_on: Mapped[date | None] = mapped_column(Date)  # the local day MORE was counted for
    extra_count: Mapped[int] = mapped_column(Integer, default=0)
    # Readiness: a decaying average of labels (-1 pushing away … +1 leaning in) and streaks.
    readiness: Mapped[float] = mapped_column(Float, default=0.0)
    resistant_streak: Mapped[int] = mapped_column(Integer, default=0)
    unanswered_questions: Mapped[int] = mapped_column(Integer, default=0)
    unanswered_check_ins: Mapped[int] = mapped_column(Integer, default=0)
    last_reply_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Sends of this subscription that failed in a row (the drip's own errors); parked
    # after DRIP_MAX_FAILURES, with a reason an admin reads.
    failure_count: Mapped[int] = mapped_column(Integer, default=0)
    parked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    parked_reason: Mapped[str | None] = mapped_column(String(200))
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    subscriber: Mapped[Subscriber] = relationship(back_populates="subscriptions")
    course: Mapped[Course] = relationship()
    last_lesson: Mapped[Lesson | None] = relationship()


class Message(Model):
    """Every text in either direction, stored before it is acted on or sent.

    ``dedupe_key`` is unique: an outbound lesson, question or check-in is written once
    per (subscription, lesson, kind) before the provider is called, the backstop
    against sending it twice.
    """

    __table_args__ = (
        Index("ix_message_subscriber_created", "subscriber_id", "created_at"),
        # The inbound sweep's question: which stored texts were never handled?
        Index("ix_message_direction_handled", "direction", "handled_at"),
        Index("ix_message_retry_at", "retry_at"),
        # The admin dashboard's funnel, failures and readiness mix; the review queue.
        Index("ix_message_lesson_kind_status", "lesson_id", "kind", "status"),
        Index("ix_message_error_code", "error_code"),
        Index("ix_message_direction_created", "direction", "created_at", "label"),
        Index("ix_message_needs_review", "needs_review", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    direction: Mapped[Direction] = mapped_column(_enum(Direction))
    kind: Mapped[MessageKind] = mapped_column(_enum(MessageKind))
    phone: Mapped[str] = mapped_column(String(16), index=True)
    subscriber_id: Mapped[int | None] = mapped_column(ForeignKey("subscriber.id"))
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"), index=True)
    lesson_id: Mapped[int | None] = mapped_column(ForeignKey("lesson.id"))
    body: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[MessageStatus] = mapped_column(_enum(MessageStatus))
    provider_sid: Mapped[str | None] = mapped_column(String(64), unique=True)
    dedupe_key: Mapped[str | None] = mapped_column(String(120), unique=True)
    error_code: Mapped[int | None] = mapped_column(Integer)
    error_message: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Whether the latest attempt may have reached the provider with no answer back (a
    # timeout, a worker killed mid-call): set when an attempt starts, cleared by the
    # provider's answer. Such a message is looked up before it is ever sent again, even
    # after a replay clears its error.
    outcome_unknown: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Retries: when the next attempt is due (the retry sweep queues it then; no long
    # broker ETAs), and since when the provider has been refusing it.
    retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The drip's messages carry the person's sending window (dripper.window.SendWindow),
    # checked again just before the provider call; replies carry none.
    send_window: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    status_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Inbound replies: what the classifier made of them.
    label: Mapped[ReplyLabel | None] = mapped_column(_enum(ReplyLabel))
    confidence: Mapped[float | None] = mapped_column(Float)
    needs_review: Mapped[bool] = mapped_column(Boolean, default=False)
    reviewed_label: Mapped[ReplyLabel | None] = mapped_column(_enum(ReplyLabel))
    # Inbound: set in the transaction that acted on it; NULL until then (the sweep's mark).
    # ``attempts`` and ``status_at`` count and date the failed tries.
    handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Inbound: the outbound question (or lesson, when its question had not gone yet) this
    # reply answers, as found when it was handled (dripper.conversation.context).
    answers_message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))

    subscriber: Mapped[Subscriber | None] = relationship()
    subscription: Mapped[Subscription | None] = relationship()
    lesson: Mapped[Lesson | None] = relationship()
    answers: Mapped[Message | None] = relationship(remote_side=[id])


class DeliveryFailure(Model):
    """A send that gave up after its retries; an admin can replay it."""

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id"), index=True)
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    replayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    message: Mapped[Message] = relationship()


class Alert(Model):
    """Something a person on the team must look at: a crisis reply, or one to review
    (``kind``: an ``AlertKind`` value)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[AlertKind] = mapped_column(_enum(AlertKind, length=32), default=AlertKind.CRISIS)
    status: Mapped[AlertStatus] = mapped_column(_enum(AlertStatus), default=AlertStatus.OPEN)
    subscription_id: Mapped[int | None] = mapped_column(ForeignKey("subscription.id"))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    resolved_by_id: Mapped[int | None] = mapped_column(ForeignKey("admin.id"))
    # Who closed it when not a signed-in admin (``alert resolve --by``), and why.
    resolved_by: Mapped[str | None] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)
    notified_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Failed POSTs to the alert webhook so far, and when the sweep may try again (the
    # sweep's claim: a row whose time is in the future is not picked by another sweep).
    notify_attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    next_notify_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    subscription: Mapped[Subscription | None] = relationship()
    message: Mapped[Message | None] = relationship()


class Suppression(Model):
    """A number that opted out and was then forgotten: never texted unless it texts
    START or JOIN itself. Only a keyed hash of the number is kept (dripper.suppression)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    phone_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class TrainingExample(Model):
    """An admin's correction of a reply's label, kept for the next training run."""

    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(Text)
    label: Mapped[ReplyLabel] = mapped_column(_enum(ReplyLabel))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id"), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Admin(Model):
    """A person who edits courses and reads the console."""

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[str] = mapped_column(String(16), default="editor")  # editor or owner
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    # Flask-Login
    is_active = True
    is_authenticated = True
    is_anonymous = False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_owner(self) -> bool:
        return self.role == "owner"


class AuditEntry(Model):
    """Who changed what, for every admin edit (and the course importer)."""

    id: Mapped[int] = mapped_column(primary_key=True)
    admin_id: Mapped[int | None] = mapped_column(ForeignKey("admin.id"))
    actor: Mapped[str] = mapped_column(String(254))  # admin email, or "cli"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(120))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Setting(Model):
    """Small shared values every process must see (the sandbox clock's offset)."""

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


#: The subscription table as a Core ``Table`` (typed), for the drip's bulk claims.
subscription_table = cast(Table, Subscription.__table__)
