"""The development sender: records messages as sent and prints them instead of texting."""

from __future__ import annotations

import sys
import uuid
from collections.abc import Container
from datetime import datetime
from typing import TextIO

from dripper.logs import mask_phone
from dripper.sms.base import SendResult


class ConsoleSender:
    """Prints ``to <masked number>: <body>`` on stdout; nothing leaves the machine.

    Printing the body is the point of this backend, so it goes to stdout and never
    through logging (where bodies are kept out of every level above debug).
    """

    rate_key = "console"

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream

    def send(self, to: str, body: str, *, status_callback: str | None = None) -> SendResult:
        stream = self._stream or sys.stdout
        print(f"to {mask_phone(to)}: {body}", file=stream, flush=True)
        return SendResult(sid="CO" + uuid.uuid4().hex, status="sent")

    def find_sent(
        self, to: str, body: str, since: datetime, *, exclude: Container[str] = ()
    ) -> SendResult | None:
        # A print cannot time out half-way: there is never an outcome to look up.
        return None
