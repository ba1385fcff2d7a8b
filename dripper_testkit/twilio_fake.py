"""A local, Twilio-compatible Messaging API for tests.

The real ``twilio`` client talks to it over HTTP on 127.0.0.1 (TWILIO_API_URL), so the
tests cover what production runs: the library's requests, its error parsing, its paging.

    fake = FakeTwilio().start()
    app = create_app({..., **fake.settings()})
    fake.throttle_next(2)            # the next two sends answer 429 / 20429
    fake.fail_next(21610)            # the next send answers 400 / 21610
    fake.delay_next(2.0)             # records the next message, answers too late
    fake.delay_next(2.0, listed_after=8.0)   # …and lists it only 8 s after it arrived
    fake.opt_out("+15005550123")     # that number answers 21610 from now on
    fake.outage(500)                 # every send answers 500 until fake.recover()
    fake.callback(sid, "delivered", to=client)   # a signed status callback

Errors use Twilio's JSON shape ``{code, message, more_info, status}``; lists use its
paging shape (``messages``, ``page``, ``page_size``, ``next_page_uri``…).
"""

from __future__ import annotations

import base64
import json
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import requests
from twilio.request_validator import RequestValidator

API_VERSION = "2010-04-01"
_MESSAGES = re.compile(
    rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>\w+))?\.json$"
)
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

#: Messages Twilio uses for the errors the fake produces.
ERROR_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21408: "Permission to send an SMS has not been enabled for the region indicated by the 'To' number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21614: "'To' number is not a valid mobile number",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    21701: "The Messaging Service Sid is invalid.",
    30003: "Unreachable destination handset",
    30006: "Landline or unreachable carrier",
}
_STATUS_FOR_CODE = {20003: 401, 20404: 404, 20429: 429, 20500: 500}


def _now() -> datetime:
    return datetime.now(UTC)


def _rfc2822(moment: datetime | None) -> str | None:
    return format_datetime(moment) if moment else None


@dataclass
class FakeMessage:
    """One message the fake accepted."""

    sid: str
    account_sid: str
    to: str
    body: str
    from_: str | None
    messaging_service_sid: str | None
    status_callback: str | None
    status: str
    date_created: datetime
    date_sent: datetime | None = None
    date_updated: datetime = field(default_factory=_now)
    error_code: int | None = None
    error_message: str | None = None
    #: time.time() from which lookups (list, fetch) see it: Twilio's lists lag behind.
    listed_from: float = 0.0

    def as_json(self) -> dict[str, Any]:
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{self.sid}.json"
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": self.body,
            "date_created": _rfc2822(self.date_created),
            "date_sent": _rfc2822(self.date_sent),
            "date_updated": _rfc2822(self.date_updated),
            "direction": "outbound-api",
            "error_code": self.error_code,
            "error_message": self.error_message,
            "from": self.from_,
            "messaging_service_sid": self.messaging_service_sid,
            "num_media": "0",
            "num_segments": str(max(1, -(-len(self.body) // 153))),
            "price": None,
            "price_unit": "USD",
            "sid": self.sid,
            "status": self.status,
            "subresource_uris": {"media": uri.replace(".json", "/Media.json")},
            "to": self.to,
            "uri": uri,
        }


@dataclass
class RecordedRequest:
    """Every request the fake received, for assertions (``method``, ``path``, ``params``)."""

    method: str
    path: str
    params: dict[str, str]
    at: float  # time.time() when it arrived


@dataclass
class _Fault:
    kind: str  # "error", "delay" or "drop"
    on: str  # "create" or "list"
    code: int | None = None
    http_status: int | None = None
    message: str | None = None
    seconds: float = 0.0
    listed_after: float = 0.0


class FakeTwilio:
    """A threaded HTTP server answering like Twilio's Messages resource."""

    def __init__(
        self,
        account_sid: str | None = None,
        auth_token: str | None = None,
        *,
        from_number: str = "+15005550006",
    ) -> None:
        self.account_sid = account_sid or "AC" + uuid.uuid4().hex
        self.auth_token = auth_token or uuid.uuid4().hex
        self.from_number = from_number
        #: Accepted messages move to "sent" at once (date_sent set), as a fast carrier would.
        self.auto_send = True
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._messages: list[FakeMessage] = []
        self._requests: list[RecordedRequest] = []
        self._faults: list[_Fault] = []
        self._opted_out: set[str] = set()
        self._landlines: set[str] = set()
        self._outage: _Fault | None = None
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------

    def start(self) -> FakeTwilio:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    @property
    def url(self) -> str:
        assert self._server is not None, "start() the fake first"
        host, port = self._server.server_address[:2]
        assert isinstance(host, str)
        return f"http://{host}:{port}"

    def reset(self) -> None:
        """Forget messages, requests, faults and numbers (between tests)."""
        with self._lock:
            self._messages.clear()
            self._requests.clear()
            self._faults.clear()
            self._opted_out.clear()
            self._landlines.clear()
            self._outage = None
            self.auto_send = True

    def settings(self, **overrides: Any) -> dict[str, Any]:
        """App settings that send through this fake with the real twilio client."""
        return {
            "SMS_BACKEND": "twilio",
            "TWILIO_ACCOUNT_SID": self.account_sid,
            "TWILIO_AUTH_TOKEN": self.auth_token,
            "TWILIO_FROM_NUMBER": self.from_number,
            "TWILIO_MESSAGING_SERVICE_SID": None,
            "TWILIO_API_URL": self.url,
            "TWILIO_TIMEOUT": 1.0,
            # The fake lists a message as soon as it has it (unless told otherwise).
            "TWILIO_LOOKUP_DELAY": 1.0,
            **overrides,
        }

    # -- what tests set up -----------------------------------------------------------

    def fail_next(
        self,
        code: int,
        *,
        count: int = 1,
        http_status: int | None = None,
        message: str | None = None,
        on: str = "create",
    ) -> None:
        """The next ``count`` requests (sends, or lists with ``on="list"``) answer this error."""
        status = http_status or _STATUS_FOR_CODE.get(code, 400)
        with self._lock:
            self._faults.extend(
                _Fault("error", on, code=code, http_status=status, message=message)
                for _ in range(count)
            )

    def throttle_next(self, count: int = 1) -> None:
        """The next sends answer 429 Too Many Requests (code 20429)."""
        self.fail_next(20429, count=count, http_status=429)

    def server_error_next(self, count: int = 1) -> None:
        """The next sends answer 500 (code 20500)."""
        self.fail_next(20500, count=count, http_status=500)

    def outage(self, http_status: int = 500) -> None:
        """Every send answers this (500 / 20500, or 429 / 20429) until ``recover()``."""
        code = 20429 if http_status == 429 else 20500
        with self._lock:
            self._outage = _Fault("error", "create", code=code, http_status=http_status)

    def recover(self) -> None:
        """The outage is over: sends are accepted again."""
        with self._lock:
            self._outage = None

    def delay_next(self, seconds: float, *, count: int = 1, listed_after: float = 0.0) -> None:
        """The next sends are recorded, then answered only after ``seconds`` (past the
        client's timeout): the ambiguous case, where the message went out. With
        ``listed_after``, lookups find the message only that many seconds after it
        arrived, as Twilio's lists may lag."""
        with self._lock:
            self._faults.extend(
                _Fault("delay", "create", seconds=seconds, listed_after=listed_after)
                for _ in range(count)
            )

    def drop_next(self, *, count: int = 1) -> None:
        """The next sends are recorded, then the connection is closed without an answer."""
        with self._lock:
            self._faults.extend(_Fault("drop", "create") for _ in range(count))

    def opt_out(self, number: str) -> None:
        """That number said STOP to the carrier: sends to it answer 21610."""
        with self._lock:
            self._opted_out.add(number)

    def landline(self, number: str) -> None:
        """That number is a landline: sends to it answer 21614."""
        with self._lock:
            self._landlines.add(number)

    # -- what tests look at ----------------------------------------------------------

    @property
    def messages(self) -> list[FakeMessage]:
        with self._lock:
            return list(self._messages)

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def sends(self) -> list[RecordedRequest]:
        """The POSTs to Messages.json, accepted or not."""
        return [r for r in self.requests if r.method == "POST"]

    def lookups(self) -> list[RecordedRequest]:
        """The GETs of the Messages list."""
        return [r for r in self.requests if r.method == "GET"]

    def sent_to(self, number: str) -> list[FakeMessage]:
        return [m for m in self.messages if m.to == number]

    def message(self, sid: str) -> FakeMessage:
        with self._lock:
            return next(m for m in self._messages if m.sid == sid)

    def set_status(
        self,
        sid: str,
        status: str,
        error_code: int | None = None,
        error_message: str | None = None,
    ) -> FakeMessage:
        """Move a recorded message along (sent, delivered, undelivered…)."""
        with self._lock:
            message = next(m for m in self._messages if m.sid == sid)
            message.status = status
            message.date_updated = _now()
            if status in {"sent", "delivered", "undelivered", "read"} and not message.date_sent:
                message.date_sent = message.date_updated
            message.error_code = error_code
            message.error_message = error_message or (
                ERROR_MESSAGES.get(error_code) if error_code else None
            )
            return message

    def callback_request(
        self,
        sid: str,
        status: str,
        *,
        error_code: int | None = None,
        error_message: str | None = None,
        url: str | None = None,
    ) -> tuple[str, dict[str, str], dict[str, str]]:
        """The status callback Twilio would POST: (url, form parameters, headers)."""
        message = self.set_status(sid, status, error_code, error_message)
        target = url or message.status_callback
        if not target:
            raise ValueError(f"message {sid} was sent without a StatusCallback")
        params = {
            "AccountSid": self.account_sid,
            "ApiVersion": API_VERSION,
            "From": message.from_ or "",
            "MessageSid": sid,
            "MessageStatus": status,
            "SmsSid": sid,
            "SmsStatus": status,
            "To": message.to,
        }
        if message.messaging_service_sid:
            params["MessagingServiceSid"] = message.messaging_service_sid
        if error_code is not None:
            params["ErrorCode"] = str(error_code)
        signature = RequestValidator(self.auth_token).compute_signature(target, params)
        return target, params, {"X-Twilio-Signature": signature}

    def callback(
        self,
        sid: str,
        status: str,
        *,
        to: Any = None,
        error_code: int | None = None,
        error_message: str | None = None,
        url: str | None = None,
    ) -> Any:
        """POST a signed status callback, to a Flask test client (``to``) or over HTTP.

        With a test client the request goes to the callback URL's path; the signature
        is over the full public URL, as Twilio computes it.
        """
        target, params, headers = self.callback_request(
            sid, status, error_code=error_code, error_message=error_message, url=url
        )
        if to is not None:
            parts = urlsplit(target)
            return to.post(
                parts.path + (f"?{parts.query}" if parts.query else ""),
                data=params,
                headers=headers,
                base_url=f"{parts.scheme}://{parts.netloc}",
            )
        return requests.post(target, data=params, headers=headers, timeout=5)

    # -- the API ---------------------------------------------------------------------

    def _next_fault(self, on: str) -> _Fault | None:
        with self._lock:
            if self._outage is not None and self._outage.on == on:
                return self._outage
            for index, fault in enumerate(self._faults):
                if fault.on == on:
                    return self._faults.pop(index)
        return None

    def _authorized(self, handler: BaseHTTPRequestHandler, account: str) -> bool:
        header = handler.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return user == self.account_sid == account and password == self.auth_token

    def handle(self, handler: _Handler, method: str) -> None:
        parts = urlsplit(handler.path)
        if method == "POST":
            length = int(handler.headers.get("Content-Length") or 0)
            raw = handler.rfile.read(length).decode()
        else:
            raw = parts.query
        params = {k: v[-1] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        with self._lock:
            self._requests.append(RecordedRequest(method, parts.path, params, time.time()))

        match = _MESSAGES.match(parts.path)
        if match is None:
            return handler.answer(404, _error(20404, 404))
        if not self._authorized(handler, match["account"]):
            return handler.answer(401, _error(20003, 401))
        if method == "GET" and match["sid"]:
            return self._fetch(handler, match["sid"])
        if method == "GET":
            return self._list(handler, parts.path, params)
        if match["sid"]:
            return handler.answer(404, _error(20404, 404))
        return self._create(handler, params)

    def _create(self, handler: _Handler, params: dict[str, str]) -> None:
        fault = self._next_fault("create")
        if fault and fault.kind == "error":
            status = fault.http_status or 400
            return handler.answer(status, _error(fault.code or 0, status, fault.message))
        problem = self._validate(params)
        if problem is not None:
            return handler.answer(_STATUS_FOR_CODE.get(problem, 400), _error(problem))

        service = params.get("MessagingServiceSid") or None
        created = _now()
        message = FakeMessage(
            sid="SM" + uuid.uuid4().hex,
            account_sid=self.account_sid,
            to=params["To"],
            body=params["Body"],
            from_=params.get("From") or None,
            messaging_service_sid=service,
            status_callback=params.get("StatusCallback") or None,
            # A messaging service first accepts, then picks a number and queues.
            status="accepted" if service and not params.get("From") else "queued",
            date_created=created,
            date_updated=created,
            listed_from=time.time() + (fault.listed_after if fault else 0.0),
        )
        answer = message.as_json()
        with self._lock:
            self._messages.append(message)
            if self.auto_send:
                message.status, message.date_sent = "sent", created

        if fault and fault.kind == "drop":
            return handler.drop()
        if fault and fault.kind == "delay":
            # Twilio has the message; its answer is lost to the client's timeout.
            self._stopping.wait(fault.seconds)
        return handler.answer(201, answer)

    def _validate(self, params: dict[str, str]) -> int | None:
        to = params.get("To", "")
        if not to:
            return 21604
        if not _E164.match(to):
            return 21211
        service = params.get("MessagingServiceSid")
        sender = params.get("From")
        if not sender and not service:
            return 21603
        if service and not re.fullmatch(r"MG[0-9a-f]{32}", service):
            return 21701
        if sender and not _E164.match(sender):
            return 21212
        body = params.get("Body")
        if not body and not params.get("MediaUrl") and not params.get("ContentSid"):
            return 21602
        if body and len(body) > 1600:
            return 21617
        with self._lock:
            if to in self._opted_out:
                return 21610
            if to in self._landlines:
                return 21614
        return None

    def _fetch(self, handler: _Handler, sid: str) -> None:
        with self._lock:
            found = next(
                (m for m in self._messages if m.sid == sid and m.listed_from <= time.time()),
                None,
            )
            answer = found.as_json() if found else None
        if answer is None:
            return handler.answer(404, _error(20404, 404))
        return handler.answer(200, answer)

    def _list(self, handler: _Handler, path: str, params: dict[str, str]) -> None:
        fault = self._next_fault("list")
        if fault and fault.kind == "error":
            status = fault.http_status or 400
            return handler.answer(status, _error(fault.code or 0, status, fault.message))
        try:
            page_size = min(1000, max(1, int(params.get("PageSize", 50))))
            page = max(0, int(params.get("Page", 0)))
            checks = _date_sent_checks(params)
        except ValueError:
            return handler.answer(400, _error(20001, 400, "Invalid filter"))
        with self._lock:
            chosen = [
                m
                for m in self._messages
                if m.listed_from <= time.time()
                and (not params.get("To") or m.to == params["To"])
                and (not params.get("From") or m.from_ == params["From"])
                and all(check(m.date_sent) for check in checks)
            ]
            chosen.sort(key=lambda m: (m.date_sent or m.date_created, m.sid), reverse=True)
            records = [m.as_json() for m in chosen[page * page_size : (page + 1) * page_size]]
        query = {k: v for k, v in params.items() if k not in {"Page", "PageToken"}}

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode({**query, 'PageSize': page_size, 'Page': number})}"

        more = (page + 1) * page_size < len(chosen)
        handler.answer(
            200,
            {
                "messages": records,
                "end": page * page_size + max(0, len(records) - 1),
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if more else None,
                "page": page,
                "page_size": page_size,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "start": page * page_size,
                "uri": page_uri(page),
            },
        )


def _error(code: int, status: int = 400, message: str | None = None) -> dict[str, Any]:
    return {
        "code": code,
        "message": message or ERROR_MESSAGES.get(code, "Error"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def _date_sent_checks(params: dict[str, str]) -> list[Any]:
    """DateSent, DateSent< and DateSent> (meaning on/before and on/after), by day or time."""
    checks = []
    for key, compare in (
        ("DateSent", lambda a, b: a == b),
        ("DateSent<", lambda a, b: a <= b),
        ("DateSent>", lambda a, b: a >= b),
    ):
        if key not in params:
            continue
        text = params[key]
        if "T" in text:
            bound: date | datetime = datetime.fromisoformat(text.replace("Z", "+00:00"))
            project = lambda sent: sent  # noqa: E731
        else:
            bound = date.fromisoformat(text)
            project = lambda sent: sent.date()  # noqa: E731
        # A message not sent yet (queued) has no date_sent and matches no DateSent filter.
        checks.append(
            lambda sent, c=compare, b=bound, p=project: sent is not None and c(p(sent), b)
        )
    return checks


class _Handler(BaseHTTPRequestHandler):
    fake: FakeTwilio
    protocol_version = "HTTP/1.1"
    # Headers and body go out in two sends: with Nagle's algorithm on, the body waits
    # for the client's delayed ACK (~40 ms a request on a kept-alive connection).
    disable_nagle_algorithm = True

    def do_POST(self) -> None:
        self.fake.handle(self, "POST")

    def do_GET(self) -> None:
        self.fake.handle(self, "GET")

    def answer(self, status: int, payload: dict[str, Any]) -> None:
        body = json.dumps(payload).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting, as intended

    def drop(self) -> None:
        self.close_connection = True

    def log_message(self, format: str, *args: Any) -> None:
        pass  # quiet: the recorded requests are the log
