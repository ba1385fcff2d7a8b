"""``POST /sms/inbound`` and ``POST /sms/status``: signed by Twilio, answered fast.

Both are exempt from CSRF (Twilio has no session; the signature is the proof) and
from the default rate limits (Twilio's own bursts must never be refused).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from flask import Response, current_app, request
from flask.typing import ResponseReturnValue
from twilio.twiml.messaging_response import MessagingResponse

from dripper.conversation.handle import handle_stored, handling_failed
from dripper.conversation.replies import unconfirmed_answers
from dripper.conversation.tasks import leave_to_worker
from dripper.conversation.triage import acted_on_at_once
from dripper.extensions import csrf, db, limiter
from dripper.logs import mask_phone
from dripper.models import Message
from dripper.sms.console import ConsoleSender
from dripper.sms.outbox import webhook_answer
from dripper.sms.senders import get_sender, status_callback_url
from dripper.sms.status import adopt_answer_sid, apply_status
from dripper.webhooks.blueprint import bp
from dripper.webhooks.inbound import (
    MalformedWebhook,
    is_message_sid,
    read_inbound,
    storable,
    store_inbound,
)
from dripper.webhooks.signature import twilio_signed

log = logging.getLogger(__name__)

#: The status callback's query parameter naming a reply handed over in TwiML.
ANSWER_PARAM = "answer"

csrf.exempt(bp)
limiter.exempt(bp)


#: The empty answer, built once: most webhooks give it.
EMPTY_TWIML = str(MessagingResponse())


def empty_twiml(status: int = 200) -> Response:
    """An empty ``<Response/>``: the replies, if any, go out through the REST API."""
    return Response(EMPTY_TWIML, status=status, mimetype="text/xml")


@dataclass(frozen=True)
class Answer:
    """What a TwiML answer needs of a reply row, read before the commit expires it."""

    id: int
    phone: str
    body: str


def answers_of(messages: list[Message]) -> list[Answer]:
    return [Answer(m.id, m.phone, m.body) for m in messages]


def twiml_answer(answers: list[Answer]) -> Response:
    """A ``<Response>`` with one ``<Message>`` per reply that must not wait for a worker.

    Each asks Twilio to report on the message it creates (the ``action`` URL names our
    row), so the outbox learns its sid and whether it was delivered.
    """
    response = MessagingResponse()
    for answer in answers:
        response.message(
            answer.body,
            action=f"{status_callback_url(current_app.config)}?{ANSWER_PARAM}={answer.id}",
        )
    sender = get_sender()
    if isinstance(sender, ConsoleSender):
        # No Twilio to act on the TwiML in development: print them as sent, like the rest.
        for answer in answers:
            sender.send(answer.phone, answer.body)
    return Response(str(response), mimetype="text/xml")


@bp.post("/inbound")
@twilio_signed
def inbound() -> ResponseReturnValue:
    """Twilio's "a message comes in": store it once, act on it once, answer in TwiML.

    A text that can wait (``conversation.triage``) is queued for a worker and answered
    with an empty ``<Response/>`` at once; the rest are acted on here, and what they are
    owed at once (STOP's confirmation, HELP, the crisis lines) goes back in the TwiML.
    """
    try:
        sms = read_inbound(request.form)
    except MalformedWebhook as error:
        log.warning("inbound webhook refused: %s", error)
        return "malformed inbound message\n", 400
    stored = store_inbound(sms)
    if stored is None:
        # Its twin's row is gone again (the number was forgotten meanwhile).
        log.info(
            "inbound %s from %s is a repeat of a message no longer on record: ignored",
            sms.sid,
            mask_phone(sms.phone),
        )
        return empty_twiml()
    message_id = stored.id
    if stored.handled_at is not None:
        log.info(
            "inbound %s from %s is a repeat of message %s",
            sms.sid,
            mask_phone(sms.phone),
            message_id,
        )
        return _answer_again(message_id)
    log.info("inbound %s from %s stored as message %s", sms.sid, mask_phone(sms.phone), message_id)
    if not acted_on_at_once(sms.body):
        # Queued, or else on record for the inbound sweep: either way Twilio need not retry.
        if leave_to_worker(message_id):
            log.info("inbound message %s left to a worker", message_id)
        return empty_twiml()
    try:
        with webhook_answer() as answers:
            handled = handle_stored(message_id)
            db.session.flush()
            # Read now: the commit expires the rows, and reading them after it would
            # cost a query each.
            answered = answers_of(answers)
            # Committed before answering: an opt-out is on record by the time Twilio hears
            # 200, and a reply in the answer is on record before Twilio sends it.
            db.session.commit()
    except Exception as error:  # noqa: BLE001 - handling_failed logs it
        # Still unhandled: the inbound sweep handles it (or Twilio's retry, if sooner).
        handling_failed(message_id, error)
        return empty_twiml(500)
    if handled is None:
        log.info("inbound message %s was handled meanwhile (a retry or the sweep)", message_id)
        return _answer_again(message_id)
    if answered:
        log.info("inbound message %s answered in TwiML: %d replies", message_id, len(answered))
    return twiml_answer(answered)


def _answer_again(message_id: int) -> Response:
    """A repeat of a handled text: Twilio repeats a webhook only when it did not get the
    answer, so replies it never confirmed go back again (the same rows, sent once)."""
    answers = answers_of(unconfirmed_answers(message_id))
    if answers:
        log.warning(
            "inbound message %s: %d unconfirmed replies answered again", message_id, len(answers)
        )
    return twiml_answer(answers)


@bp.post("/status")
@twilio_signed
def status() -> ResponseReturnValue:
    """Twilio's status callback for an outbound message: record how far it got."""
    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    value = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip()
    if not is_message_sid(sid) or not value:
        log.warning("status callback refused: MessageSid or MessageStatus missing or malformed")
        return "malformed status callback\n", 400
    answer = _int_or_none(request.args.get(ANSWER_PARAM))
    if answer is not None:
        # A reply we handed over in TwiML: its first callback tells us Twilio's sid.
        adopt_answer_sid(answer, sid)
    error_code = _int_or_none(request.form.get("ErrorCode"))
    error_message = storable(request.form.get("ErrorMessage") or "") or None
    known = apply_status(sid, value, error_code, error_message)
    db.session.commit()
    if not known:
        # Not ours (or not stored yet); a 200 stops Twilio retrying something we can't use.
        log.info("status %s for unknown message %s ignored", value, sid)
    return "", 204


def _int_or_none(value: str | None) -> int | None:
    """Twilio's error codes are five digits; anything that is not a code is no code."""
    try:
        number = int(value) if value else None
    except ValueError:
        return None
    # The column is a 32-bit integer: a larger "code" must not become a database error.
    return number if number is not None and 0 <= number < 2**31 else None
