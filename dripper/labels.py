"""The labels a reply can carry (docs/INTERFACE.md: Reply labels)."""

from enum import StrEnum


class ReplyLabel(StrEnum):
    """What a subscriber's reply means, as the classifier and pacing see it."""

    OPT_OUT = "opt_out"
    HELP = "help"
    PAUSE = "pause"
    MORE = "more"
    RESCHEDULE = "reschedule"
    CRISIS = "crisis"
    ENGAGED = "engaged"
    AMBIVALENT = "ambivalent"
    RESISTANT = "resistant"
    OVERWHELMED = "overwhelmed"
    NEUTRAL = "neutral"


#: Labels that describe how ready a person is, rather than what they ask for.
READINESS_LABELS = frozenset(
    {
        ReplyLabel.ENGAGED,
        ReplyLabel.AMBIVALENT,
        ReplyLabel.RESISTANT,
        ReplyLabel.OVERWHELMED,
        ReplyLabel.NEUTRAL,
    }
)
