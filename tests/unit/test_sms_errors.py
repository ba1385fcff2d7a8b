"""Provider errors: which are retried, which are looked up, which stop texting a person."""

from __future__ import annotations

import http.client

import pytest
import requests
from celery.exceptions import SoftTimeLimitExceeded
from twilio.base.exceptions import TwilioRestException
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

from dripper.sms.base import AmbiguousSendError, PermanentSendError, RetryableSendError
from dripper.sms.delivery import BACKOFF_MAX, retry_delay
from dripper.sms.errors import classify_exception

PHONE = "+15005550123"
URI = "/2010-04-01/Accounts/AC1/Messages.json"


def rest(status: int, code: int | None) -> TwilioRestException:
    return TwilioRestException(status, URI, msg="Unable to create record", code=code, method="POST")


def connection_error(reason: Exception) -> requests.exceptions.ConnectionError:
    return requests.exceptions.ConnectionError(MaxRetryError(None, URI, reason))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (rest(429, 20429), RetryableSendError),
        (rest(400, 20429), RetryableSendError),
        (rest(500, 20500), RetryableSendError),
        (rest(503, None), RetryableSendError),
        (rest(400, 21611), RetryableSendError),
        (rest(400, 21610), PermanentSendError),
        (rest(400, 21211), PermanentSendError),
        (rest(401, 20003), PermanentSendError),
        (rest(404, None), PermanentSendError),
        (requests.exceptions.ReadTimeout(), AmbiguousSendError),
        (
            connection_error(ProtocolError("aborted", http.client.RemoteDisconnected())),
            AmbiguousSendError,
        ),
        (requests.exceptions.ChunkedEncodingError(), AmbiguousSendError),
        (SoftTimeLimitExceeded(), AmbiguousSendError),
        (requests.exceptions.ConnectTimeout(), RetryableSendError),
        (connection_error(NewConnectionError(None, "refused")), RetryableSendError),  # type: ignore[arg-type]
    ],
)
def test_provider_errors_are_classified(error: Exception, kind: type) -> None:
    classified = classify_exception(error)

    assert type(classified) is kind


def test_classified_error_keeps_code_and_status() -> None:
    classified = classify_exception(rest(400, 21610))

    assert (classified.code, classified.status) == (21610, 400)


def test_retries_back_off_with_jitter_and_wait_as_long_as_asked() -> None:
    first = [retry_delay(0) for _ in range(50)]
    fifth = [retry_delay(4) for _ in range(50)]

    assert all(2.5 <= d <= 5 for d in first) and len(set(first)) > 1
    assert all(40 <= d <= 80 for d in fifth)
    assert all(d <= BACKOFF_MAX for d in (retry_delay(n) for n in range(20)))
    assert retry_delay(0, retry_after=30) == 30
