"""``classify`` and ``classifier train|evaluate``."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup, with_appcontext

from dripper.readiness.baseline import evaluate_keyword_baseline
from dripper.readiness.classifier import STANDALONE_SOURCES, evaluate, evaluate_in_context
from dripper.readiness.service import DatabaseNotReady, corrections, get_classifier, retrain

classifier_cli = AppGroup("classifier", help="The reply model.")


@click.command("classify")
@with_appcontext
def classify_command() -> None:
    """Read one reply per line on stdin; write {"text", "label", "confidence"} per line.

    \b
    A line is either the reply as plain text, or a JSON object with the reply and the
    question it answers, read in its conversation:
      {"text": "he says he's fine", "question": "What happens when you reach out?"}
    Output lines also carry "crisis_review": true when the team should read the reply
    (possible danger read as a worry or a plan; no crisis lines are texted).
    """
    classifier = get_classifier()
    for line in sys.stdin:
        text, question = _reply_line(line.rstrip("\r\n"))
        result = classifier.classify(text, question)
        record: dict[str, object] = {
            "text": text,
            "label": result.label.value,
            "confidence": round(result.confidence, 4),
        }
        if question is not None:
            record["question"] = question
        if result.crisis_review:
            record["crisis_review"] = True
        click.echo(json.dumps(record, ensure_ascii=False))


def _reply_line(line: str) -> tuple[str, str | None]:
    """A plain reply, or ``{"text": ..., "question": ...}``; anything else is plain text."""
    if line.lstrip().startswith("{"):
        try:
            data = json.loads(line)
        except ValueError:
            return line, None
        if isinstance(data, dict) and isinstance(data.get("text"), str):
            question = data.get("question")
            return data["text"], question if isinstance(question, str) else None
    return line, None


@classifier_cli.command("train")
def classifier_train() -> None:
    """Rebuild the reply model from the corpus plus admin corrections."""
    extra = _corrections()
    retrain()
    click.echo(f"trained on the corpus and {len(extra)} correction(s); model saved")


@classifier_cli.command("evaluate")
def classifier_evaluate() -> None:
    """Per-label precision, recall and F1, macro-F1 and the confusion matrix, held-out split.

    Then the same for answers to questions no training row answers, and for replies about
    other helping situations (both read with their question).
    """
    report = evaluate(extra=_corrections(), sources=STANDALONE_SOURCES)
    click.echo(report.format())
    in_context = evaluate_in_context()
    for name in ("held-out questions", "other situations"):
        click.echo("")
        click.echo(in_context[name].format())
    baseline = evaluate_keyword_baseline(sources=STANDALONE_SOURCES)
    click.echo("")
    click.echo(baseline.format())


def _corrections() -> list[tuple[str, str]]:
    try:
        return corrections()
    except DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
