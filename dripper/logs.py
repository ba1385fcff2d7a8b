"""Logging that keeps people's numbers and words out of the log.

Phone numbers are masked wherever they appear in a record, its traceback included;
message bodies are only ever logged at debug level, by convention of every caller.
The filter sits on the handlers: ``configure_logging`` puts it on the app's, and the
Celery signals below put it back on the handlers Celery's worker and beat install
in place of ours.
"""

from __future__ import annotations

import logging
import re
from typing import Any

# A digit, then digits and the separators people write numbers with, ending on a digit.
# After a "+" (or its URL encoding) a number is a number wherever it is: glued to a prefix
# ("whatsapp:+1…", "to=+1…") or to what follows. Without one, a run of digits inside a word
# is an identifier (a task's UUID, a message SID), not a number, and is left readable;
# so is a run glued to one by a hyphen (the groups of a UUID).
_PHONE = re.compile(
    r"(?:\+|%2[Bb])\d[\d\s().-]{5,}\d"
    r"|(?<![A-Za-z0-9-])\d[\d\s().-]{5,}\d(?![A-Za-z0-9-])"
)
_PLUS = ("+", "%2B", "%2b")
#: Digits shown at the end of a masked number: enough to tell two apart, too few to dial.
SHOWN_DIGITS = 4


def mask_phone(phone: str | None) -> str:
    """``+14155550123`` -> ``•••0123``: the last four digits, never the rest."""
    if not phone:
        return "-"
    digits = re.sub(r"\D", "", phone)
    if len(digits) <= SHOWN_DIGITS + 2:
        return "•••"
    return f"•••{digits[-SHOWN_DIGITS:]}"


def _mask_match(match: re.Match[str]) -> str:
    text = match.group(0)
    plus = next((p for p in _PLUS if text.startswith(p)), "")
    digits = re.sub(r"\D", "", text[len(plus) :])
    # E.164 numbers have 7 digits and more after the "+"; without one, 8 and more
    # (a national number). Shorter runs are counts, years and durations.
    if len(digits) < (7 if plus else 8):
        return text
    return mask_phone(digits)


# PostgreSQL quotes the values of a refused row in its error's DETAIL line, whatever the
# engine's hide_parameters says: a whole row (a message's body) or a unique key (a number).
_SQL_DETAIL = re.compile(r"(Failing row contains |Key \([^)\n]*\)=)\(.*\)")


def mask_text(text: str) -> str:
    """``text`` with everything that looks like a phone number masked, and the values in a
    database error's DETAIL line left out."""
    return _PHONE.sub(_mask_match, _SQL_DETAIL.sub(r"\1(…)", text))


class MaskingFilter(logging.Filter):
    """Masks anything that looks like a phone number in a record and its traceback."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_text(message)
        if masked != message:
            record.msg, record.args = masked, None
        # Formatters print ``exc_text`` when it is set, so the traceback is masked once here.
        if record.exc_info and not record.exc_text:
            record.exc_text = self._formatter.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def mask_handlers(logger: logging.Logger) -> None:
    """Put the masking filter on every handler of ``logger`` that lacks one."""
    for handler in logger.handlers:
        if not any(isinstance(f, MaskingFilter) for f in handler.filters):
            handler.addFilter(MaskingFilter())


def mask_celery_handlers(logger: logging.Logger | None = None, **_: Any) -> None:
    """Celery's ``after_setup_logger`` / ``after_setup_task_logger`` receiver.

    Celery's worker and beat replace the root logger's handlers with their own (and give
    the task logger its own), so the filter ``configure_logging`` installed is gone by then.
    """
    if logger is not None:
        mask_handlers(logger)


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
    root.addHandler(handler)
    mask_handlers(root)
    _configured = True
