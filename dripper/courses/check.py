"""What ``course check`` enforces: SMS economics, consent wording and a sane shape."""

from __future__ import annotations

import re
import string
from dataclasses import dataclass
from pathlib import Path

from dripper import gsm
from dripper.courses.spec import (
    CLOCK,
    COUNTRY_MESSAGES,
    KEYWORD,
    MESSAGE_PLACEHOLDERS,
    PACING_DEFAULTS,
    PLACEHOLDER_LONGEST,
    SLUG,
    CourseFileError,
    CourseSpec,
    base_message,
    load,
)
from dripper.keywords import STOP_WORDS, keyword_form

LESSON_SEGMENTS = 2
QUESTION_SEGMENTS = 1
MESSAGE_SEGMENTS = 2
RESERVED_KEYWORDS = STOP_WORDS | {
    "JOIN", "START", "SUBSCRIBE", "YES", "UNSTOP", "HELP", "INFO", "PAUSE", "RESUME",
    "MORE", "NEXT", "TIME", "NO",
}  # fmt: skip
_FREQUENCY = re.compile(r"\b(a|per|/)\s*(day|week)|\bdaily\b|\bweekly\b|msgs?/(day|wk|week)", re.I)
RATES_PHRASE = "Msg & data rates may apply"


@dataclass(frozen=True)
class Problem:
    """One thing wrong in a course file: where it is and what to do about it."""

    path: str
    where: str
    message: str
    warning: bool = False

    def __str__(self) -> str:
        level = "warning" if self.warning else "error"
        return f"{self.path}: {self.where}: {level}: {self.message}"


def _placeholders(text: str) -> set[str]:
    try:
        return {name for _, name, _, _ in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<unbalanced braces>"}


def _expanded(text: str) -> str:
    """The message as sent, with each placeholder at its longest."""
    try:
        return text.format(**PLACEHOLDER_LONGEST)
    except (KeyError, IndexError, ValueError):
        return text


def _encoding_problems(path: str, where: str, text: str) -> list[Problem]:
    offenders = gsm.non_gsm7(text)
    if not offenders:
        return []
    listed = "; ".join(str(o) for o in offenders[:10])
    more = f" (and {len(offenders) - 10} more)" if len(offenders) > 10 else ""
    return [
        Problem(
            path,
            where,
            f"not GSM-7, so it would be sent as UCS-2 at twice the cost: {listed}{more}",
        )
    ]


def _length_problem(path: str, where: str, text: str, limit: int, what: str) -> list[Problem]:
    # Count as if the encoding problems were fixed, so each problem is reported once.
    segments = gsm.count_segments(gsm.to_gsm7(text))
    if segments.segments <= limit:
        return []
    budget = gsm.GSM7_SINGLE if limit == 1 else gsm.GSM7_MULTI * limit
    return [
        Problem(
            path,
            where,
            f"{what} is {segments.units} characters ({segments.segments} segments); "
            f"it must fit {limit} segment{'s' if limit > 1 else ''} ({budget} characters)",
        )
    ]


def check_spec(spec: CourseSpec, path: str = "<course>") -> list[Problem]:
    """Every problem in an already-parsed course."""
    problems: list[Problem] = []

    def add(where: str, message: str, warning: bool = False) -> None:
        problems.append(Problem(path, where, message, warning))

    if not SLUG.match(spec.slug):
        add("slug", f"{spec.slug!r} must be lowercase words joined by hyphens")
    keyword = keyword_form(spec.keyword)
    if not KEYWORD.match(spec.keyword):
        add("keyword", f"{spec.keyword!r} must be one word of capital letters and digits")
    elif keyword in RESERVED_KEYWORDS:
        add("keyword", f"{spec.keyword!r} is a reserved SMS keyword; choose another")

    for name, value in spec.pacing.items():
        if name not in PACING_DEFAULTS:
            add(f"pacing: {name}", "unknown setting; known: " + ", ".join(PACING_DEFAULTS))
        elif name in {"send_time", "window_start", "window_end"}:
            if not isinstance(value, str) or not CLOCK.match(value):
                add(f"pacing: {name}", f'{value!r} must be a 24-hour time like "09:00"')
        elif not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
            add(f"pacing: {name}", f"{value!r} must be a number of zero or more")
    pacing = spec.effective_pacing()
    if all(
        isinstance(pacing[k], str) and CLOCK.match(pacing[k])
        for k in ("window_start", "window_end", "send_time")
    ):
        if pacing["window_start"] >= pacing["window_end"]:
            add("pacing", "window_start must be before window_end")
        elif not pacing["window_start"] <= pacing["send_time"] < pacing["window_end"]:
            add("pacing: send_time", "must fall inside the send window")

    for name in MESSAGE_PLACEHOLDERS:
        if not spec.messages.get(name, "").strip():
            add(f"messages: {name}", "required message is missing")
    for name, text in spec.messages.items():
        where = f"messages: {name}"
        base = base_message(name)
        if base not in MESSAGE_PLACEHOLDERS:
            add(
                where,
                "unknown message; known: "
                + ", ".join(MESSAGE_PLACEHOLDERS)
                + " (and per country: "
                + ", ".join(f"{n}_GB" for n in sorted(COUNTRY_MESSAGES))
                + ")",
            )
            continue
        found, wanted = _placeholders(text), MESSAGE_PLACEHOLDERS[base]
        for missing in sorted(wanted - found):
            add(where, f"must contain the placeholder {{{missing}}}")
        for extra in sorted(found - wanted):
            add(
                where,
                f"unknown placeholder {{{extra}}}; this message may use: "
                + (", ".join(f"{{{w}}}" for w in sorted(wanted)) or "none"),
            )
        sent = _expanded(text)
        problems += _encoding_problems(path, where, sent)
        problems += _length_problem(path, where, sent, MESSAGE_SEGMENTS, "the message")
        segments = gsm.count_segments(gsm.to_gsm7(sent)).segments
        if segments == 2:
            add(
                where,
                "takes 2 segments; a system message should fit 1 (160 characters) where it can",
                warning=True,
            )

    _consent_problems(spec, add)

    seen: dict[str, int] = {}
    for number, lesson in enumerate(spec.lessons, start=1):
        where = f"lesson {number} ({lesson.key})"
        if not SLUG.match(lesson.key):
            add(where, f"key {lesson.key!r} must be lowercase words joined by hyphens")
        if lesson.key in seen:
            add(where, f"key {lesson.key!r} is already used by lesson {seen[lesson.key]}")
        seen.setdefault(lesson.key, number)
        for field_name, limit, what in (
            ("text", LESSON_SEGMENTS, "the lesson text"),
            ("question", QUESTION_SEGMENTS, "the reflection question"),
        ):
            text = getattr(lesson, field_name)
            problems += _encoding_problems(path, f"{where}: {field_name}", text)
            problems += _length_problem(path, f"{where}: {field_name}", text, limit, what)
            if _placeholders(text):
                add(
                    f"{where}: {field_name}", "lessons cannot use {placeholders}; remove the braces"
                )
    return problems


def _consent_problems(spec: CourseSpec, add) -> None:  # type: ignore[no-untyped-def]
    """The wording CTIA asks of the confirmation request and the HELP reply."""
    request = spec.messages.get("confirmation_request", "")
    if request:
        where = "messages: confirmation_request"
        if spec.title.lower() not in request.lower():
            add(where, f"must name the program ({spec.title!r})")
        if not _FREQUENCY.search(request):
            add(where, 'must say how often messages come (e.g. "1 msg/day")')
        if RATES_PHRASE.lower() not in request.lower():
            add(where, f'must say "{RATES_PHRASE}"')
        for word in ("YES", "HELP", "STOP"):
            if not re.search(rf"\b{word}\b", request):
                add(where, f"must tell the person to reply {word}")
    help_text = spec.messages.get("help", "")
    if help_text:
        where = "messages: help"
        if spec.title.lower() not in help_text.lower():
            add(where, f"must name the program ({spec.title!r})")
        if not _FREQUENCY.search(help_text):
            add(where, "must say what it sends and how often")
        if not re.search(r"\bSTOP\b", help_text):
            add(where, "must say how to stop (STOP)")
        if not spec.contact:
            add("contact", "a support contact is required for the HELP reply")
        elif spec.contact.lower() not in help_text.lower():
            add(where, f"must give the support contact ({spec.contact})")


def check_paths(paths: list[Path]) -> list[Problem]:
    """Check course files, and that their slugs and keywords do not collide."""
    problems: list[Problem] = []
    slugs: dict[str, str] = {}
    keywords: dict[str, str] = {}
    for path in paths:
        try:
            spec = load(path)
        except CourseFileError as error:
            problems += [Problem(str(path), "file", p) for p in error.problems]
            continue
        except OSError as error:
            problems.append(Problem(str(path), "file", f"cannot be read: {error.strerror}"))
            continue
        problems += check_spec(spec, str(path))
        for seen, value, what in (
            (slugs, spec.slug, "slug"),
            (keywords, keyword_form(spec.keyword), "keyword"),
        ):
            if value in seen:
                problems.append(
                    Problem(str(path), what, f"{value!r} is also used by {seen[value]}")
                )
            seen.setdefault(value, str(path))
    return problems
