"""Training, saving, loading and evaluating the reply model, on small corpora made here."""

from __future__ import annotations

import dataclasses
import json
import pickle
import zipfile
from pathlib import Path

import numpy as np
import pytest

from dripper.labels import ReplyLabel
from dripper.readiness.baseline import evaluate_keyword_baseline
from dripper.readiness.classifier import (
    Classifier,
    EvaluationReport,
    evaluate,
    train,
)
from dripper.readiness.model import FORMAT_VERSION, ModelFileError, TrainedModel, read_corpus

# Three phrasings per label; the corpus writers' files are much larger, these only exercise code.
_ROWS = {
    ReplyLabel.ENGAGED: [
        "I tried it and it worked",
        "thanks, that helped a lot",
        "will try tonight",
    ],
    ReplyLabel.RESISTANT: ["he won't listen", "this won't work on my dad", "nothing changes him"],
    ReplyLabel.OVERWHELMED: ["I'm so tired of all this", "too much on my plate", "exhausted"],
    ReplyLabel.AMBIVALENT: ["maybe, not sure", "I guess I could but idk", "part of me wants to"],
    ReplyLabel.NEUTRAL: ["ok", "got it", "k"],
    ReplyLabel.CRISIS: ["he hit me again", "she wants to die", "pills saved up"],
    ReplyLabel.OPT_OUT: ["stop texting me", "remove me from this", "no more messages"],
    ReplyLabel.HELP: ["what is this", "who is this", "how does this work"],
    ReplyLabel.PAUSE: ["take a break", "hold off a week", "pause for now"],
    ReplyLabel.MORE: ["send another", "next one please", "more please"],
    ReplyLabel.RESCHEDULE: ["evenings are better", "text me at 7pm", "mornings please"],
}
_TEST = {
    ReplyLabel.ENGAGED: "it worked, thanks",
    ReplyLabel.RESISTANT: "he just won't",
    ReplyLabel.OVERWHELMED: "so exhausted",
    ReplyLabel.AMBIVALENT: "not sure, maybe",
    ReplyLabel.NEUTRAL: "ok got it",
    ReplyLabel.CRISIS: "he hit me",
    ReplyLabel.OPT_OUT: "stop texting me please",
    ReplyLabel.HELP: "what is this?",
    ReplyLabel.PAUSE: "can we take a break",
    ReplyLabel.MORE: "send another one",
    ReplyLabel.RESCHEDULE: "text me in the evening",
}


def _csv(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    lines = ["text,label,split"]
    for label, texts in _ROWS.items():
        lines += [f"{_csv(t)},{label.value},train" for t in texts]
    lines += [f"{_csv(t)},{label.value},test" for label, t in _TEST.items()]
    (tmp_path / "small.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return tmp_path


def test_training_is_reproducible(corpus: Path) -> None:
    first, second = train(corpus, seed=0), train(corpus, seed=0)
    assert first.metadata == second.metadata
    np.testing.assert_array_equal(first.word.weights, second.word.weights)
    np.testing.assert_array_equal(first.char.weights, second.char.weights)
    for text in ["he won't listen to me", "ok", "🙏"]:
        assert first.probabilities(text) == second.probabilities(text)
    assert evaluate(corpus).format() == evaluate(corpus).format()


def test_training_never_sees_test_rows(corpus: Path) -> None:
    model = train(corpus)
    assert model.metadata["rows"] == sum(len(texts) for texts in _ROWS.values())


def test_a_saved_model_loads_with_the_same_answers(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "models" / "reply-model.npz"
    trained = train(corpus, extra=[("my cat walked on the keyboard", "neutral")], out=path)
    loaded = Classifier.load(path)
    for text in ["he won't listen to me", "I tried it", "stop it already", "🙏", ""]:
        assert loaded.model.probabilities(text) == trained.probabilities(text)
    assert loaded.model.labels == trained.labels
    assert loaded.model.memory == trained.memory
    assert loaded.model.metadata == trained.metadata
    for block in ("word", "char"):
        ours, theirs = getattr(loaded.model, block), getattr(trained, block)
        assert ours.vocabulary == theirs.vocabulary
        np.testing.assert_array_equal(ours.idf, theirs.idf)
        np.testing.assert_array_equal(ours.weights, theirs.weights)


def test_every_field_of_the_model_travels_through_the_file(corpus: Path, tmp_path: Path) -> None:
    # Fields added to the model later (new feature blocks, tables, enums) need no new save code.
    from dripper.readiness.model import _Block

    @dataclasses.dataclass
    class Extended(TrainedModel):
        extra_block: _Block | None = None
        priors: dict[ReplyLabel, float] = dataclasses.field(default_factory=dict)
        tags: frozenset[str] = frozenset()

    base = train(corpus)
    extended = Extended(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(TrainedModel)},
        extra_block=_Block({"after a lesson": 0}, np.array([1.5]), np.ones((1, len(base.labels)))),
        priors={ReplyLabel.CRISIS: 0.01, ReplyLabel.NEUTRAL: 0.2},
        tags=frozenset({"a", "b"}),
    )
    path = tmp_path / "extended.npz"
    extended.save(path)

    loaded = Extended.load(path)

    assert loaded.priors == extended.priors
    assert loaded.tags == extended.tags
    assert loaded.extra_block is not None and loaded.extra_block.vocabulary == {"after a lesson": 0}
    np.testing.assert_array_equal(loaded.extra_block.weights, extended.extra_block.weights)
    assert loaded.probabilities("ok") == base.probabilities("ok")


class _RunsCode:
    """What a hostile pickle holds: loading it would create a file (or do anything else)."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(self.marker),))  # type: ignore[return-value]


def test_a_pickled_model_file_is_refused_and_never_run(corpus: Path, tmp_path: Path) -> None:
    marker = tmp_path / "the-pickle-ran"
    path = tmp_path / "reply-model.npz"
    path.write_bytes(pickle.dumps({"format": 1, "payload": _RunsCode(marker)}, protocol=4))

    with pytest.raises(ModelFileError, match="pickle"):
        TrainedModel.load(path)
    # The classifier refuses it too, and still answers from the packaged corpus.
    assert Classifier.load(path).classify("STOP").label is ReplyLabel.OPT_OUT
    assert not marker.exists()


def test_an_npz_with_pickled_arrays_is_refused(corpus: Path, tmp_path: Path) -> None:
    path = tmp_path / "reply-model.npz"
    np.savez(path, __model__=np.array([{"format": 2}], dtype=object))
    with pytest.raises(ModelFileError):
        TrainedModel.load(path)


@pytest.mark.parametrize(
    "value",
    [
        {"$dataclass": "subprocess:Popen", "fields": {"args": ["true"]}},
        {"$enum": "dripper.readiness.model:np.ndarray", "value": 1},
        {"$dataclass": "dripper.readiness.model:Path", "fields": {}},
    ],
)
def test_a_model_file_cannot_name_classes_outside_dripper(tmp_path: Path, value: object) -> None:
    path = tmp_path / "reply-model.npz"
    header = json.dumps({"format": FORMAT_VERSION, "fields": {"labels": value}})
    np.savez(path, __model__=np.frombuffer(header.encode(), dtype=np.uint8))
    with pytest.raises(ModelFileError):
        TrainedModel.load(path)


def test_a_missing_or_broken_model_file_falls_back_to_training(tmp_path: Path) -> None:
    broken = tmp_path / "broken.npz"
    broken.write_bytes(b"not a model")
    for path in [tmp_path / "absent.npz", broken]:
        assert Classifier.load(path).classify("STOP").label is ReplyLabel.OPT_OUT


def test_fast_inference_matches_scikit_learn(corpus: Path) -> None:
    # The worker scores replies without scikit-learn; it must agree with it to float precision.
    from scipy.sparse import hstack
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from dripper.readiness import model as m

    rows = [(e.text, e.label) for e in read_corpus(corpus) if e.split == "train"]
    texts = [m.model_text(t) for t, _ in rows]
    word = TfidfVectorizer(analyzer=m.word_features, sublinear_tf=True)
    char = TfidfVectorizer(analyzer=m.char_features, sublinear_tf=True, min_df=m.CHAR_MIN_DF)
    x = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    clf = LogisticRegression(C=m.C, class_weight=m.CLASS_WEIGHT, max_iter=m.MAX_ITER).fit(
        x, [lbl.value for _, lbl in rows]
    )
    ours = train(corpus)
    probe = ["he won't listen to me", "so tired", "STOP!!", "🙏 thanks", "zzz"]
    xp = hstack(
        [
            word.transform([m.model_text(t) for t in probe]),
            char.transform([m.model_text(t) for t in probe]),
        ]
    )
    expected = clf.predict_proba(xp)
    got = np.array([ours.probability_vector(t) for t in probe])
    assert [lbl.value for lbl in ours.labels] == list(clf.classes_)
    np.testing.assert_allclose(got, expected, atol=1e-9)


def test_admin_corrections_are_learnt_and_remembered(corpus: Path) -> None:
    text = "my cat walked on the keyboard"
    before = Classifier(train(corpus)).classify(text)
    corrected = Classifier(train(corpus, extra=[(text, "neutral")])).classify(text)
    assert corrected.label is ReplyLabel.NEUTRAL
    assert corrected.confidence == 1.0
    assert before.rule != "correction"


def test_a_correction_of_a_test_row_does_not_leak_into_the_score(corpus: Path) -> None:
    leaked = evaluate(corpus, extra=[(_TEST[ReplyLabel.RESISTANT], "resistant")])
    clean = evaluate(corpus)
    assert leaked.n_train == clean.n_train


def test_evaluate_reports_every_label(corpus: Path) -> None:
    report = evaluate(corpus)
    assert isinstance(report, EvaluationReport)
    assert set(report.labels) == set(ReplyLabel)
    for label in ReplyLabel:
        score = report.scores[label]
        assert 0.0 <= score.precision <= 1.0 and 0.0 <= score.recall <= 1.0
        assert score.support == 1
    assert 0.0 <= report.macro_f1 <= 1.0
    assert sum(map(sum, report.confusion)) == report.n_test == len(_TEST)
    table = report.format()
    for label in ReplyLabel:
        assert label.value in table
    assert "macro-F1" in table and "confusion" in table


def test_keyword_baseline_is_scored_on_the_same_rows(corpus: Path) -> None:
    report = evaluate_keyword_baseline(corpus)
    assert report.n_test == len(_TEST)
    assert report.name == "keyword baseline"


def test_half_written_corpus_files_are_tolerated(tmp_path: Path) -> None:
    (tmp_path / "a.csv").write_text(
        "text,label,split\n"
        '"fine row",engaged,train\n'
        '"unknown label",furious,train\n'
        '"no split",neutral,\n'
        '"bad split",neutral,validation\n'
        ",neutral,train\n"
        '"torn row",resis',
        encoding="utf-8",
    )
    (tmp_path / "b.csv").write_text("", encoding="utf-8")
    (tmp_path / "c.csv").write_text('text,label\n"no split column",neutral\n', encoding="utf-8")
    examples = read_corpus(tmp_path)
    assert [(e.text, e.label, e.split) for e in examples] == [
        ("fine row", ReplyLabel.ENGAGED, "train")
    ]


def test_training_on_nothing_says_so(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        train(tmp_path)


def test_model_file_is_plain_data(corpus: Path, tmp_path: Path) -> None:
    # Arrays and JSON only: numpy reads it with pickle off, and no estimator is inside.
    path = tmp_path / "m.npz"
    train(corpus, out=path)
    with zipfile.ZipFile(path) as archive:
        assert all(name.endswith(".npy") for name in archive.namelist())
    with np.load(path, allow_pickle=False) as stored:
        arrays = {name: stored[name] for name in stored.files}
    assert not any(array.dtype.hasobject for array in arrays.values())
    assert b"sklearn." not in arrays["__model__"].tobytes()
    assert isinstance(TrainedModel.load(path), TrainedModel)


def test_cross_validation_reads_only_the_train_split(corpus: Path) -> None:
    from dripper.readiness.classifier import cross_validate

    report = cross_validate(corpus, folds=3)
    assert report.n_test == sum(len(texts) for texts in _ROWS.values())
    test_texts = set(_TEST.values())
    assert not any(text in test_texts for text, _, _ in report.errors)
    assert cross_validate(corpus, folds=3).format() == report.format()
