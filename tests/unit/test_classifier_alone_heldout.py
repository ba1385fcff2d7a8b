"""Replies read with no question: the loved one's pushback is not a crisis (docs/CLASSIFIER.md).

A reply arrives with no question before the first lesson's question, after a pause, or more than
72 hours after the last one. ``corpus/heldout/alone/pushback-alone.csv`` holds such replies,
never trained on: everyday pushback described by the helper, and real crises in plain words.
One model is trained on the train split and reads every row alone.
"""

from __future__ import annotations

import pytest

from dripper.labels import ReplyLabel
from dripper.readiness.classifier import Classifier, train
from dripper.readiness.evaluation import EvaluationReport, score
from dripper.readiness.model import CORPUS_DIR, model_text, read_corpus

ALONE_DIR = CORPUS_DIR / "heldout" / "alone"


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    rows = read_corpus(ALONE_DIR)
    classifier = Classifier(train(CORPUS_DIR))
    results = [classifier.classify(e.text, None) for e in rows]
    return score(
        "replies alone about the loved one's pushback",
        [e.label for e in rows],
        [r.label for r in results],
        texts=[e.text for e in rows],
        reviews=sum(r.crisis_review for r in results),
    )


def test_the_replies_read_alone_are_never_trained_on() -> None:
    rows = read_corpus(ALONE_DIR)
    assert sum(e.label is not ReplyLabel.CRISIS for e in rows) >= 80
    assert sum(e.label is ReplyLabel.CRISIS for e in rows) >= 25
    assert all(e.split == "test" and e.question is None for e in rows)
    loaded = read_corpus(CORPUS_DIR) + read_corpus(CORPUS_DIR / "heldout")
    assert not {model_text(e.text) for e in loaded} & {model_text(e.text) for e in rows}


def test_the_loved_ones_pushback_read_alone_is_rarely_a_crisis(report: EvaluationReport) -> None:
    pushback = report.n_test - report.count(ReplyLabel.CRISIS, None)
    assert report.false_crises <= 0.02 * pushback, report.format()


def test_every_real_danger_read_alone_is_a_crisis(report: EvaluationReport) -> None:
    assert report.crisis_recall == 1.0, report.format()


def test_nobody_describing_pushback_is_opted_out(report: EvaluationReport) -> None:
    assert report.false_opt_outs == 0, report.format()
