"""The Twilio sender: the official ``twilio`` client, pointed at TWILIO_API_URL."""

from __future__ import annotations

import logging
import threading
from collections.abc import Container
from datetime import UTC, datetime, timedelta

from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from dripper.config import DEFAULTS
from dripper.sms.base import RetryableSendError, SendResult
from dripper.sms.errors import classify_exception

DEFAULT_API_URL = str(DEFAULTS["TWILIO_API_URL"])

#: How far apart our clock and Twilio's may be when matching a message's creation time.
CLOCK_SKEW = timedelta(minutes=10)

#: The library logs every request at info level, query strings (phone numbers) included;
#: its own logger is kept to warnings.
_http_log = logging.getLogger("dripper.sms.twilio_http")
_http_log.setLevel(logging.WARNING)


class TwilioSender:
    """Sends through Twilio's Messaging REST API (or a server that speaks it)."""

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        *,
        from_number: str | None = None,
        messaging_service_sid: str | None = None,
        api_url: str = DEFAULT_API_URL,
        status_callback: str | None = None,
        timeout: float = 15.0,
    ) -> None:
        if not (from_number or messaging_service_sid):
            raise ValueError("TWILIO_FROM_NUMBER or TWILIO_MESSAGING_SERVICE_SID is required")
        self.from_number = from_number
        self.messaging_service_sid = messaging_service_sid
        self.status_callback = status_callback
        # A messaging service pools its numbers; its SID is the identity Twilio throttles.
        self.rate_key = messaging_service_sid or str(from_number)
        self._credentials = (account_sid, auth_token)
        self._api_url = api_url.rstrip("/")
        self._timeout = timeout
        self.client = self._build_client()
        # The client's requests.Session is not meant to be shared between threads: a
        # chunk delivery's parallel sends each use a client of their thread's own.
        self._local = threading.local()
        self._local.client = self.client

    #: ``send`` may be called from several threads at once (see _client).
    thread_safe = True

    def _build_client(self) -> Client:
        # No retries inside the HTTP layer: a POST repeated there after a lost answer
        # would send the text twice. Retries are the delivery task's, after a lookup.
        http_client = TwilioHttpClient(timeout=self._timeout, logger=_http_log, max_retries=0)
        client = Client(*self._credentials, http_client=http_client)
        # Settings come from our configuration only: with TWILIO_EDGE or TWILIO_REGION in
        # the environment the library rewrites the host, which would defeat TWILIO_API_URL.
        client.edge = None
        client.region = None
        # Every v2010 resource builds its URL from the Api domain's base_url.
        client.api.base_url = self._api_url
        return client

    def _client(self) -> Client:
        client = getattr(self._local, "client", None)
        if client is None:
            client = self._local.client = self._build_client()
        return client

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        sender: dict[str, str]
        if self.messaging_service_sid:
            # The service picks the number; also passing From would pin one of its numbers.
            sender = {"messaging_service_sid": self.messaging_service_sid}
        else:
            sender = {"from_": str(self.from_number)}
        callback = status_callback or self.status_callback
        try:
            message = self._client().messages.create(
                to=to,
                body=body,
                **sender,
                **({"status_callback": callback} if callback else {}),
            )
        except Exception as error:
            raise classify_exception(error) from error
        return SendResult(sid=str(message.sid), status=str(message.status or "queued"))

    def find_sent(
        self, to: str, body: str, since: datetime, *, exclude: Container[str] = ()
    ) -> SendResult | None:
        """Look the message up: ``GET …/Messages.json?To=…&DateSent>=…``.

        Twilio filters DateSent by day, and a message still queued has no date_sent yet,
        so the sent ones of the days since are read first and then the newest few to the
        number whatever their state; the match is on body and creation time.
        """
        earliest = since.astimezone(UTC) - CLOCK_SKEW
        try:
            sent = self._client().messages.list(
                to=to, date_sent_after=earliest.strftime("%Y-%m-%d"), limit=50
            )
            found = _match(sent, body, earliest, exclude)
            if found is None:
                recent = self._client().messages.list(to=to, limit=20)
                found = _match(recent, body, earliest, exclude)
        except Exception as error:
            classified = classify_exception(error)
            if isinstance(classified, RetryableSendError):
                # A lookup changes nothing at the provider: asking again is always safe.
                raise RetryableSendError(
                    f"lookup failed: {classified}", code=classified.code, status=classified.status
                ) from error
            raise classified from error
        return found


def _match(
    messages: list[object], body: str, earliest: datetime, exclude: Container[str]
) -> SendResult | None:
    # Oldest first: the first text of ours that fits is the one this row asked for.
    candidates = []
    for message in messages:
        sid = str(getattr(message, "sid", ""))
        created = getattr(message, "date_created", None) or getattr(message, "date_sent", None)
        if sid in exclude or getattr(message, "body", None) != body:
            continue
        if getattr(message, "direction", "outbound-api") == "inbound":
            continue
        if isinstance(created, datetime) and created < earliest:
            continue
        candidates.append((created or earliest, sid, str(getattr(message, "status", "queued"))))
    if not candidates:
        return None
    _, sid, status = min(candidates)
    return SendResult(sid=sid, status=status)
