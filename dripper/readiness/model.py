"""The trained layer of the reply classifier: corpus reading, training and fast inference.

Training uses scikit-learn (TF-IDF word 1-2grams + char_wb 2-5grams, plus the context block of
``dripper.readiness.context`` when the reply answers a question -> multinomial logistic
regression). Inference does not: the fitted vocabularies, idf weights and coefficients are kept
as plain dicts and numpy arrays, and one reply is scored with a few dict look-ups and a small
matrix product. That keeps a worker from importing scikit-learn and scipy (tens of MB and most of
a second) and makes one reply cost tens of microseconds instead of a sparse-matrix round trip.
"""

from __future__ import annotations

import csv
import dataclasses
import enum
import hashlib
import importlib
import io
import json
import math
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path
from typing import Any

import numpy as np

from dripper.labels import ReplyLabel
from dripper.readiness.context import context_features
from dripper.readiness.text import pattern_form

#: The corpus shipped with the package (CSV files with a ``text,label,split`` header, and
#: optionally ``lesson,question``: the question the reply answers).
CORPUS_DIR = Path(__file__).with_name("corpus")

#: Bumped when the saved file's layout changes, so an old file is retrained instead of misread.
FORMAT_VERSION = 3

# Hyper-parameters, chosen by cross-validation on the training split only (docs/CLASSIFIER.md).
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
CHAR_MIN_DF = 2
C = 30.0
# Intents have a fifth of the rows readiness labels have; balancing keeps them from being drowned.
CLASS_WEIGHT = "balanced"
MAX_ITER = 3000
#: How much the context block (question and reply cues, l2-normalised) weighs against each
#: TF-IDF block; chosen by cross-validation grouped by question (docs/CLASSIFIER.md).
CONTEXT_WEIGHT = 1.0

# Very long bodies (up to 1,600 characters) say what they mean early or late; scoring the head
# and the tail keeps the cost of one reply bounded without losing a closing "please stop".
_MAX_MODEL_CHARS = 800
_TOKEN = re.compile(r"(?u)\b\w[\w']*\b")
_WHITE = re.compile(r"\s\s+")


def model_text(text: str) -> str:
    """The normalised form the model sees, bounded in length."""
    norm = pattern_form(text)
    if len(norm) > _MAX_MODEL_CHARS:
        half = _MAX_MODEL_CHARS // 2
        norm = norm[:half] + " " + norm[-half:]
    return norm


def word_features(text: str) -> list[str]:
    """Word unigrams and bigrams. Single letters count: "i", "u" and "k" carry meaning in SMS."""
    tokens = _TOKEN.findall(text)
    features = list(tokens)
    features.extend(f"{a} {b}" for a, b in pairwise(tokens))
    return features


def char_features(text: str) -> list[str]:
    """Character 2-5grams inside word boundaries (scikit-learn's ``char_wb``): typos, emoji."""
    low, high = CHAR_NGRAMS
    features: list[str] = []
    append = features.append
    for word in _WHITE.sub(" ", text).split():
        padded = f" {word} "
        size = len(padded)
        for n in range(low, high + 1):
            if size < n:
                break
            for start in range(size - n + 1):
                append(padded[start : start + n])
    return features


# --------------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Example:
    """One labelled reply from the corpus (or an admin's correction)."""

    text: str
    label: ReplyLabel
    split: str  # "train" or "test"
    question: str | None = None  # the question the reply answers, when known
    lesson: str | None = None  # that question's lesson key
    source: str = ""  # the corpus file's name without .csv


def read_corpus(corpus_dir: Path) -> list[Example]:
    """Read every ``*.csv`` in a folder, skipping rows that are not (yet) complete.

    Corpus files may be half-written while their authors work, so a bad row is skipped rather
    than fatal: an unknown label, an empty text, a split other than train/test, a torn last line.
    Files are read in name order so the same folder always gives the same list.
    """
    examples: list[Example] = []
    for path in sorted(Path(corpus_dir).glob("*.csv")):
        try:
            raw = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError:
            continue
        if not raw.endswith("\n"):
            # A writer is mid-row: drop the torn tail instead of learning half a sentence.
            raw = raw[: raw.rfind("\n") + 1]
        try:
            for row in csv.DictReader(io.StringIO(raw)):
                example = _example(row, path.stem)
                if example is not None:
                    examples.append(example)
        except csv.Error:
            continue
    return examples


def _example(row: dict[str | Any, str | Any], source: str = "") -> Example | None:
    text, label, split = (row.get(key) for key in ("text", "label", "split"))
    if not isinstance(text, str) or not isinstance(label, str) or not isinstance(split, str):
        return None
    split = split.strip().lower()
    try:
        parsed = ReplyLabel(label.strip().lower())
    except ValueError:
        return None
    if split not in {"train", "test"} or not text.strip():
        return None
    question, lesson = row.get("question"), row.get("lesson")
    return Example(
        text,
        parsed,
        split,
        question=question.strip() or None if isinstance(question, str) else None,
        lesson=lesson.strip() or None if isinstance(lesson, str) else None,
        source=source,
    )


#: A training row: the reply, its label and the question it answers (None when read alone).
Row = tuple[str, ReplyLabel, str | None]


def training_rows(examples: Sequence[Example], extra: Iterable[tuple[str, str]] = ()) -> list[Row]:
    """Train-split rows plus admin corrections; a correction replaces a row with the same text.

    Test rows are never returned, and a correction whose text is a test row is left out, so a
    relabelled reply cannot leak into the held-out score.
    """
    test_texts = {model_text(e.text) for e in examples if e.split == "test"}
    corrections: dict[str, Row] = {}
    for text, label in extra:
        key = model_text(text)
        if key and key not in test_texts:
            corrections[key] = (text, ReplyLabel(label), None)
    rows: list[Row] = [
        (e.text, e.label, e.question)
        for e in examples
        if e.split == "train" and model_text(e.text) not in corrections
    ]
    rows.extend(corrections.values())
    return rows


def fingerprint(rows: Iterable[Row]) -> str:
    """A hash of the training rows, stored with the model to say what it learnt from."""
    digest = hashlib.sha256()
    for text, label, question in rows:
        asked = f"\t{question}" if question else ""
        digest.update(f"{label.value}\t{text}{asked}\n".encode())
    return digest.hexdigest()


# --------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------
@dataclass
class _Block:
    """One TF-IDF feature space with its slice of the classifier's weights."""

    vocabulary: dict[str, int]
    idf: np.ndarray  # (n_features,)
    weights: np.ndarray  # (n_features, n_labels)

    def add_scores(self, features: list[str], scores: np.ndarray) -> None:
        counts = Counter(i for f in features if (i := self.vocabulary.get(f)) is not None)
        if not counts:
            return
        index = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float64, count=len(counts))
        # sublinear_tf and l2 norm, exactly as TfidfVectorizer computes them.
        values = (1.0 + np.log(tf)) * self.idf[index]
        values /= math.sqrt(float(values @ values))
        scores += values @ self.weights[index]


@dataclass
class TrainedModel:
    """A fitted reply model: labels, three feature blocks, intercepts and what it was trained on.

    ``context`` scores the pairs of question and reply cues (``dripper.readiness.context``); it
    adds nothing when a reply is read without its question.
    """

    labels: tuple[ReplyLabel, ...]
    word: _Block
    char: _Block
    intercept: np.ndarray
    context: _Block | None = None
    memory: dict[str, ReplyLabel] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, text: str, question: str | None = None) -> dict[ReplyLabel, float]:
        """Probability of each label for one reply (already normalised or not)."""
        probs = self.probability_vector(text, question).tolist()
        return dict(zip(self.labels, probs, strict=True))

    def probability_vector(self, text: str, question: str | None = None) -> np.ndarray:
        norm = model_text(text)
        scores = self.intercept.copy()
        self.word.add_scores(word_features(norm), scores)
        self.char.add_scores(char_features(norm), scores)
        if self.context is not None and question:
            self.context.add_scores(context_features(norm, question), scores)
        scores -= scores.max()
        np.exp(scores, out=scores)
        scores /= scores.sum()
        return scores

    def remembered(self, text: str) -> ReplyLabel | None:
        """The label an admin gave this exact text, if one did."""
        return self.memory.get(model_text(text)) if self.memory else None

    def save(self, path: Path) -> None:
        """Write every field as data only: arrays in an ``.npz`` file, the rest as JSON in it."""
        arrays: dict[str, np.ndarray] = {}
        fields = {f.name: _encode(getattr(self, f.name), arrays) for f in dataclasses.fields(self)}
        header = json.dumps({"format": FORMAT_VERSION, "fields": fields}, ensure_ascii=False)
        arrays[_HEADER] = np.frombuffer(header.encode(), dtype=np.uint8)
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        with tmp.open("wb") as out:
            # Uncompressed: loading is a read, not a decompression.
            np.savez(out, allow_pickle=False, **arrays)
        tmp.replace(path)  # a worker loading mid-write sees the old file or the new, never half

    @classmethod
    def load(cls, path: Path) -> TrainedModel:
        """Read a file written by :meth:`save`; ``ModelFileError`` for anything else.

        The file lives on a volume several processes share, so whoever can write it must not
        be able to run code in them: nothing in it is unpickled, and a pickle is refused.
        """
        path = Path(path)
        with path.open("rb") as file:
            head = file.read(len(_ZIP_MAGIC))
        if head != _ZIP_MAGIC:
            what = (
                "is a pickle, which is never loaded (unpickling runs whatever code it holds)"
                if head[:1] == b"\x80"
                else "is not an .npz reply model"
            )
            raise ModelFileError(
                f"{path} {what}: refused. Write a new one with `flask --app web classifier train`."
            )
        try:
            with np.load(path, allow_pickle=False) as stored:
                arrays = {name: stored[name] for name in stored.files}
            header = json.loads(arrays.pop(_HEADER).tobytes().decode())
        except (ValueError, KeyError, OSError, zipfile.BadZipFile) as error:
            raise ModelFileError(f"{path} is not a readable reply model: {error}") from error
        if not isinstance(header, dict) or header.get("format") != FORMAT_VERSION:
            raise ModelFileError(f"{path} is not a reply model of format {FORMAT_VERSION}")
        try:
            fields = {name: _decode(value, arrays) for name, value in header["fields"].items()}
            return cls(**fields)
        except (TypeError, ValueError, KeyError, AttributeError, ImportError) as error:
            raise ModelFileError(f"{path} holds another model layout ({error}): retrain") from error


# --------------------------------------------------------------------------------------------
# Storage: a model file is data, never code
# --------------------------------------------------------------------------------------------
class ModelFileError(ValueError):
    """A model file that :meth:`TrainedModel.save` did not write (a pickle, say): refused."""


_ZIP_MAGIC = b"PK\x03\x04"  # every .npz is a zip archive
_HEADER = "__model__"  # the JSON member: format, and every field with its arrays named
#: Only classes of this package are rebuilt from a file, and only dataclasses and enums.
_OWN_PACKAGE = "dripper."


def _encode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    """``value`` as JSON, its numpy arrays moved to ``arrays`` (so any new field travels)."""
    if isinstance(value, np.ndarray):
        if value.dtype.hasobject:
            raise TypeError("object arrays would need pickle")
        key = f"a{len(arrays)}"
        arrays[key] = value
        return {"$array": key}
    if isinstance(value, enum.Enum):  # before str: a StrEnum is a str
        return {"$enum": _class_name(type(value)), "value": value.value}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        fields = {
            f.name: _encode(getattr(value, f.name), arrays) for f in dataclasses.fields(value)
        }
        return {"$dataclass": _class_name(type(value)), "fields": fields}
    if isinstance(value, tuple):
        return {"$tuple": [_encode(item, arrays) for item in value]}
    if isinstance(value, set | frozenset):
        return {"$set": [_encode(item, arrays) for item in sorted(value, key=repr)]}
    if isinstance(value, list):
        return [_encode(item, arrays) for item in value]
    if isinstance(value, dict):
        if all(type(key) is str and not key.startswith("$") for key in value):
            return {key: _encode(item, arrays) for key, item in value.items()}
        return {"$dict": [[_encode(k, arrays), _encode(v, arrays)] for k, v in value.items()]}
    if isinstance(value, np.generic):
        return value.item()
    if value is None or type(value) in (str, int, float, bool):
        return value
    raise TypeError(f"a reply model cannot store a {type(value).__name__}")


def _decode(value: Any, arrays: dict[str, np.ndarray]) -> Any:
    if isinstance(value, list):
        return [_decode(item, arrays) for item in value]
    if not isinstance(value, dict):
        return value
    if "$array" in value:
        return arrays[value["$array"]]
    if "$enum" in value:
        return _own_class(value["$enum"], enum.Enum)(value["value"])
    if "$dataclass" in value:
        fields = {k: _decode(v, arrays) for k, v in value["fields"].items()}
        return _own_class(value["$dataclass"], None)(**fields)
    if "$tuple" in value:
        return tuple(_decode(item, arrays) for item in value["$tuple"])
    if "$set" in value:
        return frozenset(_decode(item, arrays) for item in value["$set"])
    if "$dict" in value:
        return {_decode(k, arrays): _decode(v, arrays) for k, v in value["$dict"]}
    return {key: _decode(item, arrays) for key, item in value.items()}


def _class_name(kind: type) -> str:
    return f"{kind.__module__}:{kind.__qualname__}"


def _own_class(name: str, base: type | None) -> Any:
    """A dataclass (``base`` None) or enum of this package, by the name :func:`_class_name` gave."""
    module, _, qualname = name.partition(":")
    if not module.startswith(_OWN_PACKAGE):
        raise ValueError(f"{name} is not a class of dripper")
    kind: Any = importlib.import_module(module)
    for part in qualname.split("."):
        kind = getattr(kind, part)
    if not (isinstance(kind, type) and kind.__module__.startswith(_OWN_PACKAGE)):
        raise ValueError(f"{name} is not a class of dripper")
    if not (dataclasses.is_dataclass(kind) if base is None else issubclass(kind, base)):
        raise ValueError(f"{name} is not a stored kind of value")
    return kind


def fit(rows: Sequence[tuple[str, ReplyLabel] | Row], seed: int = 0) -> TrainedModel:
    """Fit on (text, label) or (text, label, question) rows. Same rows and seed, same weights."""
    # Imported here so that serving replies never pays for scikit-learn.
    import sklearn  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    if len({row[1] for row in rows}) < 2:
        raise ValueError("training needs examples of at least two labels")
    full: list[Row] = [(r[0], r[1], r[2] if len(r) > 2 else None) for r in rows]  # type: ignore[misc]
    texts = [model_text(text) for text, _, _ in full]
    y = [label.value for _, label, _ in full]
    word = TfidfVectorizer(analyzer=word_features, sublinear_tf=True, dtype=np.float64)
    char = TfidfVectorizer(
        analyzer=char_features, sublinear_tf=True, min_df=CHAR_MIN_DF, dtype=np.float64
    )
    from scipy.sparse import hstack  # type: ignore[import-untyped]

    x_context, context_vocabulary = context_matrix(
        [context_features(norm, q) for norm, (_, _, q) in zip(texts, full, strict=True)]
    )
    x = hstack([word.fit_transform(texts), char.fit_transform(texts), x_context]).tocsr()
    clf = LogisticRegression(C=C, class_weight=CLASS_WEIGHT, max_iter=MAX_ITER, random_state=seed)
    clf.fit(x, y)
    n_word, n_char = len(word.vocabulary_), len(char.vocabulary_)
    coef = np.ascontiguousarray(clf.coef_.T)  # (n_features, n_labels)
    labels = tuple(ReplyLabel(v) for v in clf.classes_)
    counts = Counter(label.value for _, label, _ in full)
    context = None
    if context_vocabulary:
        # Trained on l2-normalised rows scaled by CONTEXT_WEIGHT; serving normalises without the
        # scale, so the weight is folded into the coefficients here.
        context = _Block(
            context_vocabulary,
            np.ones(len(context_vocabulary)),
            coef[n_word + n_char :].copy() * CONTEXT_WEIGHT,
        )
    return TrainedModel(
        labels=labels,
        word=_Block(dict(word.vocabulary_), word.idf_.copy(), coef[:n_word].copy()),
        char=_Block(
            dict(char.vocabulary_), char.idf_.copy(), coef[n_word : n_word + n_char].copy()
        ),
        intercept=clf.intercept_.astype(np.float64).copy(),
        context=context,
        metadata={
            "rows": len(rows),
            "rows_with_question": sum(1 for _, _, q in full if q),
            "per_label": dict(sorted(counts.items())),
            "fingerprint": fingerprint(full),
            "seed": seed,
            "params": {
                "word_ngrams": WORD_NGRAMS,
                "char_ngrams": CHAR_NGRAMS,
                "char_min_df": CHAR_MIN_DF,
                "C": C,
                "class_weight": CLASS_WEIGHT,
                "context_weight": CONTEXT_WEIGHT,
            },
            "sklearn": sklearn.__version__,
        },
    )


def context_matrix(features: Sequence[list[str]]) -> tuple[Any, dict[str, int]]:
    """The context block as a sparse matrix (binary, l2 per row, times CONTEXT_WEIGHT)."""
    from scipy.sparse import csr_matrix

    vocabulary: dict[str, int] = {}
    for row in features:
        for name in row:
            vocabulary.setdefault(name, len(vocabulary))
    data: list[float] = []
    indices: list[int] = []
    indptr = [0]
    for row in features:
        unique = sorted({vocabulary[name] for name in row})
        if unique:
            value = CONTEXT_WEIGHT / math.sqrt(len(unique))
            indices.extend(unique)
            data.extend([value] * len(unique))
        indptr.append(len(indices))
    matrix = csr_matrix(
        (np.array(data, dtype=np.float64), np.array(indices, dtype=np.int64), indptr),
        shape=(len(features), len(vocabulary)),
    )
    return matrix, vocabulary


def train(
    corpus_dir: Path | None = None,
    extra: Iterable[tuple[str, str]] = (),
    out: Path | None = None,
    seed: int = 0,
) -> TrainedModel:
    """Train on the corpus's train split plus admin corrections; save to ``out`` when given.

    ``extra`` holds (text, label) corrections from ``reply relabel``. They join the training rows
    and are also remembered verbatim, so the corrected text gets its corrected label at once.
    """
    examples = read_corpus(CORPUS_DIR if corpus_dir is None else corpus_dir)
    extra = [(text, str(label)) for text, label in extra]
    rows = training_rows(examples, extra)
    if not rows:
        raise ValueError(f"no training rows in {corpus_dir or CORPUS_DIR}")
    model = fit(rows, seed=seed)
    test_texts = {model_text(e.text) for e in examples if e.split == "test"}
    model.memory = {
        key: ReplyLabel(label)
        for text, label in extra
        if (key := model_text(text)) and key not in test_texts
    }
    model.metadata["corrections"] = len(model.memory)
    if out is not None:
        model.save(out)
    return model
