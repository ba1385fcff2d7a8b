"""A keyword-only baseline, for comparison in docs/CLASSIFIER.md; production never routes by it.

RapidPro-style flows route a reply through "has any of the words" / "has phrase" tests in order
and fall through to "Other". ``evaluate_keyword_baseline`` scores such a router on the same
held-out rows as the classifier.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from dripper.labels import ReplyLabel
from dripper.readiness.evaluation import EvaluationReport, score
from dripper.readiness.model import CORPUS_DIR, read_corpus
from dripper.readiness.text import pattern_form

_BASELINE_RULES: tuple[tuple[ReplyLabel, frozenset[str], tuple[str, ...]], ...] = (
    (
        ReplyLabel.CRISIS,
        frozenset(
            {
                "suicide",
                "suicidal",
                "kill",
                "die",
                "hurt",
                "hit",
                "gun",
                "overdose",
                "pills",
                "abuse",
                "emergency",
                "911",
                "unsafe",
                "kms",
            }
        ),
        ("self harm", "end it", "not safe"),
    ),
    (
        ReplyLabel.OPT_OUT,
        frozenset(
            {
                "stop",
                "stopall",
                "unsubscribe",
                "cancel",
                "end",
                "quit",
                "remove",
                "optout",
                "revoke",
            }
        ),
        ("opt out", "take me off"),
    ),
    (ReplyLabel.HELP, frozenset({"help", "info", "support", "question"}), ("who is this",)),
    (ReplyLabel.PAUSE, frozenset({"pause", "break", "hold", "vacation"}), ("not now",)),
    (ReplyLabel.MORE, frozenset({"more", "next", "another"}), ("send more",)),
    (
        ReplyLabel.RESCHEDULE,
        frozenset(
            {"time", "morning", "evening", "afternoon", "night", "earlier", "later", "am", "pm"}
        ),
        (),
    ),
    (
        ReplyLabel.OVERWHELMED,
        frozenset(
            {"overwhelmed", "exhausted", "tired", "drained", "stressed", "burnt", "burned", "much"}
        ),
        ("too much", "can't cope", "cant cope"),
    ),
    (
        ReplyLabel.RESISTANT,
        frozenset(
            {"no", "nope", "won't", "wont", "refuses", "refused", "never", "useless", "pointless"}
        ),
        ("doesn't work", "won't listen"),
    ),
    (
        ReplyLabel.AMBIVALENT,
        frozenset({"maybe", "unsure", "idk", "perhaps", "might", "but"}),
        ("not sure", "i guess"),
    ),
    (
        ReplyLabel.ENGAGED,
        frozenset(
            {
                "yes",
                "yeah",
                "thanks",
                "thank",
                "tried",
                "try",
                "will",
                "helpful",
                "great",
                "good",
                "love",
                "useful",
                "agree",
            }
        ),
        ("makes sense",),
    ),
)
_WORD = re.compile(r"[a-z0-9']+")


def keyword_baseline(text: str) -> ReplyLabel:
    """Route a reply as a keyword-only flow would: first list with a hit wins, else neutral."""
    norm = pattern_form(text)
    words = set(_WORD.findall(norm))
    for label, keywords, phrases in _BASELINE_RULES:
        if words & keywords or any(phrase in norm for phrase in phrases):
            return label
    return ReplyLabel.NEUTRAL


def evaluate_keyword_baseline(
    corpus_dir: Path | None = None, *, sources: Iterable[str] | None = None
) -> EvaluationReport:
    """Score the keyword-only router (``keyword_baseline``) on the same held-out rows."""
    examples = read_corpus(CORPUS_DIR if corpus_dir is None else corpus_dir)
    keep = None if sources is None else set(sources)
    tests = [e for e in examples if e.split == "test" and (keep is None or e.source in keep)]
    return score(
        "keyword baseline",
        [e.label for e in tests],
        [keyword_baseline(e.text) for e in tests],
        texts=[e.text for e in tests],
    )
