"""The reply model's file holds data, never code, and nobody's words once they are forgotten
(an admin's correction of one of their replies was learnt by the model and remembered)."""

from __future__ import annotations

import json
import pickle
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from inbound_support import confirmed_handset, webhook_config

from dripper import create_app
from dripper.extensions import db
from dripper.models import Direction, Message
from dripper.readiness.classifier import Classifier
from dripper.readiness.service import get_classifier

NEW_YORK = ZoneInfo("America/New_York")
AFTERNOON = datetime(2026, 6, 2, 14, 0, tzinfo=NEW_YORK)
# Words no corpus row has, so finding them in the model file can only mean this reply.
REPLY = "my cousin zorbleflax keeps borrowing the quendrix van"
WORDS = ["zorbleflax", "quendrix"]


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return webhook_config(database_url, tmp_path)


def _model_bytes(app: Flask) -> bytes:
    return Path(app.config["CLASSIFIER_MODEL_PATH"]).read_bytes()


def _ok(result: Any) -> None:
    assert result.exit_code == 0, result.output


def test_forgetting_a_person_takes_their_corrected_reply_out_of_the_reply_model(
    app: Flask,
    app_config: dict[str, Any],
    client: FlaskClient,
    runner: FlaskCliRunner,
    course: Any,
) -> None:
    phone = confirmed_handset(client, AFTERNOON)
    phone.text(REPLY)
    reply_id = db.session.scalar(
        sa.select(Message.id).where(Message.body == REPLY, Message.direction == Direction.INBOUND)
    )
    # Another process (a worker, the web) holding the model in memory.
    other = create_app(app_config)

    _ok(runner.invoke(args=["reply", "relabel", str(reply_id), "resistant"]))
    _ok(runner.invoke(args=["classifier", "train"]))
    with other.app_context():
        assert get_classifier().classify(REPLY).rule == "correction"
    assert all(word.encode() in _model_bytes(app) for word in WORDS)  # learnt and remembered

    _ok(runner.invoke(args=["subscriber", "forget", phone.phone, "--yes"]))

    stored = _model_bytes(app)
    assert not [word for word in WORDS if word.encode() in stored]
    assert REPLY.encode() not in stored
    model = Classifier.load(Path(app.config["CLASSIFIER_MODEL_PATH"])).model
    assert not model.memory
    assert not [w for w in WORDS if any(w in feature for feature in model.word.vocabulary)]
    assert get_classifier().classify(REPLY).rule != "correction"
    with other.app_context():
        assert get_classifier().classify(REPLY).rule != "correction"


def test_forgetting_a_person_without_corrections_leaves_the_model_alone(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, course: Any
) -> None:
    phone = confirmed_handset(client, AFTERNOON)
    phone.text(REPLY)
    before = _model_bytes(app)

    _ok(runner.invoke(args=["subscriber", "forget", phone.phone, "--yes"]))

    assert _model_bytes(app) == before


class _RunsCode:
    """What a hostile pickle holds: loading it would create a file (or do anything else)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))


def test_a_pickle_put_in_place_of_the_reply_model_is_never_run_and_is_replaced(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    marker = tmp_path / "the-pickle-ran"
    path = Path(app.config["CLASSIFIER_MODEL_PATH"])
    path.write_bytes(pickle.dumps(_RunsCode(marker)))

    result = runner.invoke(args=["classify"], input="STOP\ncan we take a break\n")

    _ok(result)
    labels = [json.loads(line)["label"] for line in result.output.splitlines()]
    assert labels == ["opt_out", "pause"]
    assert not marker.exists()
    assert path.read_bytes()[:4] == b"PK\x03\x04"  # a freshly trained model, as arrays and JSON
