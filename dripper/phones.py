"""Phone numbers: any common way of writing one -> E.164, and the time zones it may be in.

Two doors with different strictness:

* ``parse_phone`` is for numbers a person types into the web form. It refuses what we
  should not text: invalid numbers, landlines, toll-free, premium and short codes.
* ``inbound_e164`` is for Twilio's ``From``. The number has just texted us, so it can
  receive texts; only its shape is checked. Refusing it because libphonenumber's
  metadata lags behind a new number range would drop a STOP, which is the one thing
  we must never do.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from phonenumbers import (
    NumberParseException,
    PhoneNumber,
    PhoneNumberFormat,
    PhoneNumberType,
    ValidationResult,
    shortnumberinfo,
)
from phonenumbers import timezone as phone_timezone

DEFAULT_REGION = "US"
FALLBACK_TIME_ZONE = "UTC"

_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
# Types that cannot receive a text, or that a consumer program has no business texting.
_UNSUPPORTED = {
    PhoneNumberType.TOLL_FREE: "toll-free numbers can't receive these texts",
    PhoneNumberType.PREMIUM_RATE: "premium-rate numbers can't receive these texts",
    PhoneNumberType.SHARED_COST: "shared-cost numbers can't receive these texts",
    PhoneNumberType.UAN: "company switchboard numbers can't receive these texts",
    PhoneNumberType.VOICEMAIL: "voicemail numbers can't receive these texts",
    PhoneNumberType.PAGER: "pagers can't receive these texts",
}


class PhoneError(ValueError):
    """A number we cannot accept; ``str(error)`` is a sentence to show the person."""

    reason = "invalid"


class InvalidPhone(PhoneError):
    """Not a phone number anywhere (typo, too short, too long)."""


class LandlinePhone(PhoneError):
    """A fixed line: it cannot receive texts."""

    reason = "landline"


class UnsupportedPhone(PhoneError):
    """A real number of a kind we don't text (toll-free, premium rate, short code…)."""

    reason = "unsupported"


@dataclass(frozen=True)
class Phone:
    """A number we may text, in E.164, with every time zone it may be in."""

    e164: str
    region: str | None
    time_zones: list[str]


def parse_phone(raw: str, region: str = DEFAULT_REGION) -> Phone:
    """Read a number as a person writes it; raise a ``PhoneError`` when we can't text it."""
    number = _parse(raw, region)
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(_invalid_sentence(number))
    kind = phonenumbers.number_type(number)
    # US and Canadian numbers are FIXED_LINE_OR_MOBILE (the numbering plan cannot tell);
    # only a number known to be a fixed line is refused as a landline.
    if kind == PhoneNumberType.FIXED_LINE:
        raise LandlinePhone("That looks like a landline. Please give a mobile number.")
    if kind in _UNSUPPORTED:
        raise UnsupportedPhone(f"Sorry, {_UNSUPPORTED[kind]}. Please give a mobile number.")
    return _phone(number)


def textable_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """``parse_phone(raw).e164``: the one spelling of a number we may text, to store and
    count by; raises a ``PhoneError`` for a number we can't text."""
    return parse_phone(raw, region).e164


def written_e164(raw: str, region: str = DEFAULT_REGION) -> str:
    """The E.164 spelling of a number written in any common format, for looking up a number
    already stored (a landline we once stored still counts); raises ``InvalidPhone``."""
    number = _parse(raw, region)
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def inbound_e164(raw: str | None) -> str:
    """Twilio's ``From`` in its E.164 spelling: it must already be E.164; raise
    ``InvalidPhone`` otherwise. Its time zones are not worked out: the webhook that reads
    it stores the text and nothing else (a subscriber's zones are kept on their row)."""
    text = (raw or "").strip()
    if not _E164.match(text):
        raise InvalidPhone("not an E.164 number")
    try:
        number = phonenumbers.parse(text, None)
    except NumberParseException as error:
        raise InvalidPhone("not an E.164 number") from error
    if not phonenumbers.is_possible_number(number):
        raise InvalidPhone("not a possible phone number")
    return str(phonenumbers.format_number(number, PhoneNumberFormat.E164))


def time_zones_for(number: str | PhoneNumber) -> list[str]:
    """Every zone the number may be in; the country's zones, then UTC, when unknown.

    A number spanning several zones keeps them all, so the scheduler can pick a send
    window that is daytime in every one of them.
    """
    if isinstance(number, str):
        number = phonenumbers.parse(number, None)
    zones = phone_timezone.time_zones_for_number(number)
    if zones == phone_timezone._UNKNOWN_TIME_ZONE_LIST:
        # time_zones_for_number gives up on numbers it cannot type (a range newer than
        # the metadata); the country calling code still narrows it down.
        zones = phone_timezone._country_level_time_zones_for_number(number)
    known = [zone for zone in zones if zone != phone_timezone.UNKNOWN_TIMEZONE]
    return known or [FALLBACK_TIME_ZONE]


def region_of(e164: str) -> str | None:
    """The number's country as an ISO 3166 code (``US``, ``GB``), or None when unknown."""
    try:
        number = phonenumbers.parse(e164, None)
    except NumberParseException:
        return None
    # A range newer than the metadata has no region of its own; its calling code still
    # names the main country (+44: GB).
    region = phonenumbers.region_code_for_number(number) or (
        phonenumbers.region_code_for_country_code(number.country_code or 0)
    )
    return region if region and region != "ZZ" else None


def display(e164: str) -> str:
    """A masked number for the person's own screen: ``+1 ••• 0123``."""
    try:
        country = phonenumbers.parse(e164, None).country_code
    except NumberParseException:
        return f"••• {e164[-4:]}"
    return f"+{country} ••• {e164[-4:]}"


def _parse(raw: str, region: str) -> PhoneNumber:
    text = (raw or "").strip()
    if not text:
        raise InvalidPhone("Please enter a mobile number.")
    if len(text) > 40 or not re.search(r"\d", text):
        raise InvalidPhone("That doesn't look like a phone number.")
    digits = re.sub(r"\D", "", text)
    if not text.startswith("+") and 3 <= len(digits) <= 6:
        if shortnumberinfo.is_valid_short_number_for_region(
            phonenumbers.parse(digits, region), region
        ):
            raise UnsupportedPhone("Short codes can't sign up. Please give a mobile number.")
    # Much of the world dials out with 00; libphonenumber only knows the region's own
    # prefix (011 in the US), so "0044 …" would be read as a US number.
    if text.startswith("00") and region == "US":
        text = "+" + text[2:]
    try:
        return phonenumbers.parse(text, region)
    except NumberParseException as error:
        if error.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            raise InvalidPhone("That country code doesn't exist. Please check it.") from error
        raise InvalidPhone("That doesn't look like a phone number.") from error


def _invalid_sentence(number: PhoneNumber) -> str:
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return "That number is too short. Include the area code."
    if reason == ValidationResult.TOO_LONG:
        return "That number is too long. Please check it."
    if reason == ValidationResult.INVALID_COUNTRY_CODE:
        return "That country code doesn't exist. Please check it."
    return "That number doesn't exist. Please check it and try again."


def _phone(number: PhoneNumber) -> Phone:
    return Phone(
        e164=phonenumbers.format_number(number, PhoneNumberFormat.E164),
        region=phonenumbers.region_code_for_number(number),
        time_zones=time_zones_for(number),
    )
