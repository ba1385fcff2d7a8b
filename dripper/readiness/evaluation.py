"""Scoring a labeller on the held-out split: per-label P/R/F1, macro-F1, confusion matrix."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from dripper.labels import ReplyLabel

# Column headings for the confusion matrix, short enough for a terminal.
_SHORT = {
    ReplyLabel.OPT_OUT: "opt",
    ReplyLabel.HELP: "hlp",
    ReplyLabel.PAUSE: "pau",
    ReplyLabel.MORE: "mor",
    ReplyLabel.RESCHEDULE: "rsc",
    ReplyLabel.CRISIS: "cri",
    ReplyLabel.ENGAGED: "eng",
    ReplyLabel.AMBIVALENT: "amb",
    ReplyLabel.RESISTANT: "res",
    ReplyLabel.OVERWHELMED: "ovw",
    ReplyLabel.NEUTRAL: "neu",
}


@dataclass(frozen=True)
class LabelScore:
    """Precision, recall and F1 of one label, with how many test rows carry it."""

    label: ReplyLabel
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class EvaluationReport:
    """How a labeller did on the held-out rows.

    ``labels`` are those present in the truth or the predictions (scikit-learn's convention for
    macro averages), in ``ReplyLabel`` order; ``confusion[i][j]`` counts rows of true label
    ``labels[i]`` predicted as ``labels[j]``.
    """

    name: str
    labels: tuple[ReplyLabel, ...]
    scores: dict[ReplyLabel, LabelScore]
    confusion: tuple[tuple[int, ...], ...]
    accuracy: float
    macro_f1: float
    n_test: int
    n_train: int = 0
    layers: dict[str, int] = field(default_factory=dict)
    errors: tuple[tuple[str, ReplyLabel, ReplyLabel], ...] = ()
    #: Rows flagged ``crisis_review`` (the team reads them; no crisis lines are texted).
    reviews: int = 0

    def count(self, truth: ReplyLabel | None, predicted: ReplyLabel | None) -> int:
        """Rows of label ``truth`` read as ``predicted``; ``None`` on either side means any."""
        total = 0
        for i, t in enumerate(self.labels):
            for j, p in enumerate(self.labels):
                if (truth is None or t is truth) and (predicted is None or p is predicted):
                    total += self.confusion[i][j]
        return total

    @property
    def engaged_misread(self) -> float:
        """Share of engaged rows read as resistant, overwhelmed or crisis (paced too slow)."""
        engaged = self.count(ReplyLabel.ENGAGED, None)
        slowed = sum(
            self.count(ReplyLabel.ENGAGED, label)
            for label in (ReplyLabel.RESISTANT, ReplyLabel.OVERWHELMED, ReplyLabel.CRISIS)
        )
        return slowed / engaged if engaged else 0.0

    @property
    def false_crises(self) -> int:
        """Rows that are not crises but were read as one (the crisis lines would be texted)."""
        return self.count(None, ReplyLabel.CRISIS) - self.count(
            ReplyLabel.CRISIS, ReplyLabel.CRISIS
        )

    @property
    def false_opt_outs(self) -> int:
        """Rows that did not ask to stop but were read as an opt-out."""
        return self.count(None, ReplyLabel.OPT_OUT) - self.count(
            ReplyLabel.OPT_OUT, ReplyLabel.OPT_OUT
        )

    @property
    def crisis_recall(self) -> float:
        """Share of real crises read as crises (1.0 when there are none)."""
        crises = self.count(ReplyLabel.CRISIS, None)
        return self.count(ReplyLabel.CRISIS, ReplyLabel.CRISIS) / crises if crises else 1.0

    def summary(self) -> str:
        """One line: the figures the issue's targets are about."""
        return (
            f"macro-F1 {self.macro_f1:.3f}, accuracy {self.accuracy:.3f}, engaged read as "
            f"resistant/overwhelmed/crisis {self.engaged_misread:.1%}, false crises "
            f"{self.false_crises}, crisis recall {self.crisis_recall:.0%} "
            f"({self.count(ReplyLabel.CRISIS, ReplyLabel.CRISIS)}/"
            f"{self.count(ReplyLabel.CRISIS, None)}), false opt-outs {self.false_opt_outs}, "
            f"flagged for crisis review {self.reviews}"
        )

    def format(self) -> str:
        """A plain-text table: one line per label, the averages, then the confusion matrix."""
        lines = [
            f"{self.name}: {self.n_test} held-out replies"
            + (f", trained on {self.n_train}" if self.n_train else ""),
            "",
            f"{'label':<12} {'precision':>9} {'recall':>7} {'f1':>6} {'support':>8}",
        ]
        for label in self.labels:
            s = self.scores[label]
            lines.append(
                f"{label.value:<12} {s.precision:>9.3f} {s.recall:>7.3f} {s.f1:>6.3f} {s.support:>8}"
            )
        lines += [
            "",
            f"{'macro-F1':<12} {self.macro_f1:>9.3f}",
            f"{'accuracy':<12} {self.accuracy:>9.3f}",
        ]
        if self.layers:
            decided = ", ".join(f"{layer} {count}" for layer, count in self.layers.items())
            lines.append(f"decided by   {decided}")
        lines.append(self.summary())
        lines += ["", "confusion (rows: true, columns: predicted)"]
        heads = [_SHORT[label] for label in self.labels]
        lines.append(f"{'':<12}" + "".join(f"{h:>5}" for h in heads))
        for label, row in zip(self.labels, self.confusion, strict=True):
            cells = "".join(f"{n if n else '.':>5}" for n in row)
            lines.append(f"{label.value:<12}{cells}")
        return "\n".join(lines)


def score(
    name: str,
    truth: Sequence[ReplyLabel],
    predicted: Sequence[ReplyLabel],
    *,
    texts: Sequence[str] = (),
    n_train: int = 0,
    layers: dict[str, int] | None = None,
    reviews: int = 0,
) -> EvaluationReport:
    """Compare predictions with the truth, label by label."""
    if len(truth) != len(predicted):
        raise ValueError("truth and predictions differ in length")
    present = set(truth) | set(predicted)
    labels = tuple(label for label in ReplyLabel if label in present)
    pairs = Counter(zip(truth, predicted, strict=True))
    scores: dict[ReplyLabel, LabelScore] = {}
    for label in labels:
        tp = pairs[(label, label)]
        n_pred = sum(n for (_, p), n in pairs.items() if p is label)
        n_true = sum(n for (t, _), n in pairs.items() if t is label)
        precision = tp / n_pred if n_pred else 0.0
        recall = tp / n_true if n_true else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        scores[label] = LabelScore(label, precision, recall, f1, n_true)
    confusion = tuple(tuple(pairs[(t, p)] for p in labels) for t in labels)
    correct = sum(n for (t, p), n in pairs.items() if t is p)
    errors = tuple(
        (text, t, p) for text, t, p in zip(texts, truth, predicted, strict=False) if t is not p
    )
    return EvaluationReport(
        name=name,
        labels=labels,
        scores=scores,
        confusion=confusion,
        accuracy=correct / len(truth) if truth else 0.0,
        macro_f1=sum(s.f1 for s in scores.values()) / len(scores) if scores else 0.0,
        n_test=len(truth),
        n_train=n_train,
        layers=dict(sorted((layers or {}).items())),
        errors=errors,
        reviews=reviews,
    )
