"""The issue's quality targets, measured on the held-out (split=test) rows of replies read alone.

Every target is met and asserted as a plain test (docs/CLASSIFIER.md has the numbers).
``test_held_out_scores_do_not_regress`` holds the line a little under today's numbers, so a
change that loses ground shows up even while the targets still pass.
"""

from __future__ import annotations

import pytest

from dripper.labels import ReplyLabel
from dripper.readiness.classifier import STANDALONE_SOURCES, evaluate
from dripper.readiness.evaluation import EvaluationReport
from dripper.readiness.model import CORPUS_DIR, read_corpus


@pytest.fixture(scope="module")
def report() -> EvaluationReport:
    examples = read_corpus(CORPUS_DIR)
    assert any(e.split == "test" for e in examples), f"no held-out rows in {CORPUS_DIR}"
    # The original held-out split: answers to the course's questions are scored apart
    # (test_classifier_in_context_heldout.py).
    return evaluate(CORPUS_DIR, sources=STANDALONE_SOURCES)


def test_nobody_is_opted_out_who_did_not_ask(report: EvaluationReport) -> None:
    assert report.scores[ReplyLabel.OPT_OUT].precision == 1.0, report.format()


def test_every_opt_out_is_honoured(report: EvaluationReport) -> None:
    assert report.scores[ReplyLabel.OPT_OUT].recall == 1.0, report.format()


def test_every_crisis_in_the_held_out_split_is_caught(report: EvaluationReport) -> None:
    assert report.scores[ReplyLabel.CRISIS].recall == 1.0, report.format()


def test_crisis_alerts_are_mostly_real(report: EvaluationReport) -> None:
    assert report.scores[ReplyLabel.CRISIS].precision >= 0.8, report.format()


def test_macro_f1_over_all_labels_is_at_least_0_85(report: EvaluationReport) -> None:
    assert report.macro_f1 >= 0.85, report.format()


def test_held_out_scores_do_not_regress(report: EvaluationReport) -> None:
    # Today's numbers less a little slack; raise them as the classifier improves.
    crisis, opt_out = report.scores[ReplyLabel.CRISIS], report.scores[ReplyLabel.OPT_OUT]
    assert crisis.recall == 1.0, report.format()
    assert crisis.precision >= 0.95, report.format()
    assert opt_out.recall == 1.0 and opt_out.precision == 1.0, report.format()
    # 0.905 before the model learnt to read pushback described without its question
    # (23 false crises of 113 replies read alone became 1; docs/CLASSIFIER.md): a few engaged
    # replies here now read as resistant, a slower pace rather than the crisis lines.
    assert report.macro_f1 >= 0.895, report.format()
