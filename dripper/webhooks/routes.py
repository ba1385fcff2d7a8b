"""``POST /sms/inbound`` and ``POST /sms/status``: signed by Twilio, answered fast.

Both are exempt from CSRF (Twilio has no session; the signature is the proof) and
from the default rate limits (Twilio's own bursts must never be refused).
"""

from __future__ import annotations

import logging

from flask import Response, request
from flask.typing import ResponseReturnValue
from twilio.twiml.messaging_response import MessagingResponse

from dripper.conversation.handle import handle_inbound
from dripper.extensions import csrf, db, limiter
from dripper.logs import mask_phone
from dripper.webhooks import bp
from dripper.webhooks.inbound import (
    MalformedWebhook,
    is_message_sid,
    mark_not_handled,
    read_inbound,
    storable,
    store_inbound,
)
from dripper.webhooks.signature import twilio_signed

log = logging.getLogger(__name__)

csrf.exempt(bp)
limiter.exempt(bp)


def empty_twiml() -> Response:
    """An empty ``<Response/>``: replies go out through the REST API, with status tracking."""
    return Response(str(MessagingResponse()), mimetype="text/xml")


@bp.post("/inbound")
@twilio_signed
def inbound() -> ResponseReturnValue:
    """Twilio's "a message comes in": store it once, act on it, answer with empty TwiML."""
    try:
        sms = read_inbound(request.form)
    except MalformedWebhook as error:
        log.warning("inbound webhook refused: %s", error)
        return "malformed inbound message\n", 400
    message = store_inbound(sms)
    if message is None:
        log.info("inbound %s from %s is a repeat: ignored", sms.sid, mask_phone(sms.phone))
        return empty_twiml()
    log.info("inbound %s from %s stored as message %s", sms.sid, mask_phone(sms.phone), message.id)
    try:
        handle_inbound(message)
        # Committed before answering: an opt-out is on record by the time Twilio hears 200.
        db.session.commit()
    except Exception as error:
        db.session.rollback()
        # The exception's text may quote SQL parameters (the body): name it only, and
        # keep the traceback for debug logs.
        log.error("inbound message %s stored but not handled: %s", message.id, type(error).__name__)
        log.debug("inbound message %s not handled", message.id, exc_info=True)
        mark_not_handled(message.id)  # Twilio's retry (or a replay) handles it again
        return Response(str(MessagingResponse()), status=500, mimetype="text/xml")
    return empty_twiml()


@bp.post("/status")
@twilio_signed
def status() -> ResponseReturnValue:
    """Twilio's status callback for an outbound message: record how far it got."""
    from dripper.sms.status import apply_status

    sid = (request.form.get("MessageSid") or request.form.get("SmsSid") or "").strip()
    value = (request.form.get("MessageStatus") or request.form.get("SmsStatus") or "").strip()
    if not is_message_sid(sid) or not value:
        log.warning("status callback refused: MessageSid or MessageStatus missing or malformed")
        return "malformed status callback\n", 400
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
