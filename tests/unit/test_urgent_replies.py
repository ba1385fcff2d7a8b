"""Which replies may wait for a worker: none that, as the answer to any question of the
course, reads as a crisis, a worry for the team or an opt-out (dripper.conversation.triage)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dripper.conversation.triage import acted_on_at_once
from dripper.labels import ReplyLabel
from dripper.readiness.classifier import (
    CRISIS_PROBABILITY,
    MODEL_OPT_OUT_MIN,
    URGENT_PROBABILITY,
    Classifier,
)
from dripper.readiness.crisis import has_risk_words
from dripper.readiness.model import CORPUS_DIR, read_corpus
from dripper.readiness.text import pattern_form

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


def test_no_question_moves_the_model_halfway_from_the_urgent_line_to_acting(
    classifier: Classifier,
) -> None:
    # The margin URGENT_PROBABILITY relies on: a reply read alone below it cannot reach the
    # probability at which the model alone acts, whatever question it answers.
    model = classifier.model
    crisis, opt_out = model.labels.index(ReplyLabel.CRISIS), model.labels.index(ReplyLabel.OPT_OUT)
    texts = {e.text for e in read_corpus(CORPUS_DIR)} | {
        e.text for e in read_corpus(CORPUS_DIR / "heldout")
    }
    worst = {crisis: 0.0, opt_out: 0.0}
    for text in texts:
        norm = pattern_form(text)
        if not norm or has_risk_words(norm):
            continue
        alone = model.probability_vector(norm, None)
        for question in QUESTIONS:
            moved = model.probability_vector(norm, question) - alone
            for label in worst:
                worst[label] = max(worst[label], float(moved[label]))
    assert worst[crisis] <= (CRISIS_PROBABILITY - URGENT_PROBABILITY) / 2, worst
    assert worst[opt_out] <= (MODEL_OPT_OUT_MIN - URGENT_PROBABILITY) / 2, worst


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
