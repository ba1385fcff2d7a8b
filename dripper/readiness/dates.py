"""Lengths and times of day read from plain language, in English and Spanish.

``pause_days`` reads how long a break a reply asks for ("till monday", "dos semanas");
``reschedule_time`` reads the time of day a reply asks lessons to come at ("after work", "7pm",
"a las 8 de la noche"). ``NUM`` is the spelling of a count that the command patterns share.
"""

from __future__ import annotations

import re
from datetime import date, time, timedelta

from dripper.keywords import DEFAULT_PAUSE_DAYS, MAX_PAUSE_DAYS
from dripper.readiness.text import pattern_form, rx

# --- pause lengths ---------------------------------------------------------------------------
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "couple": 2,
    "a couple": 2,
    "a couple of": 2,
    "couple of": 2,
    "few": 3,
    "a few": 3,
    "several": 5,
    "una": 1,
    "un": 1,
    "dos": 2,
    "tres": 3,
}
_UNIT_DAYS = {
    "day": 1,
    "night": 1,
    "week": 7,
    "wk": 7,
    "weekend": 2,
    "month": 30,
    "mo": 30,
    "dia": 1,
    "día": 1,
    "semana": 7,
    "mes": 30,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPANISH_WEEKDAYS = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAY_INDEX = {
    **{name: i for i, name in enumerate(_WEEKDAYS)},
    **{name: i for i, name in enumerate(_SPANISH_WEEKDAYS)},
    **{"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4},
    **{"sat": 5, "sun": 6},
}
_MONTH_INDEX = {
    **{name: i + 1 for i, name in enumerate(_MONTHS)},
    **{name[:3]: i + 1 for i, name in enumerate(_MONTHS)},
    "sept": 9,
}
# A count as people spell it ("3", "a couple of", "dos"); the pause patterns use it too.
NUM = r"""(?:\d{1,3}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+few|few|several|an?|one|two|three|
    four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|una?|dos|tres)"""
_DURATION = rx(
    rf"""(?<![\w:])(?P<num>{NUM})?\s*(?:more\s+|or\s+two\s+)?(?P<unit>days?|nights?|weeks?|wks?|
    weekends?|months?|mos?|d[ií]as?|semanas?|mes(?:es)?)\b"""
)
_UNTIL = rx(
    r"""\b(?:till|til|until|untill|'til|through|thru|after|back\s+(?:on|in)|hasta(?:\s+el)?|
    start\s+again\s+on|by)\s+(?:next\s+|this\s+|the\s+|el\s+)?(?:start\s+of\s+(?:next\s+)?)?
    (?P<when>monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|
    fri|sat|sun|lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|tomorrow|weekend|
    week|month|january|february|march|april|may|june|july|august|september|october|november|
    december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|holidays|christmas|new\s+year'?s?|
    (?P<day>\d{1,2})(?:st|nd|rd|th)?)\b"""
)
_REST_OF_MONTH = rx(r"\b(?:rest|end)\s+of\s+(?:the|this)\s+month\b")


def _count(word: str | None) -> int:
    if not word:
        return 1
    word = " ".join(word.split())
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _next_date(today: date, month: int, day: int) -> date:
    """The first date on or after tomorrow with this month and day (clamped to the month's end)."""
    for year in (today.year, today.year + 1):
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        candidate = date(year, month, min(day, last))
        if candidate > today:
            return candidate
    return today + timedelta(days=DEFAULT_PAUSE_DAYS)


def _days_until(match: re.Match[str], today: date) -> int | None:
    when = " ".join(match["when"].split())
    if match["day"]:
        # "until the 15th": the next date with that day of the month.
        day = int(match["day"])
        if not 1 <= day <= 31:
            return None
        month = today.month if day > today.day else today.month % 12 + 1
        return (_next_date(today, month, day) - today).days
    plain = when.replace("é", "e").replace("á", "a")
    if plain in _WEEKDAY_INDEX:
        return (_WEEKDAY_INDEX[plain] - today.weekday()) % 7 or 7
    if when in _MONTH_INDEX:
        return (_next_date(today, _MONTH_INDEX[when], 1) - today).days
    if when == "tomorrow":
        return 1
    if when == "christmas" or (when == "holidays" and today.month == 12):
        return (_next_date(today, 12, 26) - today).days
    if when.startswith("new year") or when == "holidays":
        return (_next_date(today, 1, 2) - today).days
    if when == "weekend":
        # Back on Monday: the days left until then.
        return (0 - today.weekday()) % 7 or 7
    if when == "week":
        return 7
    if when == "month":
        # "until next month": back on the first of it.
        return (_next_date(today, today.month % 12 + 1, 1) - today).days
    return None


def pause_days(text: str, today: date) -> int:
    """How many days a plain-language pause asks for; the keyword default when it names none."""
    norm = pattern_form(text)
    if match := _UNTIL.search(norm):
        days = _days_until(match, today)
        if days is not None:
            return max(1, min(days, MAX_PAUSE_DAYS))
    if re.search(r"\b(?:this|the)\s+weekend\b", norm):
        return (0 - today.weekday()) % 7 or 7
    if _REST_OF_MONTH.search(norm):
        return max(1, 30 - today.day)
    for match in _DURATION.finditer(norm):
        unit = match["unit"].rstrip("s")
        unit = {"mese": "mes"}.get(unit, unit)
        if unit not in _UNIT_DAYS:
            continue
        days = _count(match["num"]) * _UNIT_DAYS[unit]
        return max(1, min(days, MAX_PAUSE_DAYS))
    if re.search(r"\bskip\s+(?:today|tonight)\b", norm):
        return 1
    if re.search(r"\bskip\s+tomorrow\b|\bno\s+\w+\s+tomorrow\b", norm):
        return 2
    return DEFAULT_PAUSE_DAYS


# --- times of day ----------------------------------------------------------------------------
# A named part of the day maps to the hour the issue asks for; pacing still applies quiet hours.
_PART_OF_DAY = {
    "morning": time(9, 0),
    "mornings": time(9, 0),
    "mañana": time(9, 0),
    "breakfast": time(8, 0),
    "noon": time(12, 0),
    "lunch": time(12, 0),
    "lunchtime": time(12, 0),
    "midday": time(12, 0),
    "afternoon": time(14, 0),
    "afternoons": time(14, 0),
    "tarde": time(14, 0),
    "evening": time(19, 0),
    "evenings": time(19, 0),
    "dinner": time(18, 0),
    "night": time(20, 0),
    "nights": time(20, 0),
    "noche": time(20, 0),
    "tonight": time(19, 0),
    "bedtime": time(21, 0),
}
_EVENING = re.compile(r"\b(?:night|nights|evening|evenings|tonight|pm|noche|tarde)\b")
_MORNING = re.compile(r"\b(?:morning|mornings|am|mañana|breakfast)\b")
_COMPLAINT = re.compile(
    r"\s*(?:is|are|'s|'re)?\s*(?:too\s+\w+|brutal|bad|awful|terrible|rough|hard|chaos|crazy|busy|"
    r"no\s+good|not\s+good|impossible|the\s+worst)\b"
)
_WANTED_PART = re.compile(
    r"\b(?:to|in\s+the|at|around|during\s+the|for|by)\s+(?P<part>mornings?|afternoons?|evenings?|"
    r"nights?|lunch(?:time)?|noon|midday|bedtime|dinner|tonight)\b"
)
_PHRASE_TIMES = {"after work": time(18, 0), "after school": time(15, 0)}
# A clock time in running text. A bare number only counts after a word that introduces a time
# ("at 7", "around 4", "make it 7", "a las 8") and never before a unit ("3 days", "14 hrs").
_CLOCK_IN_TEXT = rx(
    r"""(?:(?P<lead>\b(?:at|around|about|by|after|before|@|to|till|til|until|like|is|be|it|than|
    instead\s+of|las|time:?)\s+)|(?<![\w:$#]))(?P<hour>\d{1,2})(?:\s*[:.h]\s*(?P<minute>\d{2}))?\s*
    (?P<ampm>a\.?m\.?|p\.?m\.?|(?<=\d)a\b|(?<=\d)p\b)?(?![\d%$])(?!\s*(?:days?|weeks?|months?|years?|
    yrs?|hrs?|hours?|mins?|minutes?|times?|x\b|yo\b|st\b|nd\b|rd\b|th\b|kids?|calls?|lessons?|more))
    (?:\s*(?P<part>tonight|at\s+night|in\s+the\s+(?:evening|morning|afternoon)|de\s+la\s+(?:mañana|
    tarde|noche)|eastern|central|pacific))?"""
)


def reschedule_time(text: str) -> time | None:
    """The time of day a reschedule request names, or ``None`` when it names none.

    A bare hour is read the way people mean it: 1-6 is afternoon or evening ("til 3"), and
    "at night", "tonight" or "pm" move an hour into the evening. A time being complained about
    ("6am is brutal", "instead of 8") is not the one asked for.
    """
    norm = pattern_form(text)
    for match in _CLOCK_IN_TEXT.finditer(norm):
        if not (match["lead"] or match["ampm"] or match["minute"] or match["part"]):
            continue
        if (match["lead"] or "").strip().startswith("instead") or _COMPLAINT.match(
            norm, match.end()
        ):
            continue
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        if hour > 23 or minute > 59:
            continue
        ampm = (match["ampm"] or "").replace(".", "")
        part = match["part"] or ""
        evening = ampm.startswith("p") or any(
            w in part for w in ("night", "evening", "tarde", "noche")
        )
        if ampm or part:
            if hour > 12 and ampm:
                continue
            if evening and hour < 12:
                hour += 12
            elif ampm.startswith("a") and hour == 12:
                hour = 0
        elif _EVENING.search(norm) and hour < 12:
            hour += 12
        elif hour <= 6 and not minute and not _MORNING.search(norm):
            hour += 12
        if hour > 23:
            continue
        return time(hour, minute)
    for phrase, at in _PHRASE_TIMES.items():
        if phrase in norm:
            return at
    # A part of the day asked for ("switch me to mornings") beats one complained about.
    if (wanted := _WANTED_PART.search(norm)) and wanted["part"] in _PART_OF_DAY:
        return _PART_OF_DAY[wanted["part"]]
    for match in re.finditer(r"[a-zñ]+", norm):
        word = match.group(0)
        if word in _PART_OF_DAY and not _COMPLAINT.match(norm, match.end()):
            return _PART_OF_DAY[word]
    return None
