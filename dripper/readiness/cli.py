"""``classify`` and ``classifier train|evaluate``."""

from __future__ import annotations

import json
import sys

import click
from flask.cli import AppGroup, with_appcontext

from dripper.readiness.classifier import evaluate, evaluate_keyword_baseline
from dripper.readiness.service import DatabaseNotReady, corrections, get_classifier, retrain

classifier_cli = AppGroup("classifier", help="The reply model.")


@click.command("classify")
@with_appcontext
def classify_command() -> None:
    """Read one reply per line on stdin; write {"text", "label", "confidence"} per line."""
    classifier = get_classifier()
    for line in sys.stdin:
        text = line.rstrip("\r\n")
        result = classifier.classify(text)
        record = {
            "text": text,
            "label": result.label.value,
            "confidence": round(result.confidence, 4),
        }
        click.echo(json.dumps(record, ensure_ascii=False))


@classifier_cli.command("train")
def classifier_train() -> None:
    """Rebuild the reply model from the corpus plus admin corrections."""
    extra = _corrections()
    retrain()
    click.echo(f"trained on the corpus and {len(extra)} correction(s); model saved")


@classifier_cli.command("evaluate")
def classifier_evaluate() -> None:
    """Per-label precision, recall and F1, macro-F1 and the confusion matrix, held-out split."""
    report = evaluate(extra=_corrections())
    click.echo(report.format())
    baseline = evaluate_keyword_baseline()
    click.echo("")
    click.echo(baseline.format())


def _corrections() -> list[tuple[str, str]]:
    try:
        return corrections()
    except DatabaseNotReady as error:
        raise click.ClickException(str(error)) from None
