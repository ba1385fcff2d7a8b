"""Opt-out patterns: a plain-language request to stop our messages.

Deliberately narrow: a false opt-out silences a subscriber for good. "Stop" aimed at a habit or
a person, a negated request and quoted words are not opt-outs.
"""

from __future__ import annotations

import re

from dripper.readiness.text import pattern_form, rx

# The things a reply can ask us to stop: our messages, never a habit or a person. "I need to stop
# rescuing him" names an action after "stop", so it never reaches an opt-out pattern. Bare
# pronouns count only when nothing follows them: "stop these" is a request, "stop these fights"
# is not.
_END = r"(?=\s*(?:$|[.,!?;:)]|please|pls|plz|now|already|immediately|asap|right\s+now|coming|thanks?|thx|ty|🙏))"
_US = rf"""(?:texts?|messages?|msgs?|sms|lessons?|emails?|reminders?|notifications?|
    spam\w*|you\s+guys|y'?all|contacting\s+me|(?:the|your|ur|this|these)\s+(?:program|service|course|
    list|thing|subscription|texts?|messages?|lessons?|stuff|daily\s+\w+)|(?:these|this|them|
    it\s+all){_END})"""
_NEGATED = rx(
    r"""\b(?:don'?t|do\s+not|dont|never|please\s+don'?t|no\s+need\s+to|wouldn'?t|won'?t|
    not\s+(?:going\s+to|gonna|trying\s+to|asking\s+(?:you\s+)?to))\s+(?:\w+\s+){0,2}
    (?:stop|unsubscribe|cancel|quit|remove|take\s+me\s+off|opt)|
    \b(?:i'?m|i\s+am|am)\s+not\s+(?:\w+\s+)?(?:unsubscrib|quitting|stopping|cancell?ing|leaving)"""
)
# A clause that is nothing but an opt-out word and courtesy: "stop please", "pls stop 🙏", the
# "stop." closing a longer reply, "Stop. Remove. Delete.", "who is this?? stop texting me".
_COURTESY = r"""(?:please|pls|plz|ok|okay|just|now|thanks?|thank\s+you|thx|ty|yes|no|nope|and|
    already|asap|immediately|seriously|for\s+real|right\s+now|me|it|all|this|i\s+said|i\s+mean\s+it|
    you\s+can|u\s+can|bye|so|then|again|ugh|omg|dude|enough|stop)"""
_STOP_CLAUSE = rx(
    rf"""^(?:{_COURTESY}\s*)*(?:stop+|stopall|unsubscribe|unsub|cancel|quit|end|optout|opt\s+out|
    revoke|remove|delete|no\s+more|i'?m\s+out|not\s+interested(?:\s+any\s?more)?|go\s+away|
    leave\s+me\s+alone|f\s*off|fuck\s+off|piss\s+off|(?:i'?m\s+)?blocking\s+(?:you|this\s+number)|
    spam|alto|basta)(?:\s*(?:{_COURTESY}|sending|texting|messaging|already|now|it|me|this|these|
    forever|for\s+good|for\s+now))*$"""
)
_CLAUSE_END = re.compile(r"[.!?;,]+|\s-\s|\n")
_SENTENCE_END = re.compile(r"[.!?;]+|\n")
_IMPERATIVE_LIST = re.compile(r"^\W*stop\s*,\s*\w+(?:\s+\w+)?\s*,")
_STRIP_CLAUSE = re.compile(r"[^\w\s']+")

_OPT_OUT: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "stop_sending",
        rx(
            rf"""\b(?:stop|quit|cease|end|halt|discontinue)\s+(?:all\s+|the\s+|these\s+|your\s+|ur\s+|
            with\s+the\s+|w\s+the\s+)?(?:(?:sending|texting|messaging|msging|contacting|emailing|
            spamming)\b(?!\s+(?:him|her|them|my|his|their|people|every|so|to\s+(?!me)|\w+\s+(?:him|her|
            them)))|bothering\s+me|{_US})\b|\bstop\s+(?:receiving|getting)\s+(?:these|them|
            this|(?:the\s+|your\s+|any\s+)?(?:texts?|messages?|msgs|lessons|sms))|\bmake\s+(?:these|them|
            this|the\s+texts|it)\s+stop\b|\b(?:can|could|would|will)\s+(?:you|u)\s+(?:please\s+|pls\s+|
            just\s+)?stop(?:\s+(?:please|pls|now|already|it))*\s*[?.!]*$|\b(?:you|u)\s+can\s+stop\s+
            (?:now|sending|texting)|\b(?:need|want|like|asking)\s+(?:you|u)\s+to\s+stop\s+(?:texting|
            sending|messaging|contacting)|\bbut\s+(?:please\s+|pls\s+)?stop(?:\s+(?:please|pls|now|it|
            already))*\s*[.!]*$|
            (?:^|[.,!?;:]\s*|\b(?:please|just|so|and|can\s+you|could\s+you|would\s+you|you\s+can)\s+)
            (?:please\s+|just\s+)?(?:stop|quit)\s+sending\s+(?:them|those|em|'em)
            (?:\s+(?:to\s+me|to\s+this\s+number|here))?{_END}"""
        ),
    ),
    (
        "take_me_off",
        rx(
            r"""\b(?:take|get|remove|delete|drop|erase|scratch)\s+(?:me|my\s+(?:number|name|phone|
            info|contact)|this\s+number|it|us)\s+(?:off|from|out\s+of)\s+(?:this|the|your|ur|these|
            that|all)\b|\bremove\s+me\b|\bdelete\s+me\b|\b(?:delete|remove|erase)\s+my\s+(?:number|phone|
            info|data|account|contact|details)|\boff\s+(?:of\s+)?(?:this|the|your|ur)\s+(?:mailing\s+|texting\s+)?list\b|
            \bturn\s+(?:these|the\s+(?:texts|messages|lessons|notifications))\s+off\b|\bturn\s+off\s+
            (?:these|the\s+(?:texts|messages|lessons)|this)\b|
            \bget\s+(?:me\s+)?off\s+(?:this|the|your|ur)\s+(?:list|
            thing)|\btake\s+me\s+off\b|\b(?:take|remove|delete)\s+(?:this|my)\s+number\b"""
        ),
    ),
    (
        "unsubscribe",
        rx(
            r"""\b(?:unsubscrib\w*|unsub|unenroll\w*|unenrol|opt[\s-]?(?:me\s+)?out|optout|de-?register|
            (?:cancel|end|terminate|stop|close)\s+(?:my|the|this)\s+(?:subscription|membership|
            enrollment|account|sign\s?up|texts?|messages?|lessons?|program|service|course)|
            cancel\s+(?:me|it\s+all)|(?:cancel|end)\s+(?:these|this|the)\s+(?:texts|messages|lessons)|
            sign\s+me\s+(?:off|out)|deregister|(?:how\s+(?:do|can)\s+i|i\s+(?:want|need|would\s+like|'?d\s+
            like)\s+to|i\s+wanna)\s+(?:cancel|unsubscribe|opt\s+out)(?:\s+(?:please|pls|now|this|these|
            it|the\s+texts))?\s*[?.!]*$|(?:you|u)(?:\s+guys)?\s+(?:need|have|gotta|got)\s+to\s+stop\s*
            (?:now|please|pls|already)?\s*[.!]*$|dar(?:me)?\s+de\s+baja|cancelar\s+(?:los\s+)?mensajes)\b"""
        ),
    ),
    (
        "no_more_messages",
        rx(
            r"""\b(?:no\s+more|don'?t\s+(?:want|need)\s+(?:any\s+more|anymore|any)?|do\s+not\s+
            (?:want|need)\s+(?:any\s+more|any)?)\s+(?:of\s+)?(?:your\s+|these\s+|the\s+|ur\s+)?
            (?:texts?|messages?|msgs|lessons|sms|emails?|contact|reminders)\b|\bno\s+more\s+of\s+
            (?:these|this|them|your|ur)\b|
            \b(?:don'?t|do\s+not|never|stop)\s+(?:text|message|msg|contact|sms|send|call)(?:ing)?\s+
            (?:me|this\s+number|here)\b|\blose\s+(?:my|this)\s+number\b|
            \b(?:don'?t|do\s+not)\s+(?:want|need|wish)\s+(?:to\s+(?:receive|get)\s+)?(?:these|them|this|it|
            those)\s+any\s?more|\b(?:don'?t|do\s+not)\s+(?:want|wish)\s+to\s+(?:receive|get)\s+(?:these|
            this|them|any|your|the|texts|messages)|
            \b(?:don'?t|do\s+not)\s+send\s+(?:me\s+)?(?:anything|any\s+more|anymore|more|these|this|
            them)|\bno\s+longer\s+(?:wish|want|need|interested)\b|\benough\s+(?:with\s+)?(?:the\s+|
            these\s+|your\s+)?(?:texts|messages|msgs|lessons)|\b(?:i'?m|i\s+am|we'?re)\s+(?:done|out|
            finished)\s+with\s+(?:these|this\s+(?:program|service|list|course|thing|texting)|your\s+
            (?:texts?|messages?|program|lessons))|\b(?:wrong\s+number|who\s+signed\s+me\s+up|who\s+gave\s+
            you\s+my\s+number)\b|\bi\s+want\s+out\b(?!\s+of\s+(?!this\s+(?:list|program)))|
            \b(?:want|like|need|wish)\s+(?:to\s+)?(?:be\s+)?(?:unsubscribed|removed|taken\s+off|out\s+of\s+
            (?:this|the|your)\s+(?:list|program|texts))\b|\b(?:this\s+is|these\s+are)\s+(?:spam|
            harassment)|\breport(?:ed|ing)?\s+(?:you|this|as\s+spam)|\bblock(?:ed|ing)?\s+(?:you|this\s+
            number|your\s+number)|
            \bdejen?\s+de\s+(?:escribir|mandar|enviar)|\bno\s+m[aá]s\s+mensajes|\bno\s+(?:me\s+)?(?:escriban|manden|env[ií]en)|
            \bno\s+quiero\s+(?:recibir\s+)?(?:m[aá]s\s+)?(?:estos\s+|los\s+)?mensajes|\bqu[ií]t[ea]nme|
            \bb[oó]rr[ea]nme|\bbasta\s+de\s+mensajes|\bya\s+no\s+quiero\s+(?:estos|los|m[aá]s)\s+mensajes"""
        ),
    ),
)


# A short quoted span is a word mentioned, not used: 'my daughter says "unsubscribe" is her word
# for ignoring her brother', or someone else's words: 'it would say "please stop pushing"'.
# The subscriber quoting what they said to us ('i said "stop"') still counts.
# A reply made only of stop-sign emoji ("🛑", "⛔⛔") is the STOP keyword drawn, not written.
_STOP_EMOJI = re.compile(r"^[\s🛑⛔🚫✋❌\ufe0f.!]*[🛑⛔🚫][\s🛑⛔🚫✋❌\ufe0f.!]*$")
_QUOTED = re.compile(
    r'(?<!i said )(?<!i say )(?<!i\'ve said )(?<!typed )(?<!texted )(?<!^said )(?<!^say )"[^"]{1,80}"'
)


# The subscriber resolving to stop one of their own habits: "i need to stop texting them so much",
# "gonna quit calling her every night". The object is a habit, never our messages, so the model's
# opt-out is not trusted on these.
_OWN_HABIT = rx(
    r"""\b(?:i|i'?m|i\s+am|i'?ll|i\s+will|i'?ve|gonna|going\s+to|need\s+to|have\s+to|got\s+to|gotta|
    should|must|want\s+to|wanna|trying\s+to|try\s+to|try\s+and|learning\s+to|started\s+to)\s+
    (?:\w+\s+){0,2}?(?:stop|quit|cut\s+(?:out|back\s+on))\s+(?!getting|receiving)\w+ing\b
    (?!\s+(?:me|this\s+number|these|this\s+list))"""
)


def own_habit(text: str) -> bool:
    """Whether a reply resolves to stop one of the subscriber's own habits (see ``_OWN_HABIT``)."""
    return _OWN_HABIT.search(pattern_form(text)) is not None


def opt_out_negated(text: str) -> bool:
    """Whether a reply says not to stop ("please don't stop sending these")."""
    return _NEGATED.search(pattern_form(text)) is not None


def opt_out_rule(text: str) -> str | None:
    """Name the opt-out pattern a reply matches, unless the request is negated."""
    norm = _QUOTED.sub(" ", pattern_form(text))
    if _STOP_EMOJI.match(norm):
        return "stop_emoji"
    if _NEGATED.search(norm):
        return None
    # "stop, think, then respond" is advice in a list, not a request: split it on sentences only.
    splitter = _SENTENCE_END if _IMPERATIVE_LIST.match(norm) else _CLAUSE_END
    for clause in splitter.split(norm):
        if _STOP_CLAUSE.match(" ".join(_STRIP_CLAUSE.sub(" ", clause).split())):
            return "stop_clause"
    for name, pattern in _OPT_OUT:
        if pattern.search(norm):
            return name
    return None


# What an opt-out talks about: our messages, the list, the number, or a stop word. The model may
# opt someone out only when the reply mentions one of these ("no more excuses from me" does not).
_SERVICE = rx(
    r"""\b(?:texts?|texting|messag\w*|msgs?|lessons?|these|this|list|number|subscri\w*|unsub\w*|
    stop\w*|remove|delete|cancel\w*|opt\w*|quit|end|program|course|contact\w*|spam|sign(?:ed)?\s+up|
    sending|mensajes|baja)\b"""
)


def mentions_service(text: str) -> bool:
    """Whether a reply mentions our messages or a stop word (see ``_SERVICE``), outside quotes.

    A stop word inside someone else's quoted words ('it would say "please stop pushing"') is
    not the subscriber asking us anything.
    """
    return _SERVICE.search(_QUOTED.sub(" ", pattern_form(text))) is not None
