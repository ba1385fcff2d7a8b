"""Course files (YAML) as plain data: reading them, writing them, and their shape."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

#: Pacing a course file may set, with the defaults every course gets.
PACING_DEFAULTS: dict[str, Any] = {
    "send_time": "09:00",  # local time of the daily lesson
    "question_delay_hours": 3,  # the reflection question follows the lesson
    "window_start": "08:00",  # never text before this, local time
    "window_end": "21:00",  # nor after this
    "more_per_day": 2,  # extra lessons MORE/NEXT may ask for in a day
    "pause_days": 7,  # PAUSE without a number
    "resistant_days": 2,  # next lesson after a resistant reply
    "resistant_streak_days": 3,  # after two resistant replies in a row, then offered
    "offer_wait_days": 7,  # how long an offered lesson waits for NEXT
    "overwhelmed_hold_days": 3,  # lessons held after an overwhelmed reply
    "check_in_repeat_days": 7,  # the one further check-in when the first gets no answer
    "silent_slowdown_after": 2,  # unanswered questions before lessons go every other day
    "silent_check_in_after": 4,  # unanswered questions before a check-in, then dormant
    "question_context_hours": 72,  # a reply is read as the answer to a question this recent
}
_TIME_KEYS = {"send_time", "window_start", "window_end"}

#: System messages every course must have, with the placeholders each must carry.
MESSAGE_PLACEHOLDERS: dict[str, frozenset[str]] = {
    "confirmation_request": frozenset(),
    "welcome": frozenset({"first_lesson"}),
    "help": frozenset(),
    "stop_confirmation": frozenset(),
    "pause_confirmation": frozenset({"resume_on"}),
    "resume_confirmation": frozenset({"next_lesson"}),
    "time_confirmation": frozenset({"send_time"}),
    "more_limit": frozenset(),
    "completion": frozenset(),
    "crisis_response": frozenset(),
    "join_hint": frozenset(),
    "rejoin": frozenset(),
    "resistant_ack": frozenset(),
    "overwhelmed_ack": frozenset(),
    "check_in": frozenset(),
    "next_offer": frozenset(),
}

#: Messages a course may word per country, as ``<name>_<ISO country>`` (``crisis_response_GB``);
#: a person whose number is from that country gets that wording.
COUNTRY_MESSAGES = frozenset({"crisis_response"})
_COUNTRY_VARIANT = re.compile(r"^(?P<base>[a-z_]+)_(?P<country>[A-Z]{2})$")


def base_message(name: str) -> str:
    """The message a name words: itself, or the base of a per-country variant."""
    match = _COUNTRY_VARIANT.match(name)
    if match and match["base"] in COUNTRY_MESSAGES:
        return match["base"]
    return name


#: The longest each placeholder gets when sent, to count segments honestly.
PLACEHOLDER_LONGEST = {
    "first_lesson": "tomorrow at 12:30 PM",
    "resume_on": "Wed Dec 30",
    "next_lesson": "tomorrow at 12:30 PM",
    "send_time": "12:30 PM",
}

SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
KEYWORD = re.compile(r"^[A-Z][A-Z0-9]{1,19}$")
CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


@dataclass
class LessonSpec:
    key: str
    title: str
    text: str
    question: str


@dataclass
class CourseSpec:
    slug: str
    title: str
    keyword: str
    description: str = ""
    contact: str = ""
    pacing: dict[str, Any] = field(default_factory=dict)
    messages: dict[str, str] = field(default_factory=dict)
    lessons: list[LessonSpec] = field(default_factory=list)

    def effective_pacing(self) -> dict[str, Any]:
        return {**PACING_DEFAULTS, **self.pacing}

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class CourseFileError(ValueError):
    """A course file that cannot be read as a course at all (syntax or shape)."""

    def __init__(self, path: Path | str, problems: list[str]) -> None:
        self.path = str(path)
        self.problems = problems
        super().__init__(f"{path}: " + "; ".join(problems))


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def parse(data: Any, path: Path | str = "<course>") -> CourseSpec:
    """Turn loaded YAML into a CourseSpec, or raise CourseFileError naming every shape problem."""
    problems: list[str] = []
    if not isinstance(data, dict):
        raise CourseFileError(path, ["the file must be a mapping with slug, title, lessons…"])
    for name in ("slug", "title", "keyword"):
        if not isinstance(data.get(name), str) or not data[name].strip():
            problems.append(f"{name}: required text is missing")
    known = {"slug", "title", "keyword", "description", "contact", "pacing", "messages", "lessons"}
    problems += [f"{name}: unknown field" for name in data if name not in known]
    for name in ("pacing", "messages"):
        if data.get(name) is not None and not isinstance(data[name], dict):
            problems.append(f"{name}: must be a mapping")
    lessons_data = data.get("lessons")
    if not isinstance(lessons_data, list) or not lessons_data:
        problems.append("lessons: a course needs a list of at least one lesson")
        lessons_data = []
    lessons = []
    for number, item in enumerate(lessons_data, start=1):
        where = f"lesson {number}"
        if not isinstance(item, dict):
            problems.append(f"{where}: must be a mapping with key, title, text, question")
            continue
        where = f"lesson {number} ({item.get('key', 'no key')})"
        for name in ("key", "title", "text", "question"):
            if not isinstance(item.get(name), str) or not item[name].strip():
                problems.append(f"{where}: {name} is missing or empty")
        problems += [
            f"{where}: {name}: unknown field"
            for name in item
            if name not in {"key", "title", "text", "question"}
        ]
        lessons.append(
            LessonSpec(
                key=_text(item.get("key")),
                title=_text(item.get("title")),
                text=_text(item.get("text")),
                question=_text(item.get("question")),
            )
        )
    if problems:
        raise CourseFileError(path, problems)
    messages = data.get("messages") or {}
    return CourseSpec(
        slug=data["slug"],
        title=data["title"],
        keyword=data["keyword"],
        description=_text(data.get("description")).strip(),
        contact=_text(data.get("contact")).strip(),
        pacing=dict(data.get("pacing") or {}),
        messages={str(k): v if isinstance(v, str) else repr(v) for k, v in messages.items()},
        lessons=lessons,
    )


def load(path: Path | str) -> CourseSpec:
    """Read one course file."""
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except yaml.YAMLError as error:
        raise CourseFileError(path, [f"not valid YAML: {error}"]) from None
    except UnicodeDecodeError:
        raise CourseFileError(path, ["not UTF-8 text"]) from None
    return parse(data, path)


def course_files(paths: list[str] | list[Path]) -> list[Path]:
    """Expand folders to the YAML files inside them, in name order."""
    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            found += sorted(p for p in path.iterdir() if p.suffix in {".yaml", ".yml"})
        else:
            found.append(path)
    return found


class _Dumper(yaml.SafeDumper):
    pass


def _str_presenter(dumper: yaml.SafeDumper, value: str) -> yaml.Node:
    # Long texts as folded-free literal blocks read like the file an editor wrote.
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str_presenter)


def dump(spec: CourseSpec) -> str:
    """Write a course in the file format ``load`` reads; load(dump(x)) == x."""
    data: dict[str, Any] = {
        "slug": spec.slug,
        "title": spec.title,
        "keyword": spec.keyword,
        "description": spec.description,
        "contact": spec.contact,
        "pacing": spec.pacing,
        "messages": spec.messages,
        "lessons": [asdict(lesson) for lesson in spec.lessons],
    }
    return yaml.dump(data, Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
