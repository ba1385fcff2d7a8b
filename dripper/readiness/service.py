"""The classifier a process uses: loaded once, trained from the corpus when no model file exists."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import OperationalError, ProgrammingError

from dripper.clock import now
from dripper.extensions import db
from dripper.models import TrainingExample
from dripper.readiness.classifier import Classification, Classifier, TrainedModel, train

log = logging.getLogger(__name__)
_KEY = "dripper.classifier"
_lock = threading.Lock()


class DatabaseNotReady(RuntimeError):
    """The corrections table is not there: the database has not been migrated."""


def corrections() -> list[tuple[str, str]]:
    """Admins' corrections (``reply relabel``), oldest first, as training rows.

    Raises DatabaseNotReady on a database that was never migrated, rather than
    training a model that silently leaves the corrections out.
    """
    try:
        rows = db.session.execute(
            select(TrainingExample.text, TrainingExample.label).order_by(TrainingExample.id)
        ).all()
    except (OperationalError, ProgrammingError) as error:
        db.session.rollback()
        raise DatabaseNotReady(
            "the database has no corrections table; run `flask --app web db upgrade` first"
        ) from error
    return [(text, label.value) for text, label in rows]


def retrain(app: Flask | None = None) -> TrainedModel:
    """Rebuild the model from the corpus plus corrections and save it where every process
    looks; the same inputs give the same model."""
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    path = Path(app.config["CLASSIFIER_MODEL_PATH"])
    path.parent.mkdir(parents=True, exist_ok=True)
    model = train(extra=corrections(), out=path)
    app.extensions.pop(_KEY, None)
    return model


def classify(text: str, question: str | None = None) -> Classification:
    """Read one reply with this process's classifier, as the answer to ``question`` if known.

    ``question`` is the text of the last question the course sent to this subscription (None
    when there is none, or it is too old to be what the reply answers). Check
    ``result.crisis_review``: it asks for a team alert without texting the crisis lines.
    """
    return get_classifier().classify(text, question)


def get_classifier() -> Classifier:
    """This process's classifier; the first call loads (or trains and saves) the model."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    classifier = app.extensions.get(_KEY)
    if classifier is not None:
        return classifier  # type: ignore[no-any-return]
    with _lock:
        classifier = app.extensions.get(_KEY)
        if classifier is None:
            path = Path(app.config["CLASSIFIER_MODEL_PATH"])
            if not path.is_file():
                log.info("no reply model at %s: training one from the corpus", path)
                retrain(app)
            # The sandbox clock decides what "till monday" means.
            classifier = Classifier.load(path, today=lambda: now().date())
            app.extensions[_KEY] = classifier
    return classifier  # type: ignore[no-any-return]
