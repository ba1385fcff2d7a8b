"""The trained layer of the reply classifier: corpus reading, training and fast inference.

Training uses scikit-learn (TF-IDF word 1-2grams + char_wb 2-5grams -> multinomial logistic
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

from dripper.readiness.labels import ReplyLabel
from dripper.readiness.rules import normalise_text

#: The corpus shipped with the package (CSV files with a ``text,label,split`` header).
CORPUS_DIR = Path(__file__).with_name("corpus")

#: Bumped when the saved file's layout changes, so an old file is retrained instead of misread.
FORMAT_VERSION = 2

# Hyper-parameters, chosen by cross-validation on the training split only (docs/CLASSIFIER.md).
WORD_NGRAMS = (1, 2)
CHAR_NGRAMS = (2, 5)
CHAR_MIN_DF = 2
C = 30.0
# Intents have a fifth of the rows readiness labels have; balancing keeps them from being drowned.
CLASS_WEIGHT = "balanced"
MAX_ITER = 3000

# Very long bodies (up to 1,600 characters) say what they mean early or late; scoring the head
# and the tail keeps the cost of one reply bounded without losing a closing "please stop".
_MAX_MODEL_CHARS = 800
_TOKEN = re.compile(r"(?u)\b\w[\w']*\b")
_WHITE = re.compile(r"\s\s+")


def model_text(text: str) -> str:
    """The normalised form the model sees, bounded in length."""
    norm = normalise_text(text)
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
                example = _example(row)
                if example is not None:
                    examples.append(example)
        except csv.Error:
            continue
    return examples


def _example(row: dict[str | Any, str | Any]) -> Example | None:
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
    return Example(text, parsed, split)


def training_rows(
    examples: Sequence[Example], extra: Iterable[tuple[str, str]] = ()
) -> list[tuple[str, ReplyLabel]]:
    """Train-split rows plus admin corrections; a correction replaces a row with the same text.

    Test rows are never returned, and a correction whose text is a test row is left out, so a
    relabelled reply cannot leak into the held-out score.
    """
    test_texts = {model_text(e.text) for e in examples if e.split == "test"}
    corrections: dict[str, tuple[str, ReplyLabel]] = {}
    for text, label in extra:
        key = model_text(text)
        if key and key not in test_texts:
            corrections[key] = (text, ReplyLabel(label))
    rows = [
        (e.text, e.label)
        for e in examples
        if e.split == "train" and model_text(e.text) not in corrections
    ]
    rows.extend(corrections.values())
    return rows


def fingerprint(rows: Iterable[tuple[str, ReplyLabel]]) -> str:
    """A hash of the training rows, stored with the model to say what it learnt from."""
    digest = hashlib.sha256()
    for text, label in rows:
        digest.update(f"{label.value}\t{text}\n".encode())
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
    """A fitted reply model: labels, two feature blocks, intercepts and what it was trained on."""

    labels: tuple[ReplyLabel, ...]
    word: _Block
    char: _Block
    intercept: np.ndarray
    memory: dict[str, ReplyLabel] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    def probabilities(self, text: str) -> dict[ReplyLabel, float]:
        """Probability of each label for one reply (already normalised or not)."""
        return dict(zip(self.labels, self.probability_vector(text).tolist(), strict=True))

    def probability_vector(self, text: str) -> np.ndarray:
        norm = model_text(text)
        scores = self.intercept.copy()
        self.word.add_scores(word_features(norm), scores)
        self.char.add_scores(char_features(norm), scores)
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


def fit(rows: Sequence[tuple[str, ReplyLabel]], seed: int = 0) -> TrainedModel:
    """Fit the model on (text, label) rows. Same rows and seed give the same weights."""
    # Imported here so that serving replies never pays for scikit-learn.
    import sklearn  # type: ignore[import-untyped]
    from sklearn.feature_extraction.text import TfidfVectorizer  # type: ignore[import-untyped]
    from sklearn.linear_model import LogisticRegression  # type: ignore[import-untyped]

    if len({label for _, label in rows}) < 2:
        raise ValueError("training needs examples of at least two labels")
    texts = [model_text(text) for text, _ in rows]
    y = [label.value for _, label in rows]
    word = TfidfVectorizer(analyzer=word_features, sublinear_tf=True, dtype=np.float64)
    char = TfidfVectorizer(
        analyzer=char_features, sublinear_tf=True, min_df=CHAR_MIN_DF, dtype=np.float64
    )
    from scipy.sparse import hstack  # type: ignore[import-untyped]

    x = hstack([word.fit_transform(texts), char.fit_transform(texts)]).tocsr()
    clf = LogisticRegression(C=C, class_weight=CLASS_WEIGHT, max_iter=MAX_ITER, random_state=seed)
    clf.fit(x, y)
    n_word = len(word.vocabulary_)
    coef = np.ascontiguousarray(clf.coef_.T)  # (n_features, n_labels)
    labels = tuple(ReplyLabel(v) for v in clf.classes_)
    counts = Counter(label.value for _, label in rows)
    return TrainedModel(
        labels=labels,
        word=_Block(dict(word.vocabulary_), word.idf_.copy(), coef[:n_word].copy()),
        char=_Block(dict(char.vocabulary_), char.idf_.copy(), coef[n_word:].copy()),
        intercept=clf.intercept_.astype(np.float64).copy(),
        metadata={
            "rows": len(rows),
            "per_label": dict(sorted(counts.items())),
            "fingerprint": fingerprint(rows),
            "seed": seed,
            "params": {
                "word_ngrams": WORD_NGRAMS,
                "char_ngrams": CHAR_NGRAMS,
                "char_min_df": CHAR_MIN_DF,
                "C": C,
                "class_weight": CLASS_WEIGHT,
            },
            "sklearn": sklearn.__version__,
        },
    )


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
