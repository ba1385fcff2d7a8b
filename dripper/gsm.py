"""SMS encoding arithmetic: GSM-7 or UCS-2, and how many segments a text costs."""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass

# GSM 03.38 basic character set (one septet each) and its extension table (two each).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[]~|€\f")

#: What a careful editor would type instead of each common non-GSM character.
REPLACEMENTS = {
    "\u2018": "'",  # left single quote
    "\u2019": "'",  # right single quote / apostrophe
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u2013": "-",  # en dash
    "\u2014": "-",  # em dash
    "\u2012": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u00a0": " ",
    "\u2009": " ",
    "\u200b": "",
    "\u2022": "-",
    "\u00b7": "-",
    "`": "'",
    "\t": " ",
}

GSM7_SINGLE, GSM7_MULTI = 160, 153
UCS2_SINGLE, UCS2_MULTI = 70, 67
MAX_BODY = 1600  # Twilio's limit, in characters


@dataclass(frozen=True)
class Segments:
    """How a text travels: its encoding, its length in that encoding, and segments."""

    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int


def is_gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


def count_segments(text: str) -> Segments:
    """Count segments as a handset would: one character outside GSM-7 makes it all UCS-2."""
    if is_gsm7(text):
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = GSM7_SINGLE, GSM7_MULTI, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = UCS2_SINGLE, UCS2_MULTI, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else math.ceil(units / multi)
    return Segments(encoding, units, segments)


def describe(ch: str) -> str:
    """A character as an editor would recognise it: ``'—' (EM DASH)``."""
    name = unicodedata.name(ch, f"U+{ord(ch):04X}")
    return f"{ch!r} ({name})"


@dataclass(frozen=True)
class Offender:
    """A character that is not GSM-7, where it stands, and what to type instead."""

    char: str
    index: int
    replacement: str | None

    def __str__(self) -> str:
        fix = (
            f"use {self.replacement!r}"
            if self.replacement is not None
            else "remove it (no GSM-7 equivalent)"
        )
        return f"{describe(self.char)} at character {self.index + 1}: {fix}"


def non_gsm7(text: str) -> list[Offender]:
    """Every character that would force UCS-2, with a suggested replacement."""
    found = []
    for index, ch in enumerate(text):
        if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
            continue
        replacement = REPLACEMENTS.get(ch)
        if replacement is None:
            # Accented letters outside GSM-7 (ê, ç, ō): offer the bare letter.
            bare = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
            replacement = bare if bare and is_gsm7(bare) else None
        found.append(Offender(ch, index, replacement))
    return found


def to_gsm7(text: str) -> str:
    """Replace what has a GSM-7 equivalent; leave the rest (the caller decides)."""
    return "".join(
        o.replacement if (o := _offender(ch)) is not None and o.replacement is not None else ch
        for ch in text
    )


def _offender(ch: str) -> Offender | None:
    found = non_gsm7(ch)
    return found[0] if found else None
