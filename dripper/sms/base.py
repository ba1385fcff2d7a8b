"""The sender interface: one small door, several implementations chosen by SMS_BACKEND."""

from __future__ import annotations

from dataclasses import dataclass
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
    """Worth trying again later: 429/20429, 5xx."""


class AmbiguousSendError(RetryableSendError):
    """The request may have reached the provider (timeout, dropped connection):
    look the message up before sending it again."""


class PermanentSendError(SendError):
    """Trying again will not help: opted out, invalid or landline number, and the rest."""


class Sender(Protocol):
    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        """Hand one message to the provider; raise a SendError subclass when it refuses."""
        ...

    def find_sent(self, to: str, body: str, since_epoch: float) -> SendResult | None:
        """A message already accepted for ``to`` with this body since then, if any."""
        ...
