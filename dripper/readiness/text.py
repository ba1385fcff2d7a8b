"""Reply text as the hand-written patterns expect it: ``pattern_form``.

Phones substitute typographic characters and people type contractions without the apostrophe
and in SMS shorthand; the patterns in ``crisis``, ``opt_out``, ``dates`` and ``commands`` are
written for plain, lower-case ASCII with everything spelled one way. (The exact SMS keywords
have their own, different form: ``dripper.keywords.keyword_form``.)
"""

from __future__ import annotations

import functools
import re

# Phones substitute typographic characters; the patterns below are written for plain ASCII.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)
_SPACES = re.compile(r"\s+")


# Contractions typed without the apostrophe, and SMS shorthand, written out once here so that
# every pattern can spell them one way ("im scared hes gonna hurt me").
_SHORTHAND = {
    "im": "i'm",
    "ive": "i've",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "arent": "aren't",
    "werent": "weren't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "hadnt": "hadn't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "aint": "ain't",
    "hes": "he's",
    "shes": "she's",
    "theyre": "they're",
    "youre": "you're",
    "thats": "that's",
    "whats": "what's",
    "theres": "there's",
    "u": "you",
    "ur": "your",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "rn": "right now",
    "thru": "through",
    "ppl": "people",
    "pls": "please",
    "plz": "please",
}
_SHORTHAND_WORD = re.compile(r"(?<![\w'])(" + "|".join(_SHORTHAND) + r")(?![\w'])")


@functools.lru_cache(maxsize=1024)
def pattern_form(text: str) -> str:
    """Lower-case, straighten quotes, write out shorthand, collapse spaces: what patterns expect.

    Kept for the last texts seen: reading one reply asks for it a dozen times over (each
    rule normalises what it is given, and is given text already normalised).
    """
    lowered = text.translate(_TYPOGRAPHY).lower()
    return _SPACES.sub(" ", _SHORTHAND_WORD.sub(lambda m: _SHORTHAND[m[1]], lowered)).strip()


def rx(pattern: str) -> re.Pattern[str]:
    """Compile a pattern in verbose mode, so its long alternations can span lines."""
    return re.compile(pattern, re.VERBOSE)
