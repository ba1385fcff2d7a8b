"""A reply read in its conversation: the answer to the course's question, whose stance it is,
and what counts as danger now (issue 10). Behaviour through the public classifier API."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from dripper.labels import ReplyLabel
from dripper.readiness.classifier import Classifier
from dripper.readiness.context import context_features
from dripper.readiness.model import CORPUS_DIR, read_corpus

COURSE = Path(__file__).resolve().parents[2] / "lessons" / "working-with-resistance.yaml"
QUESTIONS = {
    lesson["key"]: " ".join(lesson["question"].split())
    for lesson in yaml.safe_load(COURSE.read_text())["lessons"]
}
FIRST = QUESTIONS["when-help-is-pushed-away"]
ONE_OFFER = QUESTIONS["more-pressure-more-pushback"]
OUTSIDE_HELP = QUESTIONS["professional-support"]
SLOWED = {ReplyLabel.RESISTANT, ReplyLabel.OVERWHELMED, ReplyLabel.CRISIS}


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    return Classifier.load(None)


@pytest.mark.parametrize(
    ("text", "question"),
    [
        ("He just says he's a grown man and can handle it.", FIRST),
        ("She rolls her eyes and tells me to stop reading self-help stuff.", FIRST),
        ("He stays in his room all day and barely eats with us anymore.", FIRST),
        ("Offering once and then letting it go. I like that.", ONE_OFFER),
    ],
)
def test_answers_describing_the_loved_ones_pushback_are_engaged(
    classifier: Classifier, text: str, question: str
) -> None:
    result = classifier.classify(text, question)
    assert result.label is ReplyLabel.ENGAGED, result


def test_a_new_courses_question_is_read_the_same_way(classifier: Classifier) -> None:
    # Not a question of the shipped course: the context is kinds of question, not wording.
    question = "When you mention her spending, what does your sister usually do?"
    for text in [
        "she says it's her money and walks off",
        "she just laughs and changes the subject",
    ]:
        assert classifier.classify(text, question).label is ReplyLabel.ENGAGED, text


def test_pushback_on_the_course_is_still_resistant_in_context(classifier: Classifier) -> None:
    text = "why is it always on me to change? these lessons never ask anything of him"
    assert classifier.classify(text, QUESTIONS["quiet-influence"]).label in {
        ReplyLabel.RESISTANT,
        ReplyLabel.AMBIVALENT,
    }


@pytest.mark.parametrize("question", [None, FIRST])
@pytest.mark.parametrize(
    "text", ["who keeps texting me", "who is this", "is this a bot", "what is this number"]
)
def test_questions_about_us_are_help_never_an_opt_out(
    classifier: Classifier, text: str, question: str | None
) -> None:
    assert classifier.classify(text, question).label is ReplyLabel.HELP


@pytest.mark.parametrize(
    "text", ["what do you mean by that?", "huh? what do u mean", "what does that mean"]
)
def test_asking_what_the_lesson_means_is_engaged_for_review_while_a_question_is_open(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text, FIRST)
    assert (result.label, result.rule, result.needs_review) == (
        ReplyLabel.ENGAGED,
        "clarification",
        True,
    )
    # With no question open there is nothing of ours it can be about but the program.
    assert classifier.classify(text, None).label is ReplyLabel.HELP


@pytest.mark.parametrize("text", ["what does STOP mean?", "what do I reply?", "who is this"])
def test_asking_what_our_keywords_or_texts_mean_is_still_help(
    classifier: Classifier, text: str
) -> None:
    assert classifier.classify(text, FIRST).rule != "clarification"


@pytest.mark.parametrize("question", [None, FIRST])
@pytest.mark.parametrize(
    "text",
    ["please don't text this number again", "take me off this list", "i want to unsubscribe"],
)
def test_plain_language_opt_outs_are_honoured_while_answering(
    classifier: Classifier, text: str, question: str | None
) -> None:
    assert classifier.classify(text, question).label is ReplyLabel.OPT_OUT


@pytest.mark.parametrize("question", [None, FIRST])
@pytest.mark.parametrize(
    "text",
    [
        "He stays in his room all day and barely eats with us anymore.",
        "my husband has been depressed for a year and won't see a doctor",
        "my brother. he drinks every night and i'm scared it'll kill him one day",
        "i think she'd feel like a burden to us",
        "he looked at me like i'd slapped him",
        "he overdosed two years ago and he's been clean since",
    ],
)
def test_chronic_worries_past_events_and_figures_of_speech_are_not_crises(
    classifier: Classifier, text: str, question: str | None
) -> None:
    assert classifier.classify(text, question).label is not ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "if he starts driving drunk again i'd call his sponsor and maybe the police",
        "If she ever talks about hurting herself again I'd call her therapist right away. And 988.",
        "if he ever mentions suicide i'd call 988 with him. he hasn't",
    ],
)
def test_a_planned_for_danger_is_not_a_crisis_but_the_team_is_asked_to_review_it(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text, OUTSIDE_HELP)
    assert result.label is not ReplyLabel.CRISIS
    assert result.crisis_review and result.needs_review
    assert result.review_rule


@pytest.mark.parametrize("question", [None, FIRST, OUTSIDE_HELP])
@pytest.mark.parametrize(
    ("text", "rule"),
    [
        # A loved one putting death above treatment.
        ("He said he'd rather die than go to rehab", "death_over_help"),
        ("she says she would sooner die than see a doctor about it", "death_over_help"),
        ("he'd rather drink himself to death than go to one meeting", "death_over_help"),
        # Harm said to fall on the loved one alone.
        ("she says she isn't hurting anybody but herself", "harming_only_self"),
        ("he isn't hurting anyone except himself, he says", "harming_only_self"),
    ],
)
def test_worries_about_a_loved_one_refusing_help_are_read_by_the_team(
    classifier: Classifier, text: str, rule: str, question: str | None
) -> None:
    result = classifier.classify(text, question)
    assert result.label is not ReplyLabel.CRISIS, result
    assert result.crisis_review and result.needs_review
    assert result.review_rule == rule


def test_harm_denied_outright_is_not_sent_for_review(classifier: Classifier) -> None:
    assert not classifier.classify("he says he's not hurting anyone", FIRST).crisis_review


@pytest.mark.parametrize(
    "text", ["i'd rather die than call my sister lol", "i'd rather die than go to therapy lol"]
)
def test_a_joke_about_dying_rather_than_a_chore_is_not_sent_for_review(
    classifier: Classifier, text: str
) -> None:
    assert not classifier.classify(text, FIRST).crisis_review


@pytest.mark.parametrize("question", [None, FIRST, OUTSIDE_HELP])
@pytest.mark.parametrize(
    "text",
    [
        "it's time now, he's passed out and i can't wake him up",
        "she locked herself in the bathroom with a razor and won't answer me",
        "he's been drinking since noon and he just took the car with our kid in it",
        "he said if i leave he'll kill me",
        "my son. he said he doesn't want to be alive anymore and i don't know where he is",
        "she's confused and sweating and can barely talk",
    ],
)
def test_danger_now_is_a_crisis_whoever_it_is_about(
    classifier: Classifier, text: str, question: str | None
) -> None:
    result = classifier.classify(text, question)
    assert result.label is ReplyLabel.CRISIS, result
    assert not result.crisis_review  # a crisis goes to the crisis path, not to review


def test_a_reply_read_alone_has_no_context_features() -> None:
    assert context_features("he says he's fine", None) == []
    assert context_features("he says he's fine", "   ") == []
    assert context_features("he says he's fine", FIRST)


def test_the_course_answers_cover_every_question_and_are_split_by_question() -> None:
    answers = [e for e in read_corpus(CORPUS_DIR) if e.source == "answers"]
    per_lesson: dict[str, set[str]] = {}
    for example in answers:
        assert example.lesson in QUESTIONS, example
        assert example.question == QUESTIONS[example.lesson]
        per_lesson.setdefault(example.lesson, set()).add(example.split)
    assert set(per_lesson) == set(QUESTIONS)
    assert all(len(splits) == 1 for splits in per_lesson.values())  # never both sides
    assert 4 <= sum(splits == {"test"} for splits in per_lesson.values()) <= 6
    for lesson in QUESTIONS:
        assert sum(e.lesson == lesson for e in answers) >= 25, lesson


def test_the_other_situations_are_never_trained_on() -> None:
    trained = {e.text for e in read_corpus(CORPUS_DIR) if e.split == "train"}
    other = read_corpus(CORPUS_DIR / "heldout")
    assert len(other) >= 140
    assert all(e.question for e in other)
    assert not trained & {e.text for e in other}


def test_the_classify_command_reads_plain_and_json_lines(
    classifier: Classifier, tmp_path: Path
) -> None:
    from click.testing import CliRunner

    from dripper import create_app
    from dripper.readiness.cli import classify_command

    app = create_app(
        {
            "TESTING": True,
            "SECRET_KEY": "x",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
            "CLASSIFIER_MODEL_PATH": str(tmp_path / "model.npz"),
        }
    )
    # This process's classifier, already loaded, cached against its (absent) model file.
    app.extensions["dripper.classifier"] = (classifier, None)
    lines = [
        "who keeps texting me",
        json.dumps({"text": "He just says he's a grown man and can handle it.", "question": FIRST}),
    ]
    with app.app_context():
        result = CliRunner().invoke(classify_command, input="\n".join(lines) + "\n")
    assert result.exit_code == 0, result.output
    first, second = (json.loads(line) for line in result.output.splitlines())
    assert first["label"] == "help" and "question" not in first
    assert second["label"] == "engaged" and second["question"] == FIRST
