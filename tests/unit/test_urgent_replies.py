"""Which replies may wait for a worker: none that, as the answer to any question of the
course, reads as a crisis, a worry for the team or an opt-out (dripper.conversation.triage)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dripper.conversation.triage import acted_on_at_once
from dripper.labels import ReplyLabel
from dripper.readiness.classifier import Classifier
from dripper.readiness.model import CORPUS_DIR, read_corpus

COURSE = Path(__file__).resolve().parents[2] / "lessons" / "working-with-resistance.yaml"
QUESTIONS = [
    " ".join(lesson["question"].split()) for lesson in yaml.safe_load(COURSE.read_text())["lessons"]
]


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(None)


def test_no_reply_of_the_corpus_that_is_urgent_in_some_conversation_is_left_to_a_worker(
    classifier: Classifier,
) -> None:
    texts = sorted(
        {e.text for e in read_corpus(CORPUS_DIR)}
        | {e.text for e in read_corpus(CORPUS_DIR / "heldout")}
    )
    left = [text for text in texts if not classifier.urgent(text)]
    # Most replies can wait: otherwise the screen would be no screen.
    assert len(left) > len(texts) / 2
    missed = []
    for text in left:
        for question in [None, *QUESTIONS]:
            result = classifier.classify(text, question)
            if result.label in {ReplyLabel.CRISIS, ReplyLabel.OPT_OUT} or result.crisis_review:
                missed.append((text, question, result.label, result.rule))
    assert missed == []


@pytest.mark.parametrize(
    "text",
    [
        "i have pills saved up",
        "he said he'd rather die than go to rehab",
        "please stop texting me",
        "can we take a break for a week",
        "I don't want to be here anymore",
        "he's been on the edge lately",
    ],
)
def test_danger_opt_outs_and_pauses_are_urgent(classifier: Classifier, text: str) -> None:
    assert classifier.urgent(text), text


@pytest.mark.parametrize(
    "text",
    [
        "I tried it this morning and it felt calmer",
        "not sure this works for me",
        "ok",
        "She rolls her eyes and tells me to stop reading self-help stuff.",
        "",
        "🙂",
    ],
)
def test_plain_answers_can_wait(classifier: Classifier, text: str) -> None:
    assert not classifier.urgent(text), text


@pytest.mark.parametrize(
    ("body", "at_once"),
    [
        ("STOP", True),
        ("stop!", True),
        ("HELP", True),
        ("PAUSE 3", True),
        ("MORE", True),
        ("TIME 7pm", True),
        ("START", True),
        ("YES", True),
        ("JOIN", False),
        ("subscribe", False),
    ],
)
def test_every_keyword_but_join_is_acted_on_at_once(
    body: str, at_once: bool, monkeypatch: pytest.MonkeyPatch, classifier: Classifier
) -> None:
    from dripper.conversation import triage

    monkeypatch.setattr(triage, "is_urgent", classifier.urgent)
    assert acted_on_at_once(body) is at_once
