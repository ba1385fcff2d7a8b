"""Issue 10's targets, asserted on held-out data read with its question (docs/CLASSIFIER.md).

One model is trained on the train split; it is scored on three sets it never saw:

* answers to the course's questions that no training row answers (the per-question fold);
* replies about other helping situations, to invented questions (never trained on);
* the original held-out split of replies read alone.
"""

from __future__ import annotations

import pytest

from dripper.readiness.classifier import evaluate_in_context
from dripper.readiness.evaluation import EvaluationReport


@pytest.fixture(scope="module")
def reports() -> dict[str, EvaluationReport]:
    return evaluate_in_context()


@pytest.mark.parametrize("name", ["held-out questions", "other situations"])
def test_answers_about_the_loved_ones_pushback_are_paced_as_engaged(
    reports: dict[str, EvaluationReport], name: str
) -> None:
    report = reports[name]
    assert report.engaged_misread <= 0.05, report.format()


@pytest.mark.parametrize("name", ["held-out questions", "other situations"])
def test_nobody_answering_a_question_is_texted_the_crisis_lines_by_mistake(
    reports: dict[str, EvaluationReport], name: str
) -> None:
    assert reports[name].false_crises == 0, reports[name].format()


@pytest.mark.parametrize("name", ["held-out questions", "other situations", "held-out split"])
def test_every_real_danger_is_a_crisis(reports: dict[str, EvaluationReport], name: str) -> None:
    assert reports[name].crisis_recall == 1.0, reports[name].format()


@pytest.mark.parametrize("name", ["held-out questions", "other situations", "held-out split"])
def test_nobody_is_opted_out_who_did_not_ask(
    reports: dict[str, EvaluationReport], name: str
) -> None:
    assert reports[name].false_opt_outs == 0, reports[name].format()


@pytest.mark.parametrize("name", ["held-out questions", "other situations"])
def test_macro_f1_on_unseen_questions_is_at_least_0_85(
    reports: dict[str, EvaluationReport], name: str
) -> None:
    assert reports[name].macro_f1 >= 0.85, reports[name].format()


def test_the_original_held_out_split_keeps_macro_f1_of_at_least_0_895(
    reports: dict[str, EvaluationReport],
) -> None:
    # See test_classifier_heldout.py: 0.905 before replies read alone were trained on.
    assert reports["held-out split"].macro_f1 >= 0.895, reports["held-out split"].format()
