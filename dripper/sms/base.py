"""The sender interface: one small door, several implementations chosen by SMS_BACKEND."""

from __future__ import annotations

from collections.abc import Container
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True)
class SendResult:
    """What the provider said about a message it accepted."""

    sid: str
    status: str  # a MessageStatus value: queued, sent, accepted…


class SendError(Exception):
    """The provider did not accept the message."""

    def __init__(self, message: str, *, code: int | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.code = code  # Twilio's error code (21610, 20429…)
        self.status = status  # HTTP status, when there was an answer


class RetryableSendError(SendError):
    """Worth trying again later: 429/20429, 5xx, 21611, a refused connection."""

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, code=code, status=status)
        self.retry_after = retry_after  # seconds, when the cause says how long to wait


class AmbiguousSendError(RetryableSendError):
    """The request may have reached the provider (timeout, dropped connection):
    look the message up before sending it again."""


class PermanentSendError(SendError):
    """Trying again will not help: opted out, invalid or landline number, and the rest."""


class Sender(Protocol):
    """What the delivery task needs from a provider."""

    #: Names the sending identity (number, messaging service) whose throughput SEND_RATE is.
    rate_key: str

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        """Hand one message to the provider; raise a SendError subclass when it refuses."""
        ...

    def find_sent(
        self, to: str, body: str, since: datetime, *, exclude: Container[str] = ()
    ) -> SendResult | None:
        """A message the provider accepted for ``to`` with this body since then, if any.

        ``exclude`` holds sids already accounted for (identical texts sent earlier), so a
        lookup never adopts another row's message.
        """
        ...
