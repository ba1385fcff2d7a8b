"""Logging that keeps people's numbers and words out of the log.

Phone numbers are masked wherever they appear in a record; message bodies are only
ever logged at debug level, by convention of every caller.
"""

from __future__ import annotations

import logging
import re

_PHONE = re.compile(r"\+?\d[\d\s().-]{6,}\d")


def mask_phone(phone: str | None) -> str:
    """``+14155550123`` -> ``+1415•••0123``: enough to tell numbers apart in a log."""
    if not phone:
        return "-"
    digits = phone.strip()
    if len(digits) <= 6:
        return "•" * len(digits)
    return f"{digits[:5]}•••{digits[-4:]}"


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    digits = re.sub(r"\D", "", text)
    if len(digits) < 8:  # years, durations, ids: not a phone number
        return text
    return mask_phone(("+" if text.startswith("+") else "") + digits)


def mask_text(text: str) -> str:
    return _PHONE.sub(_mask_match, text)


class MaskingFilter(logging.Filter):
    """Masks anything that looks like a phone number in the final log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        return True


_configured = False


def configure_logging(level: str = "INFO") -> None:
    """One handler on the root logger with the masking filter, set up once per process."""
    global _configured
    root = logging.getLogger()
    root.setLevel(level.upper())
    if _configured:
        return
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(MaskingFilter())
    root.addHandler(handler)
    for existing in root.handlers:
        existing.addFilter(MaskingFilter())
    _configured = True
