"""The reply classifier: what a subscriber's SMS reply means, with how sure we are.

Layers run cheapest first, and each may settle the reply:

1. ``keyword``: the whole message is an SMS keyword (``parse_command``): STOP, HELP, PAUSE 3, ...
2. ``safety``: crisis patterns, then the model's crisis probability. This runs before the
   plain-language commands so that "stop texting me, i have pills saved up" is a crisis first.
3. ``command``: plain-language commands with their arguments ("pause till monday").
4. ``model``: the trained model, for readiness labels and any intent the rules left open.

Pacing should take the gentlest path whenever ``needs_review`` is set. ``crisis_review`` marks a
reply that may be about danger but reads as a worry, a plan or a hypothetical: the team should be
alerted to read it, and the person is *not* texted the crisis lines.

A reply is read in its conversation: ``classify(text, question)`` takes the question it answers
(``dripper.readiness.context``), so a report of the loved one's pushback reads as engagement.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, time
from enum import StrEnum
from pathlib import Path

import numpy as np

from dripper.keywords import DEFAULT_PAUSE_DAYS, Command, Keyword, parse_command
from dripper.labels import READINESS_LABELS, ReplyLabel
from dripper.readiness.commands import asks_what_we_mean, match_command
from dripper.readiness.crisis import crisis_assessment, has_risk_words, without_figures
from dripper.readiness.dates import pause_days, reschedule_time
from dripper.readiness.evaluation import EvaluationReport, score
from dripper.readiness.model import (
    CORPUS_DIR,
    Example,
    TrainedModel,
    fit,
    read_corpus,
    train,
    training_rows,
)
from dripper.readiness.opt_out import mentions_service, opt_out_negated, own_habit
from dripper.readiness.text import pattern_form

__all__ = [
    "ANSWERS_SOURCE",
    "OTHER_SITUATIONS_DIR",
    "STANDALONE_SOURCES",
    "Classification",
    "Classifier",
    "EvaluationReport",
    "TrainedModel",
    "cross_validate",
    "cross_validate_by_question",
    "evaluate",
    "evaluate_in_context",
    "train",
]

log = logging.getLogger(__name__)

#: Below this confidence a reply is flagged for review and pacing takes the gentlest path.
REVIEW_THRESHOLD = 0.5
#: The model's crisis probability that raises a crisis on its own ...
CRISIS_PROBABILITY = 0.5
#: ... and the lower one that does when the reply also uses a word that can carry danger
#: (``crisis.has_risk_words``): two weak signals agreeing. Low on purpose, because a missed crisis
#: costs far more than an admin reading a false alarm. Both were chosen by cross-validation on the
#: training split for about 2% false alarms on replies that are not crises.
CRISIS_PROBABILITY_WITH_RISK_WORDS = 0.25
#: Below the crisis thresholds, a crisis probability this high with a word that can carry danger
#: flags the reply for the team to read (``crisis_review``), without texting the crisis lines.
CRISIS_REVIEW_PROBABILITY = 0.15
#: When the rules read a reply's danger words as a hypothetical, plan or chronic worry, or as a
#: past event now over, the model alone must be this sure to call it a crisis all the same.
CRISIS_OVERRULE_PROBABILITY = 0.8
#: A reply with no word that can carry danger needs at least this many words before the model
#: alone may call it a crisis.
MODEL_CRISIS_MIN_WORDS = 4
#: The model alone may opt a subscriber out only when this sure; below it the runner-up label is
#: used. A false opt-out silences someone for good, and the rules catch the plain requests.
MODEL_OPT_OUT_MIN = 0.7
#: The model alone may read a reply as asking for another lesson (``more``) only when this sure:
#: an extra lesson is more pressure, so a guess must not send one ("kill me now, another family
#: meeting tomorrow" was ``more`` at 0.57). Below it the runner-up label is used.
MODEL_MORE_MIN = 0.7
#: ... and as a question about the program (``help``) only when it is not unsure: an unsure
#: ``help`` answers the person's own words with the program's boilerplate and does not count
#: them as an answer ("did it twice today, easier the second time" was ``help`` at 0.23).
#: Guesses that ease off (``pause``, ``reschedule``) stand: a misreading costs a short break,
#: a missed request costs lessons the person asked not to get.
MODEL_HELP_MIN = REVIEW_THRESHOLD
_UNSURE_INTENT_BELOW = {ReplyLabel.MORE: MODEL_MORE_MIN, ReplyLabel.HELP: MODEL_HELP_MIN}
#: The rule of a question about what the lesson or its question means, asked while a question
#: of the course is open: ``engaged``, for review (the conversation layer answers it briefly).
CLARIFICATION = "clarification"
#: A reply read alone with a crisis or opt-out probability this high may be one as the answer
#: to some question, so it is acted on where it arrives (``Classifier.urgent``). Without words
#: that can carry danger (those are urgent anyway), the model alone calls a crisis at
#: ``CRISIS_PROBABILITY`` (0.5) and an opt-out at ``MODEL_OPT_OUT_MIN`` (0.7); over the corpus,
#: a question of the shipped course moves the crisis probability up by at most 0.10 and the
#: opt-out one by at most 0.18, so 0.25 leaves more than twice the largest move on each.
#: tests/unit/test_urgent_replies.py checks both the moves and the replies themselves.
URGENT_PROBABILITY = 0.25
#: What a reply read alone may be that must not wait for a worker.
_URGENT_LABELS = frozenset({ReplyLabel.CRISIS, ReplyLabel.OPT_OUT, ReplyLabel.PAUSE})

# Confidence reported for rule decisions. Exact keywords are certain; plain-language rules are
# narrow but still wording, so they sit just under certainty.
_KEYWORD_CONFIDENCE = 1.0
_SAFETY_CONFIDENCE = 0.95
_COMMAND_CONFIDENCE = 0.9


#: The corpus files of replies read alone: the original held-out split is their test rows.
STANDALONE_SOURCES = ("intents", "readiness")
#: The corpus file of answers to the course's questions (split by question).
ANSWERS_SOURCE = "answers"
#: Replies about other helping situations, never trained on (docs/LABELLING.md).
OTHER_SITUATIONS_DIR = CORPUS_DIR / "heldout"

_KEYWORD_LABELS = {
    Keyword.STOP: ReplyLabel.OPT_OUT,
    Keyword.HELP: ReplyLabel.HELP,
    Keyword.PAUSE: ReplyLabel.PAUSE,
    Keyword.MORE: ReplyLabel.MORE,
    Keyword.TIME: ReplyLabel.RESCHEDULE,
    # Subscription commands say nothing about readiness; the conversation layer acts on the
    # attached command.
    Keyword.JOIN: ReplyLabel.NEUTRAL,
    Keyword.START: ReplyLabel.NEUTRAL,
    Keyword.YES: ReplyLabel.NEUTRAL,
    Keyword.UNSTOP: ReplyLabel.NEUTRAL,
    Keyword.RESUME: ReplyLabel.NEUTRAL,
}


class Layer(StrEnum):
    """The layer that decided a reply (see the module's docstring)."""

    KEYWORD = "keyword"
    SAFETY = "safety"
    COMMAND = "command"
    MODEL = "model"


@dataclass(frozen=True)
class Classification:
    """What one reply means.

    ``command`` is set only when the whole message was an SMS keyword. ``days`` (pause length)
    and ``at`` (new send time) are set for pause and reschedule when the reply names them.
    ``rule`` names the pattern that decided, for admins reading a decision.
    """

    text: str
    label: ReplyLabel
    confidence: float
    layer: Layer
    command: Command | None = None
    days: int | None = None
    at: time | None = None
    needs_review: bool = False
    rule: str | None = None
    #: Possibly about danger, but read as a worry, plan or hypothetical: alert the team to review
    #: it; do not text the crisis lines. Always comes with ``needs_review``.
    crisis_review: bool = False
    #: The safety pattern (or ``"model_crisis"``) that raised ``crisis_review``.
    review_rule: str | None = None


class Classifier:
    """Classifies replies with the layers above; cheap to call, safe to share across threads."""

    def __init__(
        self,
        model: TrainedModel,
        *,
        today: Callable[[], date] = date.today,
        course_keywords: frozenset[str] = frozenset(),
    ) -> None:
        # ``today`` is injectable so the sandbox clock decides what "till monday" means.
        self.model = model
        self.today = today
        self.course_keywords = course_keywords
        self._crisis = (
            model.labels.index(ReplyLabel.CRISIS) if ReplyLabel.CRISIS in model.labels else None
        )

    @classmethod
    def load(
        cls,
        path: Path | None = None,
        *,
        today: Callable[[], date] = date.today,
        course_keywords: frozenset[str] = frozenset(),
    ) -> Classifier:
        """Load a saved model; without one, train from the packaged corpus in memory.

        The app passes its ``CLASSIFIER_MODEL_PATH`` (``dripper.readiness.service``). A missing or
        unreadable file is not fatal: replies must still be classified, so the packaged corpus is
        used instead.
        """
        model: TrainedModel | None = None
        if path is not None and Path(path).is_file():
            try:
                model = TrainedModel.load(Path(path))
            except (ValueError, OSError) as error:  # a refused pickle is a ValueError
                log.warning("reply model not loaded, using the packaged corpus: %s", error)
                model = None
        if model is None:
            model = train(CORPUS_DIR)
        return cls(model, today=today, course_keywords=course_keywords)

    def classify_many(
        self, texts: Iterable[str], questions: Iterable[str | None] | None = None
    ) -> list[Classification]:
        """Classify several replies; the same as calling :meth:`classify` on each."""
        if questions is None:
            return [self.classify(text) for text in texts]
        return [self.classify(t, q) for t, q in zip(texts, questions, strict=True)]

    def classify(self, text: str, question: str | None = None) -> Classification:
        """Classify one reply, read as the answer to ``question`` when it is known.

        ``question`` is the last question the course sent (its text); ``None`` reads the reply
        alone. Never raises on odd input: empty, emoji, 1,600 characters.
        """
        return self._read(text, question)[0]

    def _read(self, text: str, question: str | None) -> tuple[Classification, np.ndarray | None]:
        """``classify``, and the model's probabilities for the reply when it was read that far
        (None when a keyword, an empty reply or the safety rules decided it first)."""
        text = text if isinstance(text, str) else ""
        question = question if isinstance(question, str) and question.strip() else None
        command = parse_command(text, self.course_keywords)
        if command is not None:
            # parse_command returns None for sentences that merely start with a keyword
            # ("time to let go of trying to fix him"), so a command here is a real keyword.
            return self._keyword(text, command), None
        norm = pattern_form(text)
        if not norm:
            return Classification(text, ReplyLabel.NEUTRAL, 1.0, Layer.KEYWORD, rule="empty"), None

        reason, review = crisis_assessment(norm)
        if reason:
            return Classification(
                text,
                ReplyLabel.CRISIS,
                _SAFETY_CONFIDENCE,
                Layer.SAFETY,
                needs_review=True,
                rule=reason,
            ), None
        probs = self.model.probability_vector(norm, question)
        if self._crisis is not None:
            p, verdict = self._crisis_probability(norm, probs, question)
            if verdict == "crisis" and review is not None and p < CRISIS_OVERRULE_PROBABILITY:
                # The rules read the danger words as a hypothetical, plan or chronic worry; only
                # a sure model overrules them.
                verdict = "review"
            if verdict == "crisis":
                return Classification(
                    text, ReplyLabel.CRISIS, p, Layer.SAFETY, needs_review=True, rule="model_crisis"
                ), probs
            if verdict == "review" and review is None:
                review = "model_crisis"

        if hit := match_command(norm, self.today()):
            return Classification(
                text,
                hit.label,
                _COMMAND_CONFIDENCE,
                Layer.COMMAND,
                days=hit.days,
                at=hit.at,
                needs_review=review is not None,
                rule=hit.rule,
                crisis_review=review is not None,
                review_rule=review,
            ), probs

        if (remembered := self.model.remembered(norm)) is not None:
            # An admin corrected this very text; trust them over the model.
            return self._decided(text, norm, remembered, 1.0, "correction", review), probs

        order = [int(i) for i in probs.argsort()[::-1]]
        if self._crisis is not None:
            # Crisis comes only through the safety layer above; here it would be the model alone.
            order.remove(self._crisis)
        best = self.model.labels[order[0]]
        confidence = float(probs[order[0]])
        if best is ReplyLabel.OPT_OUT and not self._model_may_opt_out(norm, confidence):
            best = self.model.labels[order[1]]
            confidence = float(probs[order[1]])
        elif _UNSURE_INTENT_BELOW.get(best, 0.0) > confidence:
            # Not sure enough to act on: read as an answer, by the best answer label.
            answer = next(i for i in order if self.model.labels[i] in READINESS_LABELS)
            best, confidence = self.model.labels[answer], float(probs[answer])
        if best is ReplyLabel.HELP and question is not None and asks_what_we_mean(norm):
            # "what do you mean by that?" just after a lesson asks about the lesson, not the
            # program: the HELP text would not answer it.
            return Classification(
                text,
                ReplyLabel.ENGAGED,
                confidence,
                Layer.MODEL,
                needs_review=True,
                rule=CLARIFICATION,
                crisis_review=review is not None,
                review_rule=review,
            ), probs
        return self._decided(text, norm, best, confidence, None, review), probs

    def urgent(self, text: str) -> bool:
        """Whether ``text``, as the answer to any question, could be a crisis, a worry for the
        team, an opt-out or a pause: such a reply must be acted on at once, never wait for a
        worker.

        Reads the reply alone (no question), then widens the net: words that can carry
        danger, or a crisis or opt-out probability of ``URGENT_PROBABILITY``, are enough.
        """
        result, probs = self._read(text, None)
        if result.label in _URGENT_LABELS or result.crisis_review:
            return True
        if result.layer is Layer.KEYWORD:
            return False
        norm = pattern_form(text)
        if has_risk_words(norm):
            return True
        # Read by the model: _read returns no probabilities only for a keyword, an empty
        # reply or the safety layer's crisis, each answered above.
        assert probs is not None
        return any(
            float(probs[self.model.labels.index(label)]) >= URGENT_PROBABILITY
            for label in (ReplyLabel.CRISIS, ReplyLabel.OPT_OUT)
            if label in self.model.labels
        )

    @staticmethod
    def _model_may_opt_out(norm: str, p: float) -> bool:
        # Four checks, because a false opt-out silences a subscriber for good: the model is sure,
        # the reply talks about our messages or a stop word, and it does not say "don't stop".
        # A resolution about their own habit ("i need to stop texting them so much") is change
        # talk, whatever the model thinks.
        return (
            p >= MODEL_OPT_OUT_MIN
            and mentions_service(norm)
            and not opt_out_negated(norm)
            and not own_habit(norm)
        )

    def _crisis_probability(
        self, norm: str, probs: np.ndarray, question: str | None = None
    ) -> tuple[float, str | None]:
        """The model's crisis probability and its verdict: ``"crisis"``, ``"review"`` or None.

        The model learnt "die" and "kill" from real crises, so figures of speech ("i could die
        of embarrassment") and imagined or planned dangers ("if he ever…") are taken out and the
        reply scored again before its word counts.
        """
        assert self._crisis is not None
        p = float(probs[self._crisis])
        if p < CRISIS_REVIEW_PROBABILITY:
            return p, None
        plain = without_figures(norm)
        if plain != norm:
            p = float(self.model.probability_vector(plain, question)[self._crisis])
        risky = has_risk_words(plain)
        if not risky and has_risk_words(norm):
            # Every word that could carry danger was explained away (a past overdose now over, a
            # hypothetical, a figure of speech): what is left is no evidence of danger now, and
            # a sure model is worth a person's look, not the crisis lines.
            return p, ("review" if p >= CRISIS_PROBABILITY else None)
        if not risky and len(plain.split()) < MODEL_CRISIS_MIN_WORDS:
            # "again", "here we go again": too few words for the model alone to say danger;
            # short crises in plain words ("kms", "i took pills") are the safety rules' job.
            return p, None
        if p >= CRISIS_PROBABILITY or (p >= CRISIS_PROBABILITY_WITH_RISK_WORDS and risky):
            return p, "crisis"
        if risky and p >= CRISIS_REVIEW_PROBABILITY:
            return p, "review"
        return p, None

    def _decided(
        self,
        text: str,
        norm: str,
        label: ReplyLabel,
        confidence: float,
        rule: str | None,
        review: str | None = None,
    ) -> Classification:
        # Intents the model found still carry their arguments when the reply names them.
        days = pause_days(norm, self.today()) if label is ReplyLabel.PAUSE else None
        at = reschedule_time(norm) if label is ReplyLabel.RESCHEDULE else None
        return Classification(
            text,
            label,
            confidence,
            Layer.MODEL,
            days=days,
            at=at,
            needs_review=(
                confidence < REVIEW_THRESHOLD or label is ReplyLabel.CRISIS or review is not None
            ),
            rule=rule,
            crisis_review=review is not None,
            review_rule=review,
        )

    def _keyword(self, text: str, command: Command) -> Classification:
        label = _KEYWORD_LABELS[command.keyword]
        days = command.days
        if command.keyword is Keyword.PAUSE and days is None and command.error is None:
            days = DEFAULT_PAUSE_DAYS
        return Classification(
            text,
            label,
            _KEYWORD_CONFIDENCE,
            Layer.KEYWORD,
            command=command,
            days=days,
            at=command.at,
            needs_review=False,
            rule=command.word,
        )


def evaluate(
    corpus_dir: Path | None = None,
    *,
    extra: Iterable[tuple[str, str]] = (),
    seed: int = 0,
    today: Callable[[], date] = date.today,
    sources: Iterable[str] | None = None,
) -> EvaluationReport:
    """Train on the train split (plus corrections), classify every test row with all layers.

    ``sources`` limits the scored test rows to those corpus files (``STANDALONE_SOURCES`` is
    the original held-out split); each row is read with its question when it has one.
    """
    corpus_dir = CORPUS_DIR if corpus_dir is None else corpus_dir
    examples = read_corpus(corpus_dir)
    extra = list(extra)
    model = train(corpus_dir, extra=extra, seed=seed)
    keep = None if sources is None else set(sources)
    tests = [e for e in examples if e.split == "test" and (keep is None or e.source in keep)]
    return _score_examples(
        "classifier", Classifier(model, today=today), tests, len(training_rows(examples, extra))
    )


def _score_examples(
    name: str, classifier: Classifier, tests: Sequence[Example], n_train: int = 0
) -> EvaluationReport:
    results = classifier.classify_many((e.text for e in tests), (e.question for e in tests))
    return score(
        name,
        [e.label for e in tests],
        [r.label for r in results],
        texts=[e.text for e in tests],
        n_train=n_train,
        layers=dict(Counter(r.layer for r in results)),
        reviews=sum(r.crisis_review for r in results),
    )


def evaluate_in_context(
    corpus_dir: Path | None = None,
    *,
    seed: int = 0,
    today: Callable[[], date] = date.today,
    other_dir: Path | None = None,
) -> dict[str, EvaluationReport]:
    """One model, three held-out checks: replies alone, unseen questions, other situations.

    * ``"held-out split"``: the test rows of the files of replies read alone;
    * ``"held-out questions"``: answers to the course's questions no training row answers;
    * ``"other situations"``: replies about other helping situations, never trained on.
    """
    corpus_dir = CORPUS_DIR if corpus_dir is None else corpus_dir
    other_dir = OTHER_SITUATIONS_DIR if other_dir is None else other_dir
    examples = read_corpus(corpus_dir)
    classifier = Classifier(train(corpus_dir, seed=seed), today=today)
    n_train = len(training_rows(examples))
    tests = [e for e in examples if e.split == "test"]
    alone = [e for e in tests if e.source in STANDALONE_SOURCES]
    answers = [e for e in tests if e.source == ANSWERS_SOURCE]
    return {
        "held-out split": _score_examples("held-out split", classifier, alone, n_train),
        "held-out questions": _score_examples(
            f"answers to {len({e.lesson for e in answers})} held-out questions",
            classifier,
            answers,
            n_train,
        ),
        "other situations": _score_examples(
            "other helping situations", classifier, read_corpus(other_dir), n_train
        ),
    }


def cross_validate_by_question(
    corpus_dir: Path | None = None,
    *,
    folds: int = 4,
    seed: int = 0,
    today: Callable[[], date] = date.today,
) -> EvaluationReport:
    """Cross-validation grouped by question over the train split's answers.

    Each fold holds out every answer to a group of questions and trains on everything else in
    the train split (replies read alone included), so each answer is scored by a model that
    never saw its question. Questions are shuffled with ``seed`` and dealt into ``folds`` groups.
    The test split is never read.
    """
    import random

    examples = [
        e
        for e in read_corpus(CORPUS_DIR if corpus_dir is None else corpus_dir)
        if e.split == "train"
    ]
    lessons = sorted({e.lesson for e in examples if e.lesson})
    random.Random(seed).shuffle(lessons)
    truth: list[ReplyLabel] = []
    predicted: list[ReplyLabel] = []
    texts: list[str] = []
    layers: Counter[str] = Counter()
    reviews = 0
    for fold in range(min(folds, len(lessons))):
        held = set(lessons[fold::folds])
        model = fit([(e.text, e.label, e.question) for e in examples if e.lesson not in held])
        classifier = Classifier(model, today=today)
        for e in examples:
            if e.lesson in held:
                result = classifier.classify(e.text, e.question)
                truth.append(e.label)
                predicted.append(result.label)
                texts.append(e.text)
                layers[result.layer] += 1
                reviews += result.crisis_review
    return score(
        f"{folds}-fold cross-validation grouped by question (train split)",
        truth,
        predicted,
        texts=texts,
        layers=dict(layers),
        reviews=reviews,
    )


def cross_validate(
    corpus_dir: Path | None = None,
    *,
    folds: int = 5,
    seed: int = 0,
    today: Callable[[], date] = date.today,
) -> EvaluationReport:
    """K-fold cross-validation over the train split only, through all layers.

    The test split is never read, so thresholds and patterns can be tuned against this report
    without touching the held-out score. Rows are shuffled with ``seed`` before folding.
    """
    import random

    examples = [
        e
        for e in read_corpus(CORPUS_DIR if corpus_dir is None else corpus_dir)
        if e.split == "train"
    ]
    order = list(range(len(examples)))
    random.Random(seed).shuffle(order)
    truth: list[ReplyLabel] = []
    predicted: list[ReplyLabel] = []
    texts: list[str] = []
    layers: Counter[str] = Counter()
    for fold in range(folds):
        held = set(order[fold::folds])
        model = fit(
            [(e.text, e.label, e.question) for i, e in enumerate(examples) if i not in held],
            seed=seed,
        )
        classifier = Classifier(model, today=today)
        for i in sorted(held):
            result = classifier.classify(examples[i].text, examples[i].question)
            truth.append(examples[i].label)
            predicted.append(result.label)
            texts.append(examples[i].text)
            layers[result.layer] += 1
    return score(
        f"{folds}-fold cross-validation (train split)",
        truth,
        predicted,
        texts=texts,
        layers=dict(layers),
    )
