"""How the reply classifier reads subscribers' replies (behaviour, through the public API)."""

from __future__ import annotations

from datetime import date, time

import pytest

from dripper.keywords import Keyword
from dripper.labels import ReplyLabel
from dripper.readiness.baseline import keyword_baseline
from dripper.readiness.classifier import Classification, Classifier

# A Wednesday, so "till monday" has one right answer.
WEDNESDAY = date(2026, 11, 25)


@pytest.fixture(scope="module")
def classifier() -> Classifier:
    # Trains from the packaged corpus in memory, the path a worker takes with no model file.
    return Classifier.load(None, today=lambda: WEDNESDAY)


def label(classifier: Classifier, text: str) -> ReplyLabel:
    return classifier.classify(text).label


# --- layer 1: exact keywords -------------------------------------------------------------------
@pytest.mark.parametrize(
    "text", ["STOP", "stop", " Unsubscribe! ", "CANCEL", "end", "QUIT", "optout"]
)
def test_stop_keywords_are_opt_outs_with_the_command_attached(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text)
    assert result.label is ReplyLabel.OPT_OUT
    assert result.layer == "keyword"
    assert result.command is not None and result.command.keyword is Keyword.STOP
    assert result.confidence == 1.0
    assert not result.needs_review


def test_help_and_info_are_help(classifier: Classifier) -> None:
    assert label(classifier, "HELP") is ReplyLabel.HELP
    assert label(classifier, "info?") is ReplyLabel.HELP


def test_pause_keyword_carries_its_days(classifier: Classifier) -> None:
    assert classifier.classify("PAUSE 3").days == 3
    assert classifier.classify("pause").days == 7


def test_pause_keyword_with_a_bad_argument_is_still_a_pause_with_the_error(
    classifier: Classifier,
) -> None:
    result = classifier.classify("PAUSE 500")
    assert result.label is ReplyLabel.PAUSE
    assert result.command is not None and result.command.error
    assert result.days is None


def test_more_and_next_ask_for_the_next_lesson(classifier: Classifier) -> None:
    assert label(classifier, "MORE") is ReplyLabel.MORE
    assert label(classifier, "Next") is ReplyLabel.MORE


def test_time_keyword_reschedules_with_the_time(classifier: Classifier) -> None:
    result = classifier.classify("TIME 7pm")
    assert result.label is ReplyLabel.RESCHEDULE
    assert result.at == time(19, 0)


@pytest.mark.parametrize("text", ["JOIN", "START", "YES", "UNSTOP", "RESUME"])
def test_subscription_commands_are_neutral_with_the_command_attached(
    classifier: Classifier, text: str
) -> None:
    result = classifier.classify(text)
    assert result.label is ReplyLabel.NEUTRAL
    assert result.layer == "keyword"
    assert result.command is not None


# --- layer 2: plain-language commands ------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "please stop texting me",
        "take me off this list",
        "Stop sending me these messages",
        "unsubscribe me please",
        "remove me from your list",
        "I don't want these texts anymore",
        "stop please",
    ],
)
def test_plain_language_stop_request_is_an_opt_out(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is ReplyLabel.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "I need to stop rescuing him",
        "I'm going to quit nagging",
        "can't stop thinking about that lesson",
        "she won't stop drinking",
        "please don't stop sending these",
        "I quit arguing with him and it helped",
        "he told me to leave him alone",
    ],
)
def test_stop_words_about_habits_are_not_opt_outs(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is not ReplyLabel.OPT_OUT


def test_stop_rescuing_him_is_not_an_opt_out(classifier: Classifier) -> None:
    assert label(classifier, "I need to stop rescuing him") is not ReplyLabel.OPT_OUT


def test_a_break_for_a_week_is_a_pause_of_seven_days(classifier: Classifier) -> None:
    result = classifier.classify("can we take a break for a week")
    assert (result.label, result.days, result.layer) == (ReplyLabel.PAUSE, 7, "command")


def test_pause_till_monday_counts_the_days_to_monday(classifier: Classifier) -> None:
    assert classifier.classify("pause till monday").days == 5  # Wednesday -> Monday


def test_a_couple_of_weeks_off_is_fourteen_days(classifier: Classifier) -> None:
    result = classifier.classify("can you hold off for a couple of weeks?")
    assert (result.label, result.days) == (ReplyLabel.PAUSE, 14)


def test_stop_for_a_week_is_a_pause_not_an_opt_out(classifier: Classifier) -> None:
    result = classifier.classify("stop the texts for a week please, I'm travelling")
    assert (result.label, result.days) == (ReplyLabel.PAUSE, 7)


@pytest.mark.parametrize(
    ("text", "at"),
    [
        ("send these in the evening instead", time(19, 0)),
        ("could you text me in the morning?", time(9, 0)),
        ("afternoons would be better for me", time(14, 0)),
        ("can you send them at 7pm", time(19, 0)),
        ("change the time to 8:30 am please", time(8, 30)),
    ],
)
def test_plain_language_reschedule_reads_the_time(
    classifier: Classifier, text: str, at: time
) -> None:
    result = classifier.classify(text)
    assert (result.label, result.at) == (ReplyLabel.RESCHEDULE, at)


def test_asking_for_another_lesson_is_more(classifier: Classifier) -> None:
    assert label(classifier, "can I get the next lesson now?") is ReplyLabel.MORE


def test_asking_what_this_is_is_help(classifier: Classifier) -> None:
    assert label(classifier, "who is this?") is ReplyLabel.HELP


# --- layer 3: safety ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "text",
    [
        "this week is killing me",
        "I'm dying to try this with my sister",
        "lol my mom would kill me",
        "we're killing it this week",
        "my back is killing me but I read it",
        "hang in there, you said? ok",
    ],
)
def test_hyperbole_is_not_a_crisis(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is not ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "my uncle is shaking and jerking on the floor, he quit drinking cold turkey two days ago",
        "she's sitting on the balcony railing and won't come in",
        "he's convulsing and i don't know what to do",
    ],
)
def test_a_withdrawal_seizure_or_a_railing_is_a_crisis_even_answering_a_question(
    classifier: Classifier, text: str
) -> None:
    question = (
        "Which shapes of pushback do you see most often, and what do you feel when they happen?"
    )
    assert classifier.classify(text, question).label is ReplyLabel.CRISIS
    assert label(classifier, text) is ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "she was shaking with anger when i brought it up",
        "my hands were shaking when i finally said it",
    ],
)
def test_shaking_with_feeling_is_not_a_crisis(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is not ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "She said it's pointless and hung up on me again",
        "he hung up on me",
        "my mom hangs up whenever I mention the doctor",
    ],
)
def test_someone_hanging_up_on_the_subscriber_is_not_a_crisis(
    classifier: Classifier, text: str
) -> None:
    """A loved one ending a call is pushback, the course's everyday subject, not danger."""
    assert label(classifier, text) is not ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "he says he's not hurting anyone",
        "she insists her drinking isn't hurting anybody",
        "he keeps telling me he doesn't harm anyone",
    ],
)
@pytest.mark.parametrize(
    "question", [None, "When you offered help this week, how did they answer?"]
)
def test_a_loved_one_denying_they_hurt_anyone_is_not_a_crisis(
    classifier: Classifier, text: str, question: str | None
) -> None:
    """ "I'm not hurting anyone" is the classic line of someone pushing help away: reported by
    the subscriber, it is the course's subject, not danger (no crisis lines, no held lessons)."""
    assert classifier.classify(text, question).label is not ReplyLabel.CRISIS


def test_hurting_someone_is_still_a_crisis(classifier: Classifier) -> None:
    assert label(classifier, "he says he's going to hurt me") is ReplyLabel.CRISIS


def test_pills_saved_up_is_a_crisis(classifier: Classifier) -> None:
    result = classifier.classify("he has pills saved up in his drawer")
    assert result.label is ReplyLabel.CRISIS
    assert result.layer == "safety"
    assert result.needs_review


@pytest.mark.parametrize(
    "text",
    [
        "my son said he wants to kill himself",
        "she's been cutting again",
        "i can't do this anymore, kms",
        "he hit me last night",
        "I'm scared to go home",
        "he keeps threatening me",
        "he bought a gun",
        "she overdosed last year and is using again",
        "thinking about suicide",
        "he wants to unalive himself",
        "I don't want to be alive anymore",
    ],
)
def test_crisis_language_is_a_crisis(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.label is ReplyLabel.CRISIS
    assert result.needs_review


def test_crisis_wins_over_opt_out_in_the_same_reply(classifier: Classifier) -> None:
    result = classifier.classify("stop texting me, i have pills saved up")
    assert result.label is ReplyLabel.CRISIS


def test_crisis_wins_over_pause_in_the_same_reply(classifier: Classifier) -> None:
    assert label(classifier, "pause for a week, he hit me again") is ReplyLabel.CRISIS


# --- layer 4: the model -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I tried the reflective listening and he actually talked to me", ReplyLabel.ENGAGED),
        ("this won't work with my dad, he never listens to anyone", ReplyLabel.RESISTANT),
        ("I'm exhausted, I can't take on one more thing", ReplyLabel.OVERWHELMED),
    ],
)
def test_readiness_replies_get_readiness_labels(
    classifier: Classifier, text: str, expected: ReplyLabel
) -> None:
    result = classifier.classify(text)
    assert result.label is expected
    assert result.layer == "model"


def test_confidence_is_a_probability_and_low_confidence_needs_review(
    classifier: Classifier,
) -> None:
    for text in ["hmm", "I tried it", "purple elephant calendar", "?"]:
        result = classifier.classify(text)
        assert 0.0 <= result.confidence <= 1.0
        assert result.needs_review == (result.confidence < 0.5 or result.label is ReplyLabel.CRISIS)


def test_a_progress_report_the_model_barely_reads_as_help_is_not_answered_with_help(
    classifier: Classifier,
) -> None:
    # The model's best guess is help at 0.23: answering it with the program's boilerplate
    # would ignore what the person said and skip counting their answer.
    result = classifier.classify("Did it twice today, easier the second time")
    assert result.label is not ReplyLabel.HELP
    assert result.layer == "model"


def test_a_sure_question_about_the_program_is_still_help(classifier: Classifier) -> None:
    assert label(classifier, "how often do you text") is ReplyLabel.HELP


def test_an_unsure_guess_at_more_does_not_send_another_lesson(classifier: Classifier) -> None:
    # Read as more at 0.57 by the model alone: an extra lesson to someone this stretched is
    # the pressure the course teaches against, so a guess at more needs a sure model.
    result = classifier.classify("kill me now, another family meeting tomorrow")
    assert result.label is not ReplyLabel.MORE
    assert result.label is not ReplyLabel.CRISIS


def test_an_unsure_request_to_ease_off_is_still_acted_on(classifier: Classifier) -> None:
    # Easing off on a misreading costs little; pressing on past a missed request does not.
    assert label(classifier, "not now. maybe in a couple of weeks") is ReplyLabel.PAUSE
    assert (
        label(classifier, "you text me right when i'm walking into work. later?")
        is ReplyLabel.RESCHEDULE
    )


# --- odd input ----------------------------------------------------------------------------------
def test_empty_reply_is_neutral(classifier: Classifier) -> None:
    for text in ["", "   ", "\n"]:
        assert label(classifier, text) is ReplyLabel.NEUTRAL


def test_long_bodies_and_emoji_classify_without_error(classifier: Classifier) -> None:
    long = ("I read it twice and thought about my brother. " * 40)[:1600]
    for text in [long, "🙏", "❤️❤️❤️", "👍 thanks!!", "\u200b", "ok 😢😢", "x" * 1600]:
        result = classifier.classify(text)
        assert isinstance(result, Classification)
        assert isinstance(result.label, ReplyLabel)


def test_a_crisis_at_the_end_of_a_long_body_is_found(classifier: Classifier) -> None:
    text = "I read the lesson and tried it. " * 45 + "he said he'd kill me if I leave"
    assert label(classifier, text[-1600:]) is ReplyLabel.CRISIS


def test_classify_many_matches_classify(classifier: Classifier) -> None:
    texts = ["STOP", "thanks", "pause till friday", "he hit me"]
    assert classifier.classify_many(texts) == [classifier.classify(t) for t in texts]


def test_classification_is_frozen(classifier: Classifier) -> None:
    result = classifier.classify("ok")
    with pytest.raises(AttributeError):
        result.label = ReplyLabel.HELP  # type: ignore[misc]


# --- the keyword-only baseline (for comparison only) -----------------------------------------
def test_keyword_baseline_routes_by_words_alone() -> None:
    assert keyword_baseline("STOP") is ReplyLabel.OPT_OUT
    # Its known failure: the word alone decides, so a habit reads as an opt-out.
    assert keyword_baseline("I need to stop rescuing him") is ReplyLabel.OPT_OUT
    assert keyword_baseline("") is ReplyLabel.NEUTRAL


# --- kinds of phrasing added after the held-out review (own wording, not corpus rows) ----------
@pytest.mark.parametrize(
    "text",
    [
        "I have pills saved up",
        "my son said he wants to kill himself",
        "he hit me again and I'm scared to go home",
        "kms",
        "honestly just sick of existing",
        "why am i even still alive",
        "she scratches her legs till they bleed",
        "found out she's been doing sh again",
        "he sh'd last night",
        "he put his hands around my throat",
        "my daughter hasn't come home in three days",
        "don't bother texting, i'll be gone soon",
        "mi hermano se quiere quitar la vida",
    ],
)
def test_more_crisis_phrasings_are_crises(classifier: Classifier, text: str) -> None:
    result = classifier.classify(text)
    assert result.label is ReplyLabel.CRISIS, result
    assert result.needs_review


@pytest.mark.parametrize(
    "text",
    [
        "i'm at the end of my rope lol",
        "hanging by a thread this week",
        "that quote about control killed me, so good",
        "we cut him off financially last year and it helped",
        "so burnt out from work",
        "ignore my last text, autocorrect",
        "i'll be gone for a week at my sister's, will read after",
    ],
)
def test_more_figures_of_speech_are_not_crises(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is not ReplyLabel.CRISIS


@pytest.mark.parametrize(
    "text",
    [
        "these aren't working for me, so please stop sending them",
        "can you stop sending them to this number",
        "🛑",
        "⛔️⛔️",
    ],
)
def test_more_opt_out_phrasings_are_opt_outs(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is ReplyLabel.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "i need to stop sending them money every month",
        "I need to stop texting them so much",
        "ok 🛑 is my new word for when i start lecturing lol",
    ],
)
def test_sending_them_money_is_not_an_opt_out(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is not ReplyLabel.OPT_OUT


@pytest.mark.parametrize(
    "text",
    [
        "is this an ai or a real person texting me?",
        "can i have my data deleted later if i want?",
        "got the same text twice today",
        "how do i go back and reread an old lesson",
    ],
)
def test_more_questions_about_the_program_are_help(classifier: Classifier, text: str) -> None:
    assert label(classifier, text) is ReplyLabel.HELP


def test_spanish_come_back_in_three_weeks_is_a_pause(classifier: Classifier) -> None:
    result = classifier.classify("escríbanme de nuevo en tres semanas por favor")
    assert (result.label, result.days) == (ReplyLabel.PAUSE, 21)


def test_a_sentence_starting_with_time_is_free_text(classifier: Classifier) -> None:
    result = classifier.classify("time to let go of trying to fix him")
    assert result.layer != "keyword"
    assert result.command is None
    assert result.label is not ReplyLabel.RESCHEDULE


def test_a_bare_time_keyword_is_a_reschedule_with_the_format_error(classifier: Classifier) -> None:
    result = classifier.classify("TIME")
    assert (result.label, result.layer) == (ReplyLabel.RESCHEDULE, "keyword")
    assert result.command is not None and result.command.error


@pytest.mark.parametrize(
    "text", ["again", "and again", "here we go again", "again?", "hello again", "and again lol"]
)
def test_a_short_reply_with_no_word_of_danger_is_not_a_crisis(
    classifier: Classifier, text: str
) -> None:
    assert classifier.classify(text).label is not ReplyLabel.CRISIS
