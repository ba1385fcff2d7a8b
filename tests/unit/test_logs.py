"""What the log shows of a phone number: too little to dial it, enough to tell two apart."""

from __future__ import annotations

import logging
import re

import pytest

from dripper.logs import MaskingFilter, mask_phone, mask_text

NUMBER = "+14155550123"


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


@pytest.mark.parametrize("phone", [NUMBER, "+447400123456", "+33612345678", "+6834002"])
def test_a_masked_number_shows_at_most_its_last_four_digits(phone: str) -> None:
    masked = mask_phone(phone)
    assert 2 <= len(_digits(masked)) <= 4
    assert phone.endswith(_digits(masked))


def test_a_missing_number_is_a_dash() -> None:
    assert mask_phone(None) == mask_phone("") == "-"


@pytest.mark.parametrize(
    "line",
    [
        f"texting {NUMBER} now",
        f"from={NUMBER}",
        f"whatsapp:{NUMBER}",
        f"sid=SMabc,to:{NUMBER};body",
        f"('{NUMBER}', 'hello')",
        f"[parameters: ('{NUMBER}',)]",
        f"{NUMBER}",
        "number +1 (415) 555-0123 written by hand",
        "national 415-555-0123 and 4155550123",
        "UK +44 7400 123456 and France +33612345678",
        "Niue +6834002 is short",
        f"two at once {NUMBER},+447400123456",
        f"tel{NUMBER}abc",
        "From=%2B14155550123&Body=hi",
    ],
)
def test_numbers_anywhere_in_a_line_are_masked(line: str) -> None:
    masked = mask_text(line)
    # What is left of each number is at most four digits in a row.
    assert not re.search(r"\d[\d\s().-]{3,}\d", masked), masked
    assert "555" not in masked and "415" not in masked


@pytest.mark.parametrize(
    "line",
    [
        "message 42 took 1500 ms at 2026",
        "Task dripper.sms.deliver[d491f6f8-d6cd-44b0-af75-19574201619f] succeeded",
        "accepted as SM0123456789abcdef0123456789abcdef",
    ],
)
def test_counts_and_identifiers_stay_readable(line: str) -> None:
    assert mask_text(line) == line


def test_the_filter_masks_the_message_and_the_traceback() -> None:
    try:
        raise RuntimeError(f"could not reach {NUMBER}")
    except RuntimeError:
        import sys

        record = logging.LogRecord(
            "dripper", logging.ERROR, __file__, 1, "texting %s", (NUMBER,), sys.exc_info()
        )
    MaskingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "could not reach" in formatted
    assert "5550123" not in formatted


def test_the_values_in_a_database_errors_detail_are_left_out() -> None:
    error = (
        'null value in column "status" of relation "message" violates not-null constraint\n'
        "DETAIL:  Failing row contains (7, inbound, reply, +14155550123, my (secret) words).\n"
        'duplicate key value violates unique constraint "uq_subscriber_phone"\n'
        "DETAIL:  Key (phone)=(4155550123) already exists."
    )
    masked = mask_text(error)
    assert "secret" not in masked and "5550123" not in masked
    assert "DETAIL:  Failing row contains (…)." in masked
    assert "DETAIL:  Key (phone)=(…) already exists." in masked


@pytest.mark.parametrize(
    "line",
    [
        "Task dripper.sms.deliver[3f2a0029-7123-7798-aaaa-000297777798] succeeded in 0.0029767s",
        "task id 5b1c2d3e-4567-8901-abcd-123456789012 received",
    ],
)
def test_task_ids_and_durations_stay_readable(line: str) -> None:
    assert mask_text(line) == line
