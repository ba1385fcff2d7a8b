"""Features of a reply read in its conversation: the question it answers, and whose words it holds.

Almost every question a course asks is about *someone else's* pushback ("what usually happens
when you reach out?"), and the honest answer describes the loved one refusing. Read alone, such a
reply looks like resistance; read as an answer, it is the engagement the course hopes for.

The model cannot learn that from the reply's words alone, so these features describe the
*kind* of question (about the other person, about you, asking for imagined speech, a feeling, a
plan…) and the *kind* of reply (a third-person report of pushback, quoted speech, the subscriber's
own plan, pushback aimed at the course…), and their pairs. They are general cues about how
questions and answers are built, never a course's wording, so a new course's questions get the
same reading. The trained weights decide what each pair means.
"""

from __future__ import annotations

import re
from functools import lru_cache

from dripper.readiness.text import pattern_form


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern, re.VERBOSE)


# --- the question --------------------------------------------------------------------------
_QUESTION_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    # Asks about the other person: "their pushback", "the person you care about", "him".
    (
        "other",
        _rx(
            r"""\b(?:they|them|their|theirs|themselves|the\s+person|someone|somebody|him|her|his|
            he|she|loved\s+one|partner|son|daughter|mom|dad|mother|father|brother|sister|husband|
            wife|friend|uncle|aunt|grand\w+)\b"""
        ),
    ),
    ("you", _rx(r"\b(?:you|your|yourself)\b")),
    # Asks for words: what would it say, what story do you tell.
    ("speech", _rx(r"\b(?:say|says|said|speak|tell|told|story|words|sound)\b")),
    ("imagine", _rx(r"\b(?:would|might|could|if|imagine)\b")),
    ("feel", _rx(r"\b(?:feel|feels|felt|feelings|emotions?)\b")),
    # Asks about a reaction to help: pushback, refusing, reaching out, offering.
    (
        "pushback",
        _rx(
            r"""\b(?:push\w*|resist\w*|refus\w*|reject\w*|turn\w*\s+down|reach\s+out|react\w*|
            respond\w*|offer\w*|accept\w*|say\s+no|says\s+no|no\b|silence|cancel\w*|bring\s+up|
            talk\s+to)"""
        ),
    ),
    # Asks what the subscriber could do or change.
    (
        "own_change",
        _rx(
            r"""\b(?:you\s+(?:could|can|might|would)\s+\w+|for\s+you|you\s+do|do\s+differently|
            change\s+in\s+how|let(?:ting)?\s+(?:it\s+)?(?:go|rest)|loosen\w*|limit|rescu\w*|
            show\s+up|plan)\b"""
        ),
    ),
    ("progress", _rx(r"\b(?:progress|signs?|noticed?|notice|lately|changed)\b")),
    ("want", _rx(r"\b(?:want|wish|hope|hoping|carry|whatever)\b")),
    ("when", _rx(r"\b(?:when|time\s+to|tell\s+you)\b")),
)


@lru_cache(maxsize=1024)
def question_cues(question: str | None) -> tuple[str, ...]:
    """The kinds of question this is (see ``_QUESTION_CUES``); empty when there is none.

    Cached: a course asks a few dozen questions, and every answer repeats one of them.
    """
    if not question:
        return ()
    norm = pattern_form(question)
    if not norm:
        return ()
    return ("any", *(name for name, pattern in _QUESTION_CUES if pattern.search(norm)))


# --- the reply -----------------------------------------------------------------------------
_THIRD = r"""(?:he|she|they|he's|she's|they're|he'd|she'd|they'd|he'll|she'll|they'll|him|his|
    hers|them|their|my\s+(?:son|daughter|husband|wife|partner|mom|mum|mother|dad|father|brother|
    sister|bro|sis|boyfriend|girlfriend|bf|gf|friend|best\s+friend|kid|grandma|grandpa|uncle|aunt|
    twin|cousin|fianc\w+)|mom|dad|grandma|grandpa|grandad)"""
_PUSH_VERB = r"""(?:says?|said|tells?|told|refus\w*|won't|wouldn't|doesn't|didn't|don't|can't|
    never|gets?\s+(?:so\s+|really\s+|super\s+)?(?:mad|angry|defensive|quiet|upset|grumpy|furious|
    offended|annoyed)|got\s+(?:mad|angry|defensive)|shuts?\s+down|hangs?\s+up|hung\s+up|laugh\w*|
    jok\w*|changes?\s+the\s+subject|ignor\w*|rolls?\s+(?:her|his|their)\s+eyes|yell\w*|scream\w*|
    storm\w*|walks?\s+(?:off|away|out)|goes\s+(?:quiet|silent|to\s+bed)|brush\w*|waves?|deni\w*|
    insists?|claims?|swears?|promis\w*|cries|cried|snaps?|snapped|ghost\w*|avoid\w*|deflect\w*|
    hides?|hid|lies|lied|blames?|shrugs?|sighs?|agrees?|accus\w*|thinks?|wants?|hates?|feels?)"""
_REPLY_CUES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("third", _rx(rf"\b{_THIRD}\b")),
    # The first subject of the reply is the other person: "he just says…", "my son, 24. he…".
    ("third_lead", _rx(rf"^\W*(?:(?:\w+\W+){{0,4}}?)(?:{_THIRD})\b")),
    # A report of the other person's pushback: "she rolls her eyes", "he says he's fine".
    (
        "third_push",
        _rx(rf"\b(?:he|she|they|my\s+\w+)\s+(?:\w+\s+){{0,2}}?{_PUSH_VERB}"),
    ),
    # Their words, quoted or imagined: "it would say…", '"back off mom"'.
    (
        "quote",
        _rx(
            r"""["“”]|\b(?:it|that|he|she|they)(?:'d|\s+would|\s+might)\s+(?:probably\s+)?
            (?:say|tell|swear|be\s+like)|\bsomething\s+like\b|\bliterally\s+what\b"""
        ),
    ),
    ("first", _rx(r"\b(?:i|i'm|i've|i'd|i'll|me|my|myself)\b")),
    # The subscriber's own plan or step: "i could stop…", "going to let him…", "tried…".
    (
        "own_step",
        _rx(
            r"""\b(?:i\s+(?:could|can|will|might|should|need\s+to|want\s+to|wanna|am\s+going\s+to|
            tried|did|let|stopped|said\s+(?:ok|no))|i'll|i'm\s+(?:going\s+to|gonna|trying|learning|
            done|keeping|stopping|letting)|gonna|going\s+to|try(?:ing)?|stop\w*|not\s+\w+ing|
            less|instead|let(?:ting)?)\b"""
        ),
    ),
    # Pushback aimed at us: the course, its lessons, its advice or its questions.
    (
        "at_course",
        _rx(
            r"""\b(?:this|these|the|your|ur|that)\s+(?:course|lessons?|article|texts?|questions?|
            exercise|advice|stuff|program|approach|theory|idea)\b|\byou\s+(?:guys|people)\b|
            \b(?:easy\s+for\s+you|you\s+don't\s+(?:know|understand|get\s+it))|\bwhy\s+is\s+it\s+
            (?:always\s+)?(?:on\s+)?me\b|\bwhat\s+about\s+(?:me|mine)\b"""
        ),
    ),
    # A verdict: it won't work, not doing it, nothing will change.
    (
        "verdict",
        _rx(
            r"""\b(?:won't\s+(?:work|change|help|do\s+anything)|doesn't\s+work|didn't\s+work|
            not\s+(?:doing|happening|an\s+option|going\s+to)|no\s+thanks|nope|pointless|
            nothing\s+(?:works|will|happens)|end\s+of\s+(?:story|discussion)|no\s+way|naive)\b"""
        ),
    ),
    ("hedge", _rx(r"\b(?:maybe|idk|not\s+sure|i\s+guess|part\s+of\s+me|torn|but)\b")),
    ("if", _rx(r"^\W*(?:if|when|whenever|once)\b")),
)


def reply_cues(norm: str) -> list[str]:
    """The kinds of reply this is (see ``_REPLY_CUES``), plus its length band."""
    cues = [name for name, pattern in _REPLY_CUES if pattern.search(norm)]
    words = len(norm.split())
    cues.append("short" if words <= 3 else "long" if words > 25 else "mid")
    return cues


def context_features(norm: str, question: str | None) -> list[str]:
    """Every cue of the question paired with every cue of the reply, and the question's cues.

    Without a question there are no features, so a reply read alone scores exactly as before.
    """
    asked = question_cues(question)
    if not asked:
        return []
    replied = reply_cues(norm)
    features = [f"q:{q}" for q in asked]
    features.extend(f"{q}&{r}" for q in asked for r in replied)
    return features
