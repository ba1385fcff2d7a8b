"""Phone numbers as people write them: one E.164 spelling, clear refusals, time zones."""

from __future__ import annotations

import pytest

from dripper.phones import (
    FALLBACK_TIME_ZONE,
    InvalidPhone,
    LandlinePhone,
    UnsupportedPhone,
    display,
    inbound_e164,
    parse_phone,
    textable_e164,
    time_zones_for,
    written_e164,
)


@pytest.mark.parametrize(
    "written",
    [
        "(201) 555-0123",
        "201-555-0123",
        "201.555.0123",
        "201 555 0123",
        "2015550123",
        "1 201 555 0123",
        "1-201-555-0123",
        "+1 (201) 555-0123",
        "+12015550123",
        "  +1 201 555 0123  ",
        "011 1 201 555 0123",
    ],
)
def test_every_common_way_of_writing_a_us_number_is_the_same_e164(written: str) -> None:
    assert textable_e164(written) == "+12015550123"


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+44 7400 123456", "+447400123456"),
        ("0044 7400 123456", "+447400123456"),  # the 00 prefix most of the world dials
        ("011 44 7400 123456", "+447400123456"),  # the US international prefix
        ("+33 6 12 34 56 78", "+33612345678"),
        ("+49 151 12345678", "+4915112345678"),
        ("+61 412 345 678", "+61412345678"),
    ],
)
def test_international_mobile_numbers_are_read_with_their_country_code(
    written: str, e164: str
) -> None:
    assert textable_e164(written) == e164


@pytest.mark.parametrize(
    ("written", "says"),
    [
        ("", "enter"),
        ("hello", "doesn't look like a phone number"),
        ("555-0123", "area code"),
        ("12345", "area code"),
        ("+1 201 555 01234567", "too long"),
        ("+15555550123", "doesn't exist"),
        ("+999 1234567", "country code"),
    ],
)
def test_invalid_numbers_are_refused_with_a_sentence_saying_why(written: str, says: str) -> None:
    with pytest.raises(InvalidPhone) as refused:
        parse_phone(written)
    assert says in str(refused.value)


def test_a_fixed_line_is_refused_as_a_landline() -> None:
    with pytest.raises(LandlinePhone, match="landline"):
        parse_phone("+44 20 7946 0018")


def test_us_numbers_that_may_be_mobile_or_fixed_are_accepted() -> None:
    # The North American plan cannot tell a mobile from a landline by the number alone.
    assert parse_phone("(212) 555-0123").e164 == "+12125550123"


@pytest.mark.parametrize(
    ("written", "kind"),
    [
        ("+1 800 555 0123", "toll-free"),
        ("+1 900 555 0123", "premium-rate"),
        ("33669", "Short code"),
        ("911", "Short code"),
    ],
)
def test_toll_free_premium_and_short_codes_are_refused_as_unsupported(
    written: str, kind: str
) -> None:
    with pytest.raises(UnsupportedPhone, match=kind):
        parse_phone(written)


def test_refusals_are_value_errors_with_a_reason_for_the_form() -> None:
    for written, reason in [("hello", "invalid"), ("+442079460018", "landline")]:
        with pytest.raises(ValueError) as refused:
            parse_phone(written)
        assert refused.value.reason == reason  # type: ignore[attr-defined]


def test_a_number_in_one_zone_gets_that_zone() -> None:
    assert parse_phone("(201) 555-0123").time_zones == ["America/New_York"]
    assert parse_phone("(808) 555-1234").time_zones == ["Pacific/Honolulu"]
    assert parse_phone("+33 6 12 34 56 78").time_zones == ["Europe/Paris"]


def test_a_number_spanning_several_zones_keeps_them_all() -> None:
    zones = parse_phone("+44 7400 123456").time_zones
    assert zones == ["Europe/Guernsey", "Europe/Isle_of_Man", "Europe/Jersey", "Europe/London"]


def test_a_number_the_zone_data_does_not_know_falls_back_to_its_country_zones() -> None:
    zones = time_zones_for("+15555550123")  # not a real number, but +1 is North America
    assert "America/New_York" in zones and "America/Los_Angeles" in zones
    assert "Etc/Unknown" not in zones


def test_a_number_with_no_zone_data_at_all_falls_back_to_utc() -> None:
    # +800 (international freephone) has no zone in libphonenumber's data.
    assert time_zones_for("+80012345678") == [FALLBACK_TIME_ZONE]


def test_an_inbound_from_must_already_be_e164() -> None:
    assert inbound_e164("+12015550123") == "+12015550123"
    for malformed in [None, "", "2015550123", "whatsapp:+12015550123", "+1555", "client:bob"]:
        with pytest.raises(InvalidPhone):
            inbound_e164(malformed)


def test_an_inbound_from_a_number_range_newer_than_the_metadata_is_still_accepted() -> None:
    # Refusing it would drop a STOP; the number just texted us, so it can get texts.
    assert inbound_e164("+15555550123") == "+15555550123"


def test_a_number_is_shown_masked_to_the_person() -> None:
    assert display("+12015550123") == "+1 ••• 0123"
    assert display("+447400123456") == "+44 ••• 3456"


def test_an_admin_lookup_reads_any_spelling_of_a_stored_number_even_a_landline() -> None:
    """``subscriber export 020 7946 0018``-style lookups find numbers we could no longer text."""
    assert written_e164("(201) 555-0123") == "+12015550123"
    assert written_e164("+44 20 7946 0018") == "+442079460018"
    with pytest.raises(InvalidPhone):
        written_e164("not a number")
