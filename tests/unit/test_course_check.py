"""`course check`: every kind of problem is named with its file, place and fix."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml

from dripper.courses.check import check_paths
from dripper.gsm import count_segments, non_gsm7

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ROOT / "lessons" / "working-with-resistance.yaml"


@pytest.fixture
def course_data() -> dict[str, Any]:
    return yaml.safe_load(SHIPPED.read_text())


def errors_for(data: dict[str, Any] | str, tmp_path: Path) -> list[str]:
    path = tmp_path / "course.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return [str(p) for p in check_paths([path]) if not p.warning]


def test_shipped_course_passes(tmp_path: Path) -> None:
    assert [str(p) for p in check_paths([SHIPPED]) if not p.warning] == []


def test_shipped_course_has_a_lesson_per_article_section(course_data: dict[str, Any]) -> None:
    assert len(course_data["lessons"]) >= 14
    for lesson in course_data["lessons"]:
        assert lesson["question"].rstrip().endswith("?")


def test_curly_quote_is_named_with_its_replacement(course_data, tmp_path) -> None:
    course_data["lessons"][2]["text"] = "It\u2019s fine \u2014 really."
    (error,) = errors_for(course_data, tmp_path)
    assert "course.yaml: lesson 3 (" in error and ": text:" in error
    assert "RIGHT SINGLE QUOTATION MARK" in error and 'use "\'"' in error
    assert "EM DASH" in error and "use '-'" in error


def test_emoji_is_named_and_has_no_replacement(course_data, tmp_path) -> None:
    course_data["lessons"][0]["question"] = "How did it go? \U0001f642"
    (error,) = errors_for(course_data, tmp_path)
    assert "SLIGHTLY SMILING FACE" in error and "remove it" in error


def test_lesson_over_two_segments_is_an_error(course_data, tmp_path) -> None:
    course_data["lessons"][1]["text"] = "a" * 307
    (error,) = errors_for(course_data, tmp_path)
    assert "307 characters (3 segments)" in error and "2 segments (306 characters)" in error


def test_question_over_one_segment_is_an_error(course_data, tmp_path) -> None:
    course_data["lessons"][1]["question"] = "Why " * 40 + "?"
    (error,) = errors_for(course_data, tmp_path)
    assert "reflection question" in error and "1 segment (160 characters)" in error


def test_system_message_over_two_segments_is_an_error(course_data, tmp_path) -> None:
    course_data["messages"]["completion"] = "Thanks. " * 40
    (error,) = errors_for(course_data, tmp_path)
    assert "messages: completion" in error and "2 segments" in error


def test_system_message_of_two_segments_is_a_warning(course_data, tmp_path) -> None:
    course_data["messages"]["completion"] = "x" * 200
    path = tmp_path / "course.yaml"
    path.write_text(yaml.safe_dump(course_data))
    problems = [p for p in check_paths([path]) if "completion" in p.where]
    assert [p.warning for p in problems] == [True]


def test_placeholder_counts_at_its_longest(course_data, tmp_path) -> None:
    course_data["messages"]["welcome"] = "x" * 290 + " {first_lesson}"
    (error,) = errors_for(course_data, tmp_path)
    assert "messages: welcome" in error and "segments" in error


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d["messages"].update(confirmation_request="Reply YES. HELP for help, STOP to end. 1 msg/day. Msg & data rates may apply."), "must name the program"),
        (lambda d: d["messages"].update(confirmation_request=d["title"] + ": Reply YES. HELP for help, STOP to end. Msg & data rates may apply."), "how often"),
        (lambda d: d["messages"].update(confirmation_request=d["title"] + ": 1 msg/day. Reply YES. HELP for help, STOP to end."), "Msg & data rates may apply"),
        (lambda d: d["messages"].update(confirmation_request=d["title"] + ": 1 msg/day. Reply YES. HELP for help. Msg & data rates may apply."), "reply STOP"),
        (lambda d: d["messages"].update(confirmation_request=d["title"] + ": 1 msg/day. Reply YES. STOP to end. Msg & data rates may apply."), "reply HELP"),
        (lambda d: d["messages"].update(help=d["title"] + ": 1 lesson a day. Reply STOP to end."), "support contact"),
        (lambda d: d["messages"].update(help=d["title"] + ": 1 lesson a day. Write " + d["contact"]), "how to stop"),
        (lambda d: d.update(contact=""), "a support contact is required"),
    ],
    ids=["no-program", "no-frequency", "no-rates", "no-stop", "no-help", "help-no-contact", "help-no-stop", "no-contact"],
)  # fmt: skip
def test_consent_wording_is_enforced(course_data, tmp_path, change, expected) -> None:
    change(course_data)
    errors = errors_for(course_data, tmp_path)
    assert any(expected in e for e in errors), errors


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (lambda d: d.pop("title"), "title: required text is missing"),
        (lambda d: d.update(lessons=[]), "at least one lesson"),
        (lambda d: d["lessons"][0].pop("question"), "lesson 1 (" ),
        (lambda d: d["lessons"][1].update(key=d["lessons"][0]["key"]), "is already used by lesson 1"),
        (lambda d: d["lessons"][1].update(key="Bad Key"), "must be lowercase words"),
        (lambda d: d.update(slug="Working With"), "slug"),
        (lambda d: d.update(keyword="STOP"), "reserved SMS keyword"),
        (lambda d: d.update(keyword="two words"), "one word of capital letters"),
        (lambda d: d["pacing"].update(send_time="9am"), "24-hour time"),
        (lambda d: d["pacing"].update(send_time="22:00"), "inside the send window"),
        (lambda d: d["pacing"].update(window_start="21:00", window_end="08:00"), "window_start must be before"),
        (lambda d: d["pacing"].update(speed=3), "unknown setting; known"),
        (lambda d: d["pacing"].update(resistant_days=-1), "zero or more"),
        (lambda d: d["pacing"].update(question_context_hours="3 days"), "question_context_hours"),
        (lambda d: d["pacing"].update(question_context_hours=-1), "zero or more"),
        (lambda d: d["messages"].pop("help"), "help: error: required message is missing"),
        (lambda d: d["messages"].update(welcome="Welcome!"), "must contain the placeholder {first_lesson}"),
        (lambda d: d["messages"].update(help=d["messages"]["help"] + " {name}"), "unknown placeholder {name}"),
        (lambda d: d["messages"].update(farewell="bye"), "unknown message"),
        (lambda d: d["lessons"][0].update(text="Hi {name}"), "cannot use {placeholders}"),
        (lambda d: d.update(colour="blue"), "colour: unknown field"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)  # fmt: skip
def test_every_shape_problem_is_named(course_data, tmp_path, change, expected) -> None:
    data = copy.deepcopy(course_data)
    change(data)
    errors = errors_for(data, tmp_path)
    assert any(expected in e for e in errors), errors
    assert all(e.startswith(str(tmp_path / "course.yaml")) for e in errors)


def test_invalid_yaml_is_named(tmp_path: Path) -> None:
    (error,) = errors_for("slug: [unclosed\n", tmp_path)
    assert "not valid YAML" in error


def test_two_files_with_one_keyword_collide(course_data, tmp_path) -> None:
    other = copy.deepcopy(course_data)
    other["slug"] = "another-course"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(course_data))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(other))
    errors = [str(p) for p in check_paths([tmp_path / "a.yaml", tmp_path / "b.yaml"])
              if not p.warning]  # fmt: skip
    assert any("b.yaml: keyword:" in e and "also used by" in e for e in errors)


@pytest.mark.parametrize(
    ("text", "encoding", "segments"),
    [
        ("", "GSM-7", 0),
        ("a" * 160, "GSM-7", 1),
        ("a" * 161, "GSM-7", 2),
        ("a" * 306, "GSM-7", 2),
        ("a" * 307, "GSM-7", 3),
        ("{" * 80, "GSM-7", 1),  # extension characters count twice
        ("{" * 81, "GSM-7", 2),
        ("\u2019" + "a" * 69, "UCS-2", 1),
        ("\u2019" + "a" * 70, "UCS-2", 2),
        ("\U0001f642" * 35, "UCS-2", 1),  # an emoji is two UTF-16 units
        ("é" * 160, "GSM-7", 1),  # in the GSM-7 basic set
    ],
)
def test_segment_counting(text: str, encoding: str, segments: int) -> None:
    result = count_segments(text)
    assert (result.encoding, result.segments) == (encoding, segments)


def test_accented_letter_outside_gsm7_offers_the_bare_letter() -> None:
    (offender,) = non_gsm7("ê")
    assert offender.replacement == "e"


def test_the_crisis_response_may_be_worded_per_country(course_data, tmp_path) -> None:
    course_data["messages"]["crisis_response_GB"] = "In danger, call 999. Samaritans: 116 123."
    assert errors_for(course_data, tmp_path) == []

    course_data["messages"]["crisis_response_GB"] = "Call 999 \u2014 now."
    (error,) = errors_for(course_data, tmp_path)
    assert "messages: crisis_response_GB" in error and "EM DASH" in error

    del course_data["messages"]["crisis_response_GB"]
    course_data["messages"]["help_GB"] = "Help for the UK."
    (error,) = errors_for(course_data, tmp_path)
    assert "messages: help_GB" in error and "unknown message" in error
