"""Plain-language commands: pause, opt out, reschedule, more and help, with their arguments.

``match_command`` reads a reply that asks for something in its own words ("can we take a break
till monday", "please stop texting me", "mornings would be better"); the exact keywords are
``dripper.keywords``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time

from dripper.labels import ReplyLabel
from dripper.readiness.dates import NUM, pause_days, reschedule_time
from dripper.readiness.opt_out import opt_out_rule
from dripper.readiness.text import pattern_form, rx


@dataclass(frozen=True)
class RuleHit:
    """What a rule decided, with the argument it read, for the classifier to wrap."""

    label: ReplyLabel
    rule: str
    days: int | None = None
    at: time | None = None


# --- pause -----------------------------------------------------------------------------------
_REQUEST = r"""(?:can|could|would|will|please|pls|plz|let'?s|lets|i\s+want\s+to|i\s+wanna|
    i'?d\s+like\s+to|i\s+need\s+(?:you\s+)?to|can\s+i|may\s+i)"""
_OUR_STUFF = r"""(?:these|them|the\s+(?:texts?|lessons?|messages?|course|program)|my\s+(?:lessons?|
    texts?|messages?|subscription|course)|all\s+(?:texts|messages|lessons)|the\s+daily\s+\w+)"""
_WHEN = rf"""(?:for\s+(?:now|a\s+(?:bit|while|week|few|couple|month|little\s+(?:bit|while))|{NUM}\s+
    (?:more\s+)?(?:days?|weeks?|months?)|the\s+(?:week|weekend|holidays?|summer|month|rest\s+of))|
    until|till|til|untill|'til|over|while|through|thru|during)"""
# With "stop", only an end or a length makes a break: "stop for now" promises no return and is an
# opt-out (docs/LABELLING.md, rule 4). Break words ("pause", "hold off") need no end.
_WHEN_STOP = rf"""(?:for\s+(?:a\s+(?:bit|while|week|few|couple|month|little\s+(?:bit|while))|{NUM}\s+
    (?:more\s+)?(?:days?|weeks?|months?)|the\s+(?:week|weekend|holidays?|summer|month|rest\s+of))|
    until|till|til|untill|'til|over|while|through|thru|during)"""
_PAUSE = rx(
    rf"""\bpaus(?:e|ing)\s+(?:{_OUR_STUFF}|it\s+{_WHEN}|{_WHEN}|please|pls|plz|\d|now|everything)\b|
    (?:^|\b{_REQUEST}\s+(?:we\s+|you\s+|u\s+|i\s+)?(?:please\s+)?)pause\b(?!\s+(?:before|and\s+
    (?:breathe|think)|to\s+(?:think|breathe|reflect)))|\bpause[\s?!.]*$|\bpausa(?:r)?\b|\bsnooze\b|
    \bhold\s+off\b|\b(?:put|keep|place)\s+(?:\w+\s+){{0,2}}on\s+hold|\bon\s+hold\s+{_WHEN}|
    \bhold\s+(?:{_OUR_STUFF}|them|my\s+place)\b|\bfreeze\s+{_OUR_STUFF}|
    \b(?:take|taking|need|want|like|give\s+me)\s+(?:a\s+)?(?:short\s+|little\s+|quick\s+|small\s+)?break\s+
    (?:for\s+(?:me|a|\w+\s+(?:days?|weeks?|months?))|from\s+(?:{_OUR_STUFF}|this|them|it\s+all|the\s+
    program)|till|til|until)|\b{_REQUEST}\s+(?:we\s+|you\s+|i\s+|u\s+)?(?:take\s+a\s+)?(?:little\s+|
    short\s+)?break\b|\bbreak\s+(?:til|till|until|for\s+(?:a|the|\d))|\bskip\s+(?:today|tomorrow|
    tonight|the\s+next|this\s+week|a\s+(?:few|week|day|couple)|(?:the\s+)?next\s+(?:few|couple|week|
    \d)|the\s+weekend|a\s+few\s+days)|\b(?:stop|hold|freeze|suspend|postpone|delay)\s+(?:sending\s+
    |texting\s+|messaging\s+)?(?:me\s+)?{_OUR_STUFF}(?:\s+\w+){{0,2}}?\s+{_WHEN_STOP}|
    \b(?:stop|hold|freeze|suspend|postpone|delay)\s+(?:sending|texting|messaging)\s+(?:me\s+)?
    {_WHEN_STOP}|\b{_REQUEST}\s+(?:you\s+|u\s+)?(?:please\s+)?(?:stop|hold)\s+(?:it\s+|them\s+|these\s+)?
    {_WHEN_STOP}|^(?:please\s+)?stop\s+{_WHEN_STOP}|\b(?:suspend|postpone)\s+{_OUR_STUFF}|
    \b(?:can|could)\s+we\s+come\s+back\s+to\s+(?:this|these|it)|\bpick\s+(?:this|it)\s+(?:back\s+)?up\s+
    (?:in|after|next|later)|\bno\s+(?:texts?|messages?|lessons?)\s+(?:for|until|till|this|tomorrow|
    today|while|over|during|on)|\b(?:texts?|lessons?|messages?)\s+off\b|\btime\s+off\s+from\s+
    (?:{_OUR_STUFF}|this|it\s+all)|\b(?:give|gimme)\s+me\s+(?:a\s+(?:week|month|few|couple)|\d+\s+
    (?:days?|weeks?)|till|til|until|some\s+time)|\b(?:take|taking|need|want|give\s+me|get)\s+(?:a\s+)?
    (?:few\s+|couple\s+(?:of\s+)?|\d+\s+)?(?:days?|weeks?|months?)\s+off\b|^(?:a\s+)?(?:few|couple(?:\s+of)?|\d+)\s+(?:days?|weeks?)\s+off\b|\bcan\s+(?:these|they|
    the\s+lessons|this|it)\s+wait\b|\b(?:escr[ií]b|m[aá]nd|env[ií]|contact|habl)\w*(?:me|nos)\s+
    (?:otra\s+vez\s+|de\s+nuevo\s+)?(?:en|dentro\s+de|despu[eé]s\s+de)\s+(?:una?|unos|unas|dos|tres|
    cuatro|\d+)\s+(?:d[ií]as?|semanas?|mes(?:es)?)|\b(?:vuelv\w+|volv\w+)\s+a\s+(?:escribir|mandar|
    enviar)\w*\s+(?:en|dentro\s+de|despu[eé]s\s+de|el|la)|\b(?:un\s+)?descanso\s+de\s+(?:los\s+|estos\s+)?
    mensajes|\b(?:no|sin)\s+(?:me\s+)?(?:manden|escriban|env[ií]en|mensajes)\s+(?:\w+\s+)?(?:por|hasta|
    esta|este)\b|\bhasta\s+(?:la\s+|el\s+)?(?:pr[oó]xim[oa]|otr[oa])\s+(?:semana|mes)"""
)


# --- reschedule ------------------------------------------------------------------------------
_TIME_OF_DAY = r"""(?:mornings?|afternoons?|evenings?|nights?|lunch\w*|noon|midday|bedtime|dinner\w*|
    tonight|after\s+work|after\s+school|before\s+work|\d{1,2}\s*(?:[:.]\s*\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|
    \d{1,2}\s*:\s*\d{2})"""
_RESCHEDULE = rx(
    rf"""\b(?:(?:send|text|message|deliver|resend|move|switch|shift|push|reschedule)(?:s|ing)?\s+
    (?:(?:it|them|these|those|me|us|the\s+(?:texts?|lessons?|messages?)|my\s+(?:texts?|lessons?|
    messages?)|today'?s|tomorrow'?s|the\s+next\s+one|this)\s+)?|(?:get|receive|have)(?:s|ing)?\s+
    (?:it|them|these|those|the\s+(?:texts?|lessons?|messages?)|my\s+(?:texts?|lessons?|messages?)|
    today'?s|tomorrow'?s)\s+)(?:(?:in\s+the|at|around|
    during(?:\s+the)?|before|after|each|every|to(?:\s+the)?|for(?:\s+the)?|by|closer\s+to|on|in)\s+)?
    (?:{_TIME_OF_DAY}|later|earlier|\d{{1,2}}\b(?!\s*(?:days?|weeks?|hrs?|hours?|mins?|%|more|x\b))|
    a\s+(?:later|different|better)\s+time)|\b(?:different|another|other|better|new|later|earlier|
    a\s+later|an\s+earlier)\s+time\b|\bsame\s+time\s+every\s+day|\btime\s+(?:change|of\s+day)\b|\bchange\s+(?:the\s+|my\s+)?
    (?:time|schedule|send\s+time)|\btoo\s+early\b|\b(?:come|comes|coming|arrive|arrives)\s+too\s+
    late|\b(?:mornings|evenings|afternoons|nights)\s+(?:are|is)\s+(?:bad|hard|terrible|rough|chaos|
    crazy|busy|impossible|no\s+good|not\s+good|the\s+worst)|\b(?:{_TIME_OF_DAY}|\d{{1,2}})\s+(?:are|is|would\s+be|works?|suits?|'?d\s+be)\s*(?:much\s+|way\s+|
    a\s+lot\s+|so\s+much\s+)?(?:better|best|easier|ideal)|\b(?:better|best|easier)\s+(?:in\s+the\s+|at\s+|
    around\s+|after\s+|before\s+)(?:mornings?|afternoons?|evenings?|nights?|lunch\w*|noon|\d)|
    \b(?:earlier|later)\s+(?:please|pls|plz|in\s+the\s+(?:day|morning|evening|afternoon))|
    \binstead\s+of\s+(?:the\s+)?(?:\d{{1,2}}\s*(?:[:.]\d{{2}})?\s*(?:am|pm)?\b(?!\s*(?:times|x\b))|
    mornings?|evenings?|afternoons?|nights?)|\b(?:at|around)\s+
    \d{{1,2}}\s*(?:[:.]\s*\d{{2}})?\s*(?:a\.?m\.?|p\.?m\.?)?\s+instead\b|\b{_TIME_OF_DAY}\s+instead\b|
    \bmake\s+it\s+\d|\bnew\s+time\b|\b(?:can|could)\s+(?:it|these|they|them|this)\s+(?:be|come)\s+
    (?:at|around|in\s+the|after|before|later|earlier)|\b(?:can|could)\s+(?:we|you|u)\s+(?:move|change|
    switch|shift)\s+(?:it|them|these|the\s+time)|\btiming\s+is\s+(?:bad|rough|off|terrible|awful|wrong|
    not\s+great|hard)|\b(?:come|comes|coming|arrive)\s+at\s+(?:weird|random|odd|bad|strange|the\s+wrong|
    different|awkward)\s+times?|\bweekdays?\s+only|\bonly\s+on\s+weekdays|\b(?:central|eastern|pacific|
    mountain)\s+time\b|\bdaylight\s+sav|\bre-?schedul|(?:mandar(?:los|las)?|enviar(?:los|las)?|
    mejor)\s+(?:en\s+la\s+(?:tarde|noche|mañana)|a\s+las\s+\d)|\ba\s+las\s+\d{{1,2}}\s+de\s+la\s+
    (?:mañana|tarde|noche)|\b(?:rather|prefer)\s+(?:to\s+)?(?:get\s+|have\s+|receive\s+)?(?:these|them|it|
    the\s+texts|the\s+lessons)\s+(?:at|in\s+the|around)|\b(?:switch|move|change)\s+(?:me\s+)?to\s+
    (?:mornings?|evenings?|afternoons?|nights?|\d)"""
)


# --- more and help -----------------------------------------------------------------------------
_LESSON_THING = r"""(?:one|ones|lesson|lessons|text|texts|message|tip|tips|part|step|day'?s|few|
    batch|chapter|module)"""
_MORE = rx(
    rf"""\b(?:send|give|got|have|get|want|need|love|like|ready\s+for|share|text|hit\s+me\s+with|
    bring\s+on|gimme|read|see)\s+(?:me\s+|us\s+)?(?:the\s+|a\s+|an\s+|one\s+|some\s+|any\s+)?
    (?:next|another|extra|additional|following|tomorrow'?s|rest\s+of\s+(?:the|them|these))
    (?:\s+{_LESSON_THING}|\s*(?:[!?.,🙏🙌]|$|please|pls|plz|now|today|tonight|early|already|if))|
    \b(?:send|give|got|have|get|want|need|love|like|read|do)\s+(?:me\s+|us\s+)?(?:some\s+|any\s+)?more
    \s*(?:{_LESSON_THING}|of\s+(?:these|those|them|this)|[!?.,🙏🙌]|$|please|pls|plz|for\s+me)|
    \b(?:ready\s+for|bring\s+on|send(?:\s+me)?|give\s+me|can\s+i\s+(?:get|have))\s+(?:lesson|day|part)\s+
    \d+|\b(?:next|another)\s+(?:one|lesson|tip|step|plz|pls|please)\b\s*(?:please|pls|plz|now|today|
    early|already|[!?.🙏]|$)|^(?:ok\s+|okay\s+|yes\s+)?(?:next|another|more|moar|otra)\b\s*(?:one\s*)?
    (?:please|pls|plz|[!?.🙏🙌]|$)|\b(?:can|could|may)\s+i\s+(?:get|have|see|do|read)\s+(?:the\s+)?
    (?:next|another|more|tomorrow'?s|the\s+one\s+about|it\s+early|them\s+all)|\bmore\s+(?:please|pls|plz)|
    \bready\s+for\s+more|\bany\s+more\s*(?:for\s+me\s*)?\?|\bkeep\s+(?:them|these|it|em|'em)\s+coming|
    \bskip\s+ahead|\ball\s+at\s+once|\btwo\s+(?:today|a\s+day)|\btoo\s+slow\b|\bmore\s+often|
    \bmore\s+than\s+one\s+a\s+day|\b(?:don'?t|do\s+not)\s+(?:make\s+me\s+)?wait\s+(?:till|until|til)\s+
    tomorrow|\bcan'?t\s+wait\s+(?:till|until|til|for|that\s+long)\s*(?:tomorrow|the\s+next|that\s+long|
    $)|\bbinge|\botra\s+por\s+favor|\bsiguiente\s+lecci|\bla\s+siguiente\b|\bwhat'?s\s+next\s*\?"""
)
# Questions about the service itself, not about the loved one.
_HELP_HYPOTHETICAL = rx(
    r"""\bwhat\s+(?:can|do|should)\s+i\s+(?:text|reply|say|send|type)\s+to\b|\bwhy\s+did\s+i\s+
    (?:get|receive)\b|\b(?:if|when)\s+i\s+(?:ever\s+)?(?:need|want|wanted|needed)\s+to\b.*\b(?:how|what)\b|
    \bhow\s+(?:do|would|can)\s+i\b.*\b(?:if\s+i\s+(?:need|want)|later\s+on|at\s+some\s+point|
    in\s+the\s+future)|\b(?:can|could|may)\s+i\b.*\b(?:if\s+i\s+(?:ever\s+)?(?:want|need|wanted|needed|
    decide|change\s+my\s+mind)|later\s+on|at\s+some\s+point|down\s+the\s+(?:road|line))\b(?:\s+to)?\s*
    (?:please|pls|lol)?\s*[?.!]*$"""
)
_HELP = rx(
    r"""\b(?:what\s+is\s+this|what'?s\s+this|whats\s+this|who\s+is\s+this|who'?s\s+this|
    who(?:'s|\s+is|\s+keeps|\s+has\s+been|\s+are)?\s+(?:sending|texting|messaging|writing)\s+(?:me|these|this|
    them|all\s+these)|whose\s+number|who\s+(?:texted|sent)\s+me|
    who\s+(?:are\s+you|sent\s+this|runs\s+(?:this|these)|writes\s+(?:this|these)\s*\?|is\s+behind|
    '?s\s+behind|sees\s+(?:my|what|these))|who'?s\s+behind|
    how\s+(?:does|do)\s+(?:this|these|it)\s+work|how\s+do\s+i\s+(?:use|change|pause|get|reply|respond|
    contact|reach|talk|restart|start\s+over|switch|see)|what\s+(?:are\s+)?(?:the\s+)?(?:commands|
    options|keywords)|what\s+(?:can|do|should)\s+i\s+(?:text|reply|say|send)\s+to|
    (?:customer|tech)\s+support|support\s+(?:team|line|email|number)|
    talk\s+to\s+(?:a\s+)?(?:real\s+)?(?:person|human|counselor|someone\s+about\s+the\s+program)|
    (?:talking|texting|chatting|speaking)\s+(?:to|with)\s+(?:a\s+)?(?:real\s+|actual\s+|live\s+)?(?:person|
    human|bot|robot|machine|computer|ai\b)|(?:is|are)\s+(?:this|you|these)\s+(?:an?\s+)?(?:ai|automated|
    chatgpt|computer|machine)\b|(?:is|are)\s+(?:there|you)\s+(?:a\s+)?(?:real\s+)?(?:person|human|
    people)\s+(?:reading|behind|on\s+the\s+other)|
    (?:my|the)\s+(?:data|info|information|number|replies|answers|details)\s+(?:is|are|be|being|been|
    get|gets|getting|going\s+to\s+be|will\s+be|stay|stays)\s+(?:\w+\s+)?(?:deleted|erased|shared|sold|
    stored|saved|kept|private|safe|secure|used)|
    (?:same|duplicate|identical)\s+(?:lesson|text|message|one)\s+(?:twice|again|two\s+times|2x)|
    \b(?:got|get|getting|received|came|come|coming|sent)\s+(?:\w+\s+){0,3}(?:twice|two\s+times|2x)\b|
    something\s+(?:wrong|broken|off)\s+with\s+(?:the|your|my|this)\s+(?:texts?|messages?|system|
    lessons?|number|app|service|link)|
    (?:can|could|how\s+do|how\s+can)\s+i\s+(?:go\s+back\s+(?:to|and)|redo|re-?read|re-?do|repeat|review|
    find|look\s+at|get\s+back|see\s+(?:an?\s+)?(?:old|earlier|previous|past))\s+(?:\w+\s+){0,3}
    (?:lesson|lessons|ones?|texts?|messages?|days?)|
    (?:missed|lost|deleted)\s+(?:a\s+|the\s+|yesterday'?s\s+|today'?s\s+|some\s+|a\s+few\s+)?(?:lesson|
    lessons|texts?|messages?)\b.*\?|
    (?:is|are)\s+(?:this|these|you)\s+(?:a\s+)?(?:bot|robot|real|person|human|free|therapy|
    therapists?|confidential|private|anonymous|the\s+program|run\s+by|connected|a\s+church)|
    how\s+(?:often|many|long)\s+(?:do|will|are|is|does)\s+(?:you|these|the\s+(?:lessons|texts|
    program|course)|this|it|they)\s+(?:text|send|last|come|go|run|take)|how\s+many\s+(?:are\s+left|
    lessons|left|are\s+there)|
    how\s+much\s+(?:does|is|will)|(?:does|will)\s+(?:this|it)\s+cost|what\s+does\s+(?:this|it)\s+cost|
    (?:am|will)\s+i\s+(?:being\s+|get\s+|be\s+)?charged|msg\s+(?:&|and)\s+data|privacy\s+policy|
    what\s+program|which\s+program|how\s+did\s+you\s+get\s+my\s+number|did\s+i\s+sign\s+up|
    (?:didn'?t|did\s+not)\s+(?:get|receive)\s+(?:today'?s|the|my|a)\s+(?:lesson|text|message)|
    link\s+(?:doesn'?t|does\s+not|isn'?t|won'?t)\s+work|(?:broken|dead)\s+link|
    (?<!of\s)(?<!about\s)(?<!know\s)(?<!matter\s)(?<!matters\s)what\s+happens\s+(?:now|next|when|after|if)|do\s+i\s+(?:have|need)\s+to\s+(?:answer|reply|respond)|
    (?:does|do)\s+(?:anyone|anybody|someone|you)\s+(?:actually\s+)?(?:read|see|keep)|
    is\s+my\s+(?:number|info|data)|(?:can|do)\s+i\s+get\s+(?:these|them|the\s+lessons|it)\s+(?:by|in|on|as)|
    in\s+spanish|en\s+espa[nñ]ol|\ban\s+app\b|\bapp\s+(?:for|version)|website|is\s+there\s+(?:a|an|any)\s+(?:app|version|number|
    way|website|list|other)|(?:other|different)\s+courses?|switch\s+to\s+a\s+different\s+course|
    can\s+i\s+(?:share|see\s+the\s+old|restart|switch)|what\s+day\s+am\s+i\s+on|
    why\s+did\s+i\s+get|got\s+cut\s+off|weird\s+(?:boxes|symbols|characters)|
    what\s+time\s+(?:do|does|will)\s+(?:these|they|it|the\s+lessons|the\s+texts)|
    what\s+time\s*zone|qu[eé]\s+es\s+esto|qui[eé]n\s+(?:me\s+)?(?:est[aá]|es)|hay\s+versi[oó]n)"""
)


_HOW_DO_I = rx(
    r"""\b(?:how\s+(?:do|can|would|could|should)\s+i|is\s+there\s+a\s+way\s+to|what\s+do\s+i\s+
    (?:text|reply|send|type|do)\s+to)\b"""
)
_LEAVING = rx(
    r"""\b(?:stop\w*|unsubscrib\w*|unsub|opt\s*out|cancel\w*|get\s+off|take\s+me\s+off|remove|
    end\s+(?:this|these|my\s+subscription)|quit|leave|turn\s+(?:\w+\s+)?off)\b"""
)


# A question about what the course said ("what do you mean by that?", "what does enabling mean
# here?", "can you explain that?"). While a question of the course is open it is about the lesson,
# not about the program; a keyword or our texts named in it keep it a question about us ("what
# does STOP mean?", "what do you mean reply?").
_CLARIFY = rx(
    r"""\bwhat\s+(?:do|did)\s+(?:you|u|ya)\s+mean\b|\bwhat\s+(?:does|did|do)\s+(?:\S+\s+){1,3}?mean\b|
    \bwhat\s+(?:is|was|'s)\s+meant\s+by\b|\b(?:can|could|would)\s+(?:you|u)\s+(?:please\s+)?
    (?:explain|clarify|rephrase)\b|\bnot\s+sure\s+what\s+(?:you|u)\s+mean|
    \b(?:don'?t|dont|do\s+not)\s+(?:understand|get)\s+what\s+(?:you|u)\s+mean"""
)
_ABOUT_US = rx(
    r"""\b(?:stop|help|info|pause|resume|more|next|join|start|yes|unsubscrib\w*|reply|replying|
    respond|text\w*|messag\w*|msgs?|rates?|number|who|program|service|bot)\b"""
)


def asks_what_we_mean(text: str) -> bool:
    """Whether a reply asks what the course's words mean, rather than about the program."""
    norm = pattern_form(text)
    return _CLARIFY.search(norm) is not None and _ABOUT_US.search(norm) is None


def match_command(text: str, today: date) -> RuleHit | None:
    """Read a plain-language command.

    Order matters. A question about how something would work ("if I want a break at some point,
    how?") is a help request, not the thing itself. A pause is checked before an opt-out because
    "stop these till monday" asks for a pause; an opt-out before the rest because honouring it
    promptly is a legal duty.
    """
    norm = pattern_form(text)
    if not norm:
        return None
    if _HELP_HYPOTHETICAL.search(norm):
        return RuleHit(ReplyLabel.HELP, "help_hypothetical")
    if _HOW_DO_I.search(norm) and not _LEAVING.search(norm):
        # Asking how something works is help; asking for it is the action (rule 7).
        return RuleHit(ReplyLabel.HELP, "help_how")
    if _PAUSE.search(norm):
        return RuleHit(ReplyLabel.PAUSE, "pause", days=pause_days(norm, today))
    if rule := opt_out_rule(norm):
        return RuleHit(ReplyLabel.OPT_OUT, rule)
    if _RESCHEDULE.search(norm):
        return RuleHit(ReplyLabel.RESCHEDULE, "reschedule", at=reschedule_time(norm))
    if _MORE.search(norm):
        return RuleHit(ReplyLabel.MORE, "more")
    if _HELP.search(norm):
        return RuleHit(ReplyLabel.HELP, "help")
    return None
