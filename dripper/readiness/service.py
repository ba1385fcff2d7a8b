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
from dripper.readiness.model import ModelFileError

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


def is_urgent(text: str) -> bool:
    """Whether a reply could, in some conversation, be a crisis, an opt-out or a pause
    (``Classifier.urgent``): such a reply is acted on where it arrives."""
    return get_classifier().urgent(text)


def get_classifier() -> Classifier:
    """This process's classifier. The first call loads the model (training and saving one when
    the file is missing or refused); a replaced file is loaded again at the next call."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    path = Path(app.config["CLASSIFIER_MODEL_PATH"])
    cached = app.extensions.get(_KEY)
    # One stat per reply: a retrain or a forgotten person's corrections taken out in another
    # process replaces the file, and every process must stop answering from the old one.
    if cached is not None and cached[1] == _stamp(path):
        return cached[0]  # type: ignore[no-any-return]
    with _lock:
        cached = app.extensions.get(_KEY)
        stamp = _stamp(path)
        if cached is None or cached[1] != stamp:
            model = _load(path)
            if model is None:
                model = retrain(app)
                stamp = _stamp(path)
            # The sandbox clock decides what "till monday" means.
            cached = (Classifier(model, today=lambda: now().date()), stamp)
            app.extensions[_KEY] = cached
    return cached[0]  # type: ignore[no-any-return]


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_mtime_ns, stat.st_size, stat.st_ino


def _load(path: Path) -> TrainedModel | None:
    """The saved model, or None when there is none or it is refused (a pickle, say)."""
    if not path.is_file():
        log.info("no reply model at %s: training one from the corpus", path)
        return None
    try:
        return TrainedModel.load(path)
    except (ModelFileError, OSError) as error:
        log.warning("reply model refused, training a new one in its place: %s", error)
        return None
