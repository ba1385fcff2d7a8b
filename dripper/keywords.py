"""Exact SMS keywords and commands with arguments (docs/INTERFACE.md: SMS keywords).

A keyword counts only when it is the whole message; case, surrounding spaces and
punctuation are ignored. Plain-language forms ("can we take a break") are the
classifier's job, not this module's.
"""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from datetime import time
from enum import StrEnum


class Keyword(StrEnum):
    """The kinds of exact keyword a message can be."""

    JOIN = "join"  # JOIN, SUBSCRIBE, or a course's own keyword
    START = "start"  # START: subscribe, or opt back in after an opt-out
    UNSTOP = "unstop"
    YES = "yes"
    STOP = "stop"
    HELP = "help"
    PAUSE = "pause"
    RESUME = "resume"
    MORE = "more"
    TIME = "time"


STOP_WORDS = frozenset(
    {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
)
_SIMPLE = {
    "JOIN": Keyword.JOIN,
    "SUBSCRIBE": Keyword.JOIN,
    "START": Keyword.START,
    "UNSTOP": Keyword.UNSTOP,
    "YES": Keyword.YES,
    "HELP": Keyword.HELP,
    "INFO": Keyword.HELP,
    "PAUSE": Keyword.PAUSE,
    "RESUME": Keyword.RESUME,
    "MORE": Keyword.MORE,
    "NEXT": Keyword.MORE,
    **{word: Keyword.STOP for word in STOP_WORDS},
}

DEFAULT_PAUSE_DAYS = 7
MAX_PAUSE_DAYS = 90

# Punctuation people wrap around a keyword ("STOP!", "'yes'", "help?"), plus the
# curly quotes phones substitute for straight ones.
_WRAPPING = string.punctuation + "\u2018\u2019\u201c\u201d\u00a1\u00bf \t\r\n\u00a0"
_PAUSE = re.compile(r"^PAUSE\s+(\d{1,3})(?:\s*(?:D|DAY|DAYS))?$")
_TIME = re.compile(r"^TIME(?:\s+(.+))?$")
_CLOCK = re.compile(
    r"^(?P<hour>\d{1,2})(?:\s*[:.h]\s*(?P<minute>\d{2}))?\s*(?P<ampm>A\.?M\.?|P\.?M\.?|A|P)?$"
)


@dataclass(frozen=True)
class Command:
    """A recognised keyword, with its argument where it takes one.

    ``error`` is set when the keyword was recognised but its argument was not
    (``TIME 25:00``, ``PAUSE 500``), so the reply can say how to write it.
    """

    keyword: Keyword
    word: str
    days: int | None = None
    at: time | None = None
    error: str | None = None


def keyword_form(text: str) -> str:
    """Upper-case a message and strip the spaces and punctuation around it."""
    return " ".join(text.strip(_WRAPPING).upper().split())


def read_time_of_day(text: str) -> time | None:
    """Read a time of day as people text it: ``7pm``, ``19:30``, ``7:30 am``, ``7.30pm``."""
    match = _CLOCK.match(keyword_form(text))
    if not match:
        return None
    hour, minute = int(match["hour"]), int(match["minute"] or 0)
    ampm = (match["ampm"] or "").replace(".", "")
    if minute > 59:
        return None
    if ampm:
        if not 1 <= hour <= 12:
            return None
        hour = hour % 12 + (12 if ampm.startswith("P") else 0)
    elif hour > 23:
        return None
    return time(hour, minute)


def parse_command(text: str, course_keywords: frozenset[str] = frozenset()) -> Command | None:
    """Return the command a whole message spells, or ``None`` for free text."""
    word = keyword_form(text)
    if not word:
        return None
    if word in _SIMPLE:
        keyword = _SIMPLE[word]
        days = DEFAULT_PAUSE_DAYS if keyword is Keyword.PAUSE else None
        return Command(keyword, word, days=days)
    if word in course_keywords:
        return Command(Keyword.JOIN, word)
    if match := _PAUSE.match(word):
        days = int(match[1])
        if not 1 <= days <= MAX_PAUSE_DAYS:
            return Command(Keyword.PAUSE, "PAUSE", error=f"a pause is 1 to {MAX_PAUSE_DAYS} days")
        return Command(Keyword.PAUSE, "PAUSE", days=days)
    if match := _TIME.match(word):
        argument = match[1] or ""
        at = read_time_of_day(argument) if argument else None
        if at is not None:
            return Command(Keyword.TIME, "TIME", at=at)
        if _is_sentence(argument):
            # "time to let go of trying to fix him" is a reply, not a botched TIME command.
            return None
        return Command(Keyword.TIME, "TIME", error="a time like 7pm or 19:30")
    return None


def _is_sentence(argument: str) -> bool:
    """Whether the words after "TIME" read as ordinary text rather than an attempt at a time.

    A bare "TIME", an argument with a digit ("25:00", "7:75pm") or a single word ("soon") is
    taken as a try at the keyword, so the reply can say how to write it. Two or more words with
    no digit ("to let go i guess") are free text.
    """
    return not any(ch.isdigit() for ch in argument) and len(argument.split()) >= 2
