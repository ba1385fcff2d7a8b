"""Exact SMS keywords (dripper.keywords): whole-message commands and free text."""

from __future__ import annotations

from datetime import time

import pytest

from dripper.keywords import Keyword, parse_command, read_time_of_day


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("TIME 7pm", time(19, 0)),
        ("time 19:30", time(19, 30)),
        ("TIME 7:30 am", time(7, 30)),
        ("Time 8.15am", time(8, 15)),
        ("  time 9 PM! ", time(21, 0)),
    ],
)
def test_time_with_a_readable_time_is_a_time_command(text: str, at: time) -> None:
    command = parse_command(text)
    assert command is not None
    assert (command.keyword, command.at, command.error) == (Keyword.TIME, at, None)


@pytest.mark.parametrize(
    "text",
    [
        "TIME",  # bare keyword: tell them how to write it
        "time?",
        "TIME 25:00",
        "TIME 7:75pm",
        "TIME 7 in the evening",  # has a digit: an attempt at a time
        "TIME soon",  # one word after TIME: an attempt at the keyword
        "TIME abc",
    ],
)
def test_time_with_an_unreadable_time_keeps_the_command_with_an_error(text: str) -> None:
    command = parse_command(text)
    assert command is not None
    assert command.keyword is Keyword.TIME
    assert command.at is None
    assert command.error


@pytest.mark.parametrize(
    "text",
    [
        "time to let go of trying to fix him",
        "time to let go i guess",
        "Time flies when he's sober",
        "time for me to back off.",
        "TIME TO STOP HOVERING",
    ],
)
def test_a_sentence_that_starts_with_time_is_free_text(text: str) -> None:
    assert parse_command(text) is None


def test_words_are_keywords_only_as_the_whole_message() -> None:
    assert parse_command("STOP").keyword is Keyword.STOP  # type: ignore[union-attr]
    assert parse_command("stop!").keyword is Keyword.STOP  # type: ignore[union-attr]
    assert parse_command("I need to stop rescuing him") is None
    assert parse_command("") is None
    assert parse_command("   ") is None


def test_pause_arguments() -> None:
    assert parse_command("PAUSE").days == 7  # type: ignore[union-attr]
    assert parse_command("pause 3 days").days == 3  # type: ignore[union-attr]
    bad = parse_command("PAUSE 500")
    assert bad is not None and bad.keyword is Keyword.PAUSE and bad.error


def test_course_keywords_join() -> None:
    command = parse_command("calm", frozenset({"CALM"}))
    assert command is not None and command.keyword is Keyword.JOIN


@pytest.mark.parametrize(
    ("text", "at"),
    [("7pm", time(19, 0)), ("12am", time(0, 0)), ("12 pm", time(12, 0)), ("25:00", None)],
)
def test_read_time_of_day(text: str, at: time | None) -> None:
    assert read_time_of_day(text) == at
