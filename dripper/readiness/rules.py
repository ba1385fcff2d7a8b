"""Hand-written layers of the reply classifier: safety patterns and plain-language commands.

Everything here is a general pattern about how people write, never a copy of a corpus row. The
patterns are deliberately narrow where a mistake is expensive (a false opt-out silences a
subscriber for good) and deliberately wide where a miss is expensive (a missed crisis leaves a
person alone with it). The trained model covers whatever these leave undecided.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, time, timedelta

from dripper.conversation.keywords import DEFAULT_PAUSE_DAYS, MAX_PAUSE_DAYS
from dripper.labels import ReplyLabel

# Phones substitute typographic characters; the patterns below are written for plain ASCII.
_TYPOGRAPHY = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201b": "'",
        "\u2032": "'",
        "`": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
        "\u2026": "...",
    }
)
_SPACES = re.compile(r"\s+")


# Contractions typed without the apostrophe, and SMS shorthand, written out once here so that
# every pattern can spell them one way ("im scared hes gonna hurt me").
_SHORTHAND = {
    "im": "i'm",
    "ive": "i've",
    "dont": "don't",
    "cant": "can't",
    "wont": "won't",
    "didnt": "didn't",
    "doesnt": "doesn't",
    "isnt": "isn't",
    "wasnt": "wasn't",
    "arent": "aren't",
    "werent": "weren't",
    "havent": "haven't",
    "hasnt": "hasn't",
    "hadnt": "hadn't",
    "couldnt": "couldn't",
    "wouldnt": "wouldn't",
    "shouldnt": "shouldn't",
    "aint": "ain't",
    "hes": "he's",
    "shes": "she's",
    "theyre": "they're",
    "youre": "you're",
    "thats": "that's",
    "whats": "what's",
    "theres": "there's",
    "u": "you",
    "ur": "your",
    "abt": "about",
    "bc": "because",
    "cuz": "because",
    "rn": "right now",
    "thru": "through",
    "ppl": "people",
    "pls": "please",
    "plz": "please",
}
_SHORTHAND_WORD = re.compile(r"(?<![\w'])(" + "|".join(_SHORTHAND) + r")(?![\w'])")


def normalise_text(text: str) -> str:
    """Lower-case, straighten quotes, write out shorthand, collapse spaces: what patterns expect."""
    lowered = text.translate(_TYPOGRAPHY).lower()
    return _SPACES.sub(" ", _SHORTHAND_WORD.sub(lambda m: _SHORTHAND[m[1]], lowered)).strip()


def _rx(pattern: str) -> re.Pattern[str]:
    # Verbose mode lets the long alternations below carry their own comments.
    return re.compile(pattern, re.VERBOSE)


# --------------------------------------------------------------------------------------------
# Safety (crisis) patterns
# --------------------------------------------------------------------------------------------
# Reflexives: harm aimed at oneself ("hurt herself") is self-harm whoever writes about it.
_SELF = r"(?:my\s?self|him\s?self|her\s?self|them\s?selves|them\s?self|our\s?selves|your\s?self)"
# Someone the subscriber could be describing as a danger to others.
_HE = r"(?:he|she|they|he's|she's|they're)"
# A person who can hit or hurt someone: "he hit me", never "it hit me" or "that lesson hit me".
_PERSON = r"""(?:he|she|they|he's|she's|and|who|husband|wife|son|daughter|dad|father|mom|mother|
    brother|sister|boyfriend|girlfriend|bf|gf|partner|ex|stepdad|stepmom|uncle|grandpa|caregiver|
    roommate|fianc[eé]e?|kid|teen|teenager|child)"""

# Patterns that mean crisis wherever they appear. Checked before any hyperbole is discounted, so
# "lol" in the same text cannot hide them. Each alternation is a family of phrasings, not a list
# of sentences: suicidal talk, self-harm, overdose and medical emergency, violence and threats,
# fear for safety, abuse, weapons, and emergency services.
_CRISIS_STRONG: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "suicide",
        _rx(
            r"""\bsuicid\w*|\bsu[i1!]c[i1!]d\w*|\bs\*+\w*cide|\bsewer\s?slide|\bunaliv\w*|
            \bkill\s+yourself|\bways\s+to\s+die|\battempted\s+(?:last|again|suicide|yesterday|
            this|on)|\b(?:suicide|goodbye)\s+(?:note|letter)|\bgoodbye\s+(?:note|letter|post|text)|
            \bfound\s+a\s+note\b|\b(?:posted|texted|sent|said)\s+(?:a\s+)?goodbye"""
        ),
    ),
    ("kms", _rx(r"\b(?:kms|kys|ctb)\b")),
    (
        "self_harm",
        _rx(
            r"""\bself[\s-]?harm\w*|\bself[\s-]?injur\w*|\brelapsed\s+on\s+sh\b|\bsh[\s-]?ing\b|\bsh(?:'s|s|'d|'ed|-ed)(?![\w*])|\b(?:doing|does|did|started|into|urges?\s+to|
            relaps\w*\s+(?:on|with))\s+sh\b(?![*@#])|\bsh\s+(?:again|scars?|urges?|marks)\b|
            \b(?:until|till|til|'til)\s+(?:i|he|she|they|it)\s+(?:bleed|bleeds|bled|bleeding)\b|
            \bmak(?:e|es|ing)\s+(?:my|him|her|them)\w*\s+bleed\b|
            \bcut(?:ting)?\s+(?:again|really\s+deep|deep|her\s+(?:arm|wrist|leg)s?|his\s+(?:arm|wrist|leg)s?)|
            \b(?:burn\w*|cut\w*|hurt\w*|scratch\w*|hit\w*)\s+(?:\w+\s+){0,3}on\s+purpose|
            \bbang\w*\s+(?:his|her|my)\s+head|\bcort[aá]ndo(?:se|me)?\b|
            \bse\s+(?:est[aá]\s+)?cort|\bcuts\s+on\s+(?:his|her|my)|\brazor\s+blades?"""
        ),
    ),
    (
        "harm_self",
        _rx(
            rf"""\b(?:kil+(?:s|ed|ing)?|hurt(?:s|ing)?|harm(?:s|ed|ing)?|cut(?:s|ting)?|
            shoot(?:s|ing)?|shot|hang(?:s|ed|ing)?|starv(?:e|es|ed|ing)|off(?:ed|ing)?|
            end(?:s|ed|ing)?|burn(?:s|ed|ing|t)?|poison(?:s|ed|ing)?|drown(?:s|ed|ing)?|
            scratch(?:es|ed|ing)?|punch(?:es|ed|ing)?|hit(?:s|ting)?|stab(?:s|bed|bing)?|
            choke[sd]?|choking|strangl\w+|bit(?:e|es|ing)|starve|do\s+(?:something\s+)?to)\s+{_SELF}"""
        ),
    ),
    (
        "cutting",
        _rx(
            r"""\b(?:is|was|been|started|keeps?|still|caught\s+\w+|'s|she's|he's)\s*cutting\b
            (?!\s+(?:back|down|out|off|corners|ties|class|school|me\s+off|him\s+off|her\s+off|it))"""
        ),
    ),
    (
        "want_to_die",
        _rx(
            r"""\b(?:wants?|wanted|wanna|wanting|plans?|planning|ready|trying|tried|
            wish(?:es|ed)?|like|should|hope)\s+(?:to\s+)?(?:just\s+)?(?:die|be\s+dead|end\s+(?:it|things|
            everything|it\s+all|
            (?:my|his|her|their)\s+life)|not\s+(?:be\s+)?(?:here|alive|exist|wake\s+up)|
            disappear\s+(?:forever|for\s+good)|sleep\s+forever|go\s+to\s+sleep\s+forever)\b
            (?!\s+(?:of|from)\s+(?:embarrass|laugh|shame|boredom|cringe))|
            \b(?:hope|wish)\s+(?:i|he|she)\s+(?:just\s+)?(?:could\s+)?(?:go\s+to\s+sleep\s+and\s+)?
            (?:don'?t|doesn'?t|never|wouldn'?t|not)\s+wake\s+up|\bsleep\s+forever\b|
            \bthinking\s+(?:a)?b(?:ou)?t\s+(?:dying|death|ending)|\bend(?:in'?|ing)\s+(?:it|things)\b
            (?!\s+with)|\b(?:i|he|she|they)(?:'ll|'d|\s+will|\s+would|'m\s+going\s+to|'s\s+going\s+to|
            \s+is\s+going\s+to|\s+am\s+going\s+to|\s+gonna|'s\s+gonna|'m\s+gonna)\s+end\s+(?:it|things|
            (?:it\s+)?all)\b(?!\s+with)|\bend\s+it\s+(?:tonight|today|now|soon)|\b(?:quiero|quiere)\s+morir|
            \bmorirme\b|\b(?:me\s+quiero|se\s+va\s+a|se\s+quiere)\s+matar|\bmatarme\b|
            \bquitar(?:me|se|te)\s+la\s+vida"""
        ),
    ),
    (
        "end_life",
        _rx(
            r"""\b(?:end(?:ing)?\s+it\s+all|end(?:ing)?\s+(?:my|his|her|their)\s+(?:own\s+)?life|
            take\s+(?:my|his|her|their)\s+(?:own\s+)?life|took\s+(?:his|her|their)\s+(?:own\s+)?life|
            (?:nothing|no\s+one|nobody|no\s+reason)\s+(?:left\s+)?to\s+live\s+for|
            no\s+(?:reason|point)\s+(?:to|in)\s+(?:liv|go(?:ing)?\s+on|being\s+alive)\w*|
            (?:what'?s|whats)\s+the\s+point\s+(?:of|in)\s+(?:living|life|being\s+alive|going\s+on)|
            (?:life|living)\s+(?:is\s*n'?t|is\s+not|isnt|ain'?t)\s+worth|not\s+worth\s+living|
            better\s+off\s+(?:dead|without\s+(?:me|him|her|them)|if\s+i\s+(?:was|were)\s+(?:gone|dead))|
            rather\s+be\s+dead\s+than\s+(?:keep|go\s+on|live|living)|
            don'?t\s+want\s+to\s+(?:live|be\s+alive|be\s+here\s+anymore|wake\s+up|exist)|
            (?:dont|don'?t|do\s+not)\s+w\w*\s+to\s+be\s+here\s+any\s?mo\w*|
            (?:tired|sick|exhausted|weary)\s+of\s+(?:being\s+alive|living|existing|exist|being\s+here\b
            (?!\s+(?:at|in|with|for|every|all|by|alone|waiting|again))|
            waking\s+up(?:\s+every\s+day)?|life\s+itself)|done\s+with\s+(?:life|living|existing)|
            (?:stop|cease|quit)\s+(?:existing|to\s+exist)|(?:wish|want)\s+(?:i|he|she)\s+(?:didn'?t|
            did\s+not|could\s+not|couldn'?t)\s+(?:exist|wake\s+up|be\s+alive)|
            why\s+am\s+i\s+(?:even\s+)?(?:still\s+)?(?:alive|existing)\b|(?:no|zero)\s+(?:will|desire|want)\s+to\s+(?:live|keep\s+living|be\s+alive)|
            wish(?:ed)?\s+(?:i|he|she)\s+(?:was|were|'d\s+been|had\s+been)\s+dead|wish(?:ed)?\s+(?:i|he|
            she)\s+(?:had\s+)?never\s+(?:been\s+born|existed)|(?:i'?m|i\s+am|feel\s+like|he'?s|she'?s)\s+
            (?:such\s+|just\s+|only\s+)?a\s+burden|
            (?:can'?t|cannot)\s+go\s+on\s+(?:living|like\s+this\s+anymore)|
            (?:notice|miss\s+me|care)\s+if\s+i\s+(?:was|were|died|disappeared|left\s+for\s+good)|
            (?:if|when)\s+i(?:'m|\s+am|\s+was|\s+were)\s+(?:gone|dead)|if\s+i\s+(?:disappeared|died|
            wasn'?t\s+(?:here|around|alive)|weren'?t\s+(?:here|around|alive))|except\s+(?:dying|death|
            to\s+die)|my\s+(?:own\s+)?funeral|\bi\s+(?:have|made|got)\s+a\s+plan\b(?!\s+(?:for|to\s+(?:talk|
            ask|approach|tell|help)))|(?:has|have|had)\s+a\s+plan\s+to\s+(?:kill|end|die|hurt)|
            want\s+(?:it\s+all|everything|this\s+all|all\s+of\s+it)\s+to\s+(?:end|stop)|
            (?:stop|end|over)\.?\s+permanently|
            say(?:ing|s)?\s+goodbye\s+(?:forever|for\s+good|to\s+(?:every|his|her|their|all))|
            i'?m\s+saying\s+goodbye|(?<!ignore\s)(?<!changed\s)(?<!in\s)(?<!sent\s)(?<!read\s)
            (?<!see\s)(?<!disregard\s)(?<!delete\s)(?<!from\s)my\s+last\s+(?:text|message)(?!\s+(?:was|
            is\s+(?:wrong|meant|for)|got|went|didn'?t|to\s+my|should|by\s+mistake))|
            (?:i'?m|i\s+am|i'?ll|i\s+will)\s+(?:gonna\s+|going\s+to\s+)?(?:be\s+)?gone\s+(?:soon|
            forever|for\s+good|before\s+(?:long|you\s+know)|by\s+(?:tomorrow|morning|the\s+weekend))|final\s+goodbye|
            won'?t\s+be\s+(?:around|here|a\s+problem)\s+(?:much\s+longer|tomorrow|anymore|for\s+long)|
            won'?t\s+(?:have|need)\s+to\s+worry\s+about\s+(?:me|him|her)\s+(?:much\s+)?(?:longer|anymore)|
            won'?t\s+need\s+(?:these|this|them)\s+where|
            giv(?:e|es|ing)\s+(?:away\s+)?(?:his|her|my|all)\s+(?:\w+\s+)?(?:stuff|things|belongings)\s+away|
            giving\s+away\s+(?:his|her|my|all)|end\s+(?:his|her|my)\s+suffering|
            (?:wrote|writing|write|written)\s+(?:\w+\s+)?(?:letters?|notes?)\s+to\s+(?:my|his|her|their|
            the)\s+(?:kids|children|family|wife|husband|mom|dad|parents|son|daughter)|
            said\s+(?:he|she|they)\s+(?:was|were|is|are)\s+sorry\s+for\s+everything|
            (?:driv\w*|drove)\s+(?:\w+\s+){0,2}(?:into|off)\s+(?:a\s+|the\s+)?(?:tree|wall|road|bridge|
            cliff|traffic|overpass)|(?:standing|sitting)\s+on\s+(?:the|a)\s+(?:bridge|ledge|roof|edge))"""
        ),
    ),
    (
        "overdose",
        _rx(
            r"""\bover[\s-]?dos\w*|\bod'?(?:d|ed|ing)\b|\bo\.d\.|\bnarcan\b|\bnaloxone\b|\bsobredosis\b|
            \bse\s+pas[oó]\s+de\s+drogas|\bpills?\s+(?:saved|stashed|hidden|hoarded|stockpiled|
            collected|lined\s+up)|\b(?:saved|saving|stashed|stashing|hoard\w*|stockpil\w*|collect\w*|
            hiding|hid)\s+(?:up\s+)?(?:\w+\s+){0,3}(?:pills|meds|medication|tablets)|
            \b(?:took|swallowed|taken|take|took\s+all)\s+(?:a\s+)?(?:bunch|bottle|handful|lot|whole|all)\s+
            (?:of\s+)?(?:\w+\s+){0,2}(?:pills|meds|medication|tablets|tylenol|advil|sleeping)|
            \b(?:too\s+many|a\s+bunch\s+of)\s+(?:\w+\s+)?pills|\bswallow\w*\s+(?:a\s+bottle|everything|all|
            a\s+handful|a\s+bunch)|\bwhole\s+bottle\b|\bnot\s+breathing\b|\bbreathing\s+(?:weird|funny|
            strange|slow)|\bunresponsive\b|\bunconscious\b|\b(?:won'?t|can'?t|couldn'?t)\s+(?:wake\s+(?:him|
            her|them)|wake\s+up)|\bseizure\b|\bhallucinat\w*|\bseeing\s+(?:bugs|things|people\s+who)|
            \bhearing\s+voices|\bnodding\s+out\b|\bturning\s+blue\b|\bcpr\b|
            \bhit\s+(?:his|her)\s+head|\bpassed\s+out\s+and\b"""
        ),
    ),
    (
        "violence",
        _rx(
            rf"""\b(?:choked|choking|strangl\w*|slapped|slapping|punched|punching|kicked\s+me|
            kicking\s+me|shoved|shoving|beat\s+(?:me|us|her|him|my\s+\w+|the\s+kids)\s+up|beat(?:s|ing)?\s+
            (?:me|us|her|him|my|the\s+kids)\b(?!\s+(?:to\s+it|at|up\s+about|myself))|
            threw\s+(?:\w+\s+){{0,2}}at\s+(?:me|us|my|her|him)|
            \b{_PERSON}\b(?:\s+\S+){{0,3}}?\s+(?:hit+|hits|hitting|hurt|hurts|hurting|attack\w*|grabbed|
            pushed|punch\w*|smack\w*|shook|shakes|beat|beats|beating)\s+(?:me|us|my\s+(?:kids?|children|son|
            daughter|baby|mom|dad|mother|father|wife|husband|sister|brother)|the\s+(?:kids|baby)|her|him)\b
            (?!\s+(?:up|hard|home|different|like|that|with\s+(?:the\s+next|another|more|some|it|your|a\s+
            (?:truth|realit|realization|new|good))|feelings|pride))|(?:gave|give)\s+(?:me|her|him)\s+a\s+(?:black\s+eye|bruise)|
            bruises?\b|black\s+eye|\bkick\w*\s+(?:the\s+)?door|\bme\s+peg[oó]|\bnos\s+pega|
            \b(?:been|was|is|keeps?)\s+touching\s+(?:him|her|me|my)|\blocked\s+(?:me|us)\s+(?:in|out)|
            \bwon'?t\s+let\s+(?:me|us)\s+(?:leave|back\s+in|go|out)|
            \b(?:so|and)\s+(?:now\s+)?i\s+can'?t\s+(?:leave|get\s+out|call\s+anyone)|
            \b(?:left|leaving|leaves)\s+(?:the\s+|my\s+|his\s+|her\s+)?(?:toddler|baby|kids?|children|infant)\s+
            alone|\b(?:driv\w*|drove)\s+(?:around\s+|off\s+|home\s+)?drunk|\bdrunk\s+driv\w*|
            \bdrunk\s+(?:and|with)\s+(?:the\s+)?(?:kids|baby|gun|rifle|knife)|
            \b(?:drunk|been\s+drinking|wasted|high|using)\b[^.!?]{{0,80}}\b(?:took|takes|taking|drove|
            driving|drives|got\s+in(?:to)?)\s+(?:off\s+)?(?:in\s+|with\s+)?(?:the|his|her|our|my)\s+
            (?:car|truck|van)\b[^.!?]{{0,40}}\b(?:kids?|baby|son|daughter|children|toddler)\b)"""
        ),
    ),
    (
        "threat",
        _rx(
            r"""\bthreat(?:en(?:s|ed|ing)?)?\s+(?:me|us|my|to\s+(?:kill|hurt|harm|shoot|stab|
            end|take|jump|burn|beat|hit)|the\s+kids|him\s?self|her\s?self|with)|
            \b(?:said|says|told\s+(?:me|us)|swore|promised|texted|yelled)\s+(?:that\s+)?
            (?:he|she|they)(?:'d|'ll|\s+would|\s+will|\s+is\s+going\s+to|\s+was\s+going\s+to|
            \s+was\s+gonna|\s+is\s+gonna|\s+gonna|'s\s+going\s+to|'s\s+gonna)\s+(?:kill|hurt|shoot|stab|
            end|harm|make\s+(?:me|us|you|her|him|them)\s+disappear)|
            \b(?:he|she|they)(?:'ll|'d|\s+will|\s+would|\s+is\s+going\s+to|'s\s+going\s+to|
            \s+gonna|'s\s+gonna)\s+(?:kill|hurt|shoot|stab)\s+(?:me|us|her|him|the\s+kids|my)\b|
            \b(?:hurt|kill|shoot|stab|harm)\s+(?:someone|somebody|people|everyone|the\s+(?:dog|cat|baby|
            kids)|his\s+(?:ex|wife|girlfriend|gf|kids|mom|dad|brother|sister)|her\s+(?:ex|husband|
            boyfriend|bf|kids|mom|dad))\b|\bnext\s+time\s+it\s+won'?t\s+be"""
        ),
    ),
    (
        "afraid_for_safety",
        _rx(
            rf"""\b(?:scared|afraid|terrified|frightened)\s+(?:to\s+(?:go|come)\s+(?:back\s+)?home|
            (?:for|of)\s+(?:my|our)\s+(?:life|lives|safety)|of\s+(?:him|her|them|what\s+(?:he|she|they|
            i)(?:'ll|\s+will|\s+might|\s+could)\s+do)|{_HE}(?:'ll|\s+will|\s+is\s+going\s+to|\s+might|
            \s+could|'s\s+going\s+to)\s+(?:hurt|kill|do\s+something|come\s+back))|
            \b(?:not|don'?t\s+feel|never\s+feel|no\s+longer)\s+safe\b
            (?!\s+(?:being|to\s+(?:share|talk|open|be\s+vulnerable)|emotionally|opening|telling|
            enough|with\s+(?:anyone|anybody|people|most\s+people)))|
            \bunsafe\b|\bin\s+danger\b|\blocked\s+(?:my|our)sel(?:f|ves)\s+in\b|
            \bhiding\s+(?:from\s+(?:him|her|them)|in\s+the|with\s+the\s+kids)|
            \btengo\s+miedo|\bmiedo\s+de\s+volver"""
        ),
    ),
    (
        "abuse",
        _rx(
            r"""\b(?<!substance\s)(?<!alcohol\s)(?<!drug\s)(?<!drugs\s)(?<!opioid\s)
            (?:abus(?:e|ed|es|ing|ive|er)|assault\w*|rap(?:e|ed|ist)|molest\w*|domestic\s+violence)\b
            (?!\s+(?:of\s+)?(?:alcohol|drugs?|substances?|pills|opioids|prescriptions?|(?:his|her|their)\s+
            (?:meds|medication|prescriptions?)|meds|painkillers|weed|the\s+system|booze))"""
        ),
    ),
    (
        "weapon",
        _rx(
            r"""\b(?<!jump\sthe\s)(?<!jumped\sthe\s)(?<!jumping\sthe\s)(?<!to\smy\s)(?<!to\shis\s)
            (?<!to\sher\s)(?<!top\s)(?<!glue\s)(?<!nail\s)(?<!water\s)(?<!nerf\s)(?<!big\s)(?<!heat\s)
            (?<!spray\s)(?:guns?|firearms?|pistol|pistola|rifle|shotgun|handgun|revolver|loaded\s+weapon|
            weapons?|arma)\b(?!\s+(?:blazing|show))|\b(?:knife|knives|blade|machete)\s+(?:to|at|on)\b|
            \b(?:has|had|with|holding|grabbed|pulled|waving|brandish\w*|got)\s+(?:out\s+)?(?:a|the|his|her)\s+
            (?:knife|blade|machete)"""
        ),
    ),
    (
        "warning_signs",
        _rx(
            r"""\b(?:no\s+longer|don'?t|do\s+not)\s+want\s+to\s+(?:live|be\s+alive|go\s+on|be\s+around|
            exist)|\b(?:want|need)\s+(?:the\s+|this\s+|all\s+the\s+)?pain\s+to\s+(?:stop|end)|
            \bmake\s+it\s+(?:all\s+)?(?:stop|end)\s+(?:for\s+good|forever|permanently)|
            \b(?:give|giving|gave)\s+up\s+on\s+(?:life|living|everything\s+for\s+good)|
            \b(?:nobody|no\s+one)\s+(?:would\s+)?(?:care|cares|miss|notice)\s+if\s+i|
            \b(?:slit|cut|slash)\w*\s+(?:my|his|her|their)\s+wrists?|\bwrists?\b|
            \b(?:gun|pistol)\s+to\s+(?:my|his|her|their)\s+head|\bpull\s+the\s+trigger|
            \bshoot\s+(?:my|him|her)self|\bin\s+front\s+of\s+a\s+(?:train|bus|truck|car)|
            \bcrash\s+(?:my|his|her|the)\s+car\s+on\s+purpose|\b(?:bought|buying|got)\s+(?:a\s+)?rope|
            \b(?:researching|looking\s+up|googl\w*|search\w*)\s+(?:how\s+(?:many|much|to)|ways\s+to|
            lethal|overdose|painless)|\blethal\s+dose|\bhow\s+many\s+pills|\bwrote\s+(?:a\s+)?will\b|
            \bsaid\s+(?:his|her|their)\s+goodbyes|\b(?:tonight'?s|today'?s)\s+the\s+night|
            \b(?:can'?t|don'?t)\s+(?:see|find)\s+(?:a|any)\s+(?:way\s+out|reason\s+to)|
            \b(?:missing|disappeared)\s+(?:since|for\s+(?:two|three|\d+|a\s+few)\s+days)|
            \b(?:has|have)n'?t\s+(?:heard\s+from|seen)\s+(?:him|her|them)\s+(?:in|for|since)\s+(?:days|
            \d+\s+days|two\s+days|three\s+days)|\b(?:forced|forcing)\s+(?:me|her|him)\s+(?:to|into)|
            \b(?:pinned|held)\s+me\s+down|\bpulled\s+my\s+hair|\bbroke\s+my\s+(?:arm|nose|wrist|rib|
            jaw|finger|phone)|\bthrew\s+me|\bdragged\s+me|\b(?:stalking|following)\s+me|
            \b(?:restraining|protective)\s+order|\bcps\b|\bchild\s+protective|\bsmash\w*\s+
            (?:my|the)\s+(?:phone|door|window)|\b(?:throwing|threw|breaking|smashing)\s+(?:things|
            stuff|everything|plates|furniture)|\bpunched\s+(?:a|the)\s+(?:hole|wall)|
            \b(?:touched|touching|touches)\s+(?:my|her|him)\s+(?:daughter|son|kid|inappropriately)|
            \binappropriately\b|\bsexual(?:ly)?\s+(?:abus|assault|touch)\w*|\bgroom\w*\s+(?:her|him|my)|
            \b(?:chest\s+pains?|collapsed|convuls\w*|foaming|throwing\s+up\s+blood|blue\s+lips|
            lips\s+(?:are|were|turned)\s+blue|alcohol\s+poisoning|stopped\s+breathing|can'?t\s+breathe|
            not\s+responding|won'?t\s+respond|(?<!gets\s)(?<!get\s)paranoi\w*|psychotic|psychosis|
            (?<!gets\s)(?<!get\s)manic|can\s+barely\s+(?:talk|speak|breathe|stand|stay\s+awake)|
            confused\s+and\s+sweat\w*)\b|
            \b(?:going\s+to|gonna|want\s+to|wanna|will|'ll)\s+(?:kill|hurt|shoot|stab)\s+(?:him|her|them|
            someone|somebody|people|everyone|my\s+\w+|his\s+\w+)\b(?!\s+with\s+kindness)|
            \bshoot\s+up\b|\bout\s+of\s+(?:this|my)\s+(?:life|world)\b|\bscared\s+of\s+(?:myself|what\s+i'?ll\s+
            do|what\s+i\s+(?:might|could)\s+do)|\bmix\w*\s+(?:\w+\s+){0,2}(?:pills|meds|xanax|benzos|
            opioids|oxy\w*|percs?|painkillers|sleeping\s+pills)\s+(?:and|with)\s+(?:alcohol|booze|
            drinking|vodka|wine|beer|liquor)|\b(?:pills|meds|xanax|benzos|painkillers)\s+(?:and|with|on\s+
            top\s+of)\s+(?:alcohol|booze|drinking|vodka)|\bbarely\s+(?:responsive|breathing|conscious)|\b(?:drunk|high|wasted|using)\s+(?:around|with|while\s+watching)\s+(?:the\s+|
            my\s+)?(?:baby|kids|children|toddler)|\bshaken\s+baby|\bno\s+quiero\s+vivir|
            \bme\s+(?:golpe\w*|peg\w*)|\bcuchillo\b|\bpastillas\b|\bmatarlo\b|\bmatarla\b"""
        ),
    ),
    (
        "emergency",
        _rx(
            r"""\b(?:911|988|999|112)\b|\b(?:call(?:ed|ing)?|get|got)\s+(?:the\s+)?(?:police|cops|ambulance|
            paramedics)|\bcrisis\s+(?:line|team|hotline)|\bhotline\b|\bpsych\s+(?:ward|er|hold)|\b5150\b|
            \b(?:jump|jumped|jumping)\s+(?:off|from|in\s+front)\b|\bnoose\b|\brope\s+in\b|
            \bhelp\s+me\s+please\s+(?:he|she)\b|
            \blook(?:ing|ed)?\s+up\s+(?:ways|how\s+to\s+(?:die|end\s+it|do\s+it))\b|
            \bsearch\w*\s+(?:for\s+)?(?:ways|how)\s+to\s+(?:die|end\s+(?:it|my\s+life))|
            \bhands?\s+(?:around|on)\s+(?:my|her|his|their)\s+(?:neck|throat)|
            \bpinned\s+(?:me|her|him)\s+(?:against|to|down)|\b(?:break|broke|kick|kicked)\s+(?:the\s+|my\s+)?
            door\s+down|\b(?:break|breaking)\s+down\s+(?:the|my)\s+door|
            \bstash\s+of\s+(?:\w+\s+){0,2}(?:pills|meds|medication|tablets)|
            \bfresh\s+(?:cuts|marks|scars|wounds)\b|\bblades?\s+(?:in|under|hidden)\s+(?:his|her|my|the)|
            \bto\s+(?:just\s+|simply\s+)?not\s+wake\s+up\b|(?:doesn'?t|does\s+not)\s+want\s+to\s+(?:wake\s+
            up|live|be\s+alive|be\s+here)|\bquitar(?:se|me|te)?\s+la\s+vida|\bme\s+empuj\w*|
            \bmiedo\s+(?:de\s+)?volver|\bpills?\s+on\s+top\b|
            (?<!\bi\s)\b(?:hasn'?t|has\s+not|hadn'?t|had\s+not|didn'?t|did\s+not)\s+(?:come|been|came)\s+
            home\s+(?:in|for|since|last\s+night|all\s+night)|(?<!\bi\s)(?<!\bwe\s)(?<!\byou\s)
            \b(?:he'?s|she'?s|has|have)\s+been\s+(?:gone|missing)\s+(?:for\s+)?(?:\d+|two|three|four|five|several|a\s+few)\s+
            (?:days|nights)|\b(?:he|she|they|son|daughter|kid|husband|wife|brother|sister|dad|mom|father|
            mother)(?:'s|\s+is|\s+went|\s+has\s+gone|\s+has\s+been|\s+was|\s+been\s+reported)\s+missing\b
            (?!\s+(?:a|the|out|school|work|class|his|her|their|meals|appointments|it|you|me|us|doses|pills))|
            \b(?:he|she|they)\s+(?:has|had|have)\s+a\s+plan\b(?!\s+(?:for|to\s+(?:talk|get|find|fix|pay|move|
            go|start|quit|stop|cut\s+back)))|\b(?:in|at)\s+the\s+(?:icu|er)\b(?=.*\b(?:tried|od|pills|
            overdos|attempt|cut|hurt))"""
        ),
    ),
)

# Harm explicitly denied ("he's not trying to hurt me", "it isn't a choice he's making to hurt me")
# is not a report of harm; it is taken out before any pattern runs.
_NOT_HARM = _rx(
    r"""(?:\b(?:not|never|isnt|doesnt|didnt|wasnt)|n't)\s+(?:\S+\s+){0,5}?(?:trying|meant|means|mean|
    wants?|wanted|choices?|making|doing\s+(?:it|this))\s+(?:\S+\s+){0,2}?to\s+(?:hurt|harm)\s+
    (?:me|you|us|anyone|anybody|me\s+on\s+purpose)\b"""
)

# A past event described as over is not current danger (docs/LABELLING.md, rule 10): "clean 60
# days since his overdose in the spring", "her attempt two years ago".
_RESOLVED = _rx(
    r"""\b(?:since|after|before)\s+(?:his|her|my|their|the)\s+(?:last\s+)?(?:overdose|od|attempt|
    relapse)\b|\b(?:overdose|overdosed|od'?d|attempt|attempted)\s+(?:\S+\s+){0,4}?(?:\w+\s+)?
    (?:years?|months?)\s+ago\b"""
)

# Figures of speech that borrow crisis words. Removed from the text before the weak patterns run,
# never before the strong ones.
_HYPERBOLE = _rx(
    r"""\b(?:(?:is|are|was|were|'s|'re|been|be|keeps?)\s+)?killing\s+(?:me|it|us|my\s+\w+)\b|
    \bkilled\s+it\b|\b(?:would|'d|will|'ll|gonna|going\s+to|might)\s+(?:literally\s+)?kill\s+me\b
    (?:\s+(?:if|when|for|lol|haha|lmao))?|\bkill\s+(?:me|us)\s+now\b|\bkill\s+for\b|
    \bkill\s+\w+\s+with\s+kindness|\bkill(?:s|ing)?\s+(?:me|him|her|them|us)\s+with\s+(?:all\s+)?
    (?:my|your|this|that|these|those|the)\s+(?:\w+\s+){0,2}?(?:nagging|questions|lectures?|
    lecturing|worrying|hovering|fussing|reminders|texts|calls|advice|rules|checking)\b|
    \bdying\s+(?:to|for|of|from|laughing|inside)\b|\bdied\s+laughing|
    \bto\s+die\s+for\b|\bdie\s+(?:of|from)\s+(?:embarrass\w*|laugh\w*|shame|boredom|cringe)|
    \b(?:bored|scared|worried|sick|tired|loved?|freezing|stressed)\s+(?:me\s+)?to\s+death\b|
    \bdead\s+(?:tired|serious|set|end|on|wrong|inside|lol|to\s+the\s+world)\b|\bi'?m\s+dead\b|
    \bdeadline\w*|\bdrop[\s-]dead\s+gorgeous|\bkill(?:ing)?\s+time\b|\bkilljoy\b|\boverkill\b|
    \b(?:rather|sooner)\s+die\s+than|\bover\s+my\s+dead\s+body|\bkiller\s+\w+|
    \b(?:drink|drinking|drinks|smoke|smoking|work|working|worry|worrying|eat|eating)\s+(?:him|her|my|
    them|your)\s?sel(?:f|ves)\s+to\s+death|\b(?:phone|battery|car|laptop|charger)\s+(?:is\s+)?
    (?:about\s+to\s+|gonna\s+|going\s+to\s+)?(?:die|dying|dead|died)\b|\bgun\s+show|\bjump(?:ed|ing)?\s+
    the\s+gun|\bstick(?:ing)?\s+to\s+(?:my|his|her|our|your)\s+guns|\bhit\s+(?:the\s+(?:nail|road|gym|hay|
    books|jackpot|ground|sack|spot|mark|snooze|brakes)|a\s+wall|rock\s+bottom|home|hard|different)|
    \blong\s+shot|\btook\s+a\s+shot\s+at|\bshot\s+(?:some\s+)?hoops|\bbite\s+the\s+bullet|
    \bdodged\s+a\s+bullet|\bscared\s+(?:to\s+bring|to\s+ask|to\s+say|to\s+tell|he'?ll\s+never|she'?ll\s+never)|
    \bend\s+of\s+(?:my|her|his|our|their|the)\s+rope|\bhanging\s+(?:on\s+)?by\s+a\s+(?:thread|string)|
    \b(?:that|this|the)\s+(?:line|joke|part|quote|bit|comment|lesson|one|meme|question)\b(?:\s+(?:about|
    on|where|with)\s+[^.!?]{0,40}?)?\s+(?:literally\s+|honestly\s+|actually\s+)?killed\s+me\b(?!\s+(?:with|
    when|because))|\bcut(?:ting|s)?\s+(?:him|her|them|my\s+\w+|\w+)\s+off\b|\bcut(?:ting|s)?\s+off\s+
    (?:the\s+|his\s+|her\s+|their\s+)?(?:money|rent|allowance|funds|support|phone|wifi|cash|card|
    contact|access)|\bburn(?:ed|t|ing)\s+out\b|\bburnout\b|\bburn(?:ed|t|ing)\s+the\s+candle|
    \b(?:life|living)\s+(?:is\s+)?(?:so\s+)?(?:crazy|busy|hectic|chaos|insane|lately|rn)|
    \bruin(?:ing|s|ed)?\s+(?:his|her|their|your|my)\s+(?:own\s+)?li(?:fe|ves)"""
)


def without_hyperbole(text: str) -> str:
    """A reply with its figures of speech ("this week is killing me") taken out."""
    return _HYPERBOLE.sub(" ", normalise_text(text))


_WEAK_CRISIS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "kill",
        _rx(
            r"""\bkill(?:s|ed|ing)?\s+(?:me|us|him|her|them|you|my\w*|someone|somebody|
            everyone|people|\w+self)\b"""
        ),
    ),
    (
        "die",
        _rx(
            r"""\b(?:i|he|she|they)\s+(?:should|could|might|wanna|want\s+to|wants\s+to|going\s+to|
            gonna|will|'ll)\s+(?:just\s+)?die\b|\b(?:rather|sooner)\s+(?:be\s+dead|die)\b"""
        ),
    ),
)
# Softeners that mark a weak match as a figure of speech ("ugh he'll be the death of me lol").
_JOKING = _rx(r"\b(?:lol|lmao|haha\w*|jk|rofl)\b|😂|🤣|😅|😆|💀")


# Crisis words in a figure of speech or about feelings, not about anyone's safety: "looked at me
# like i'd slapped him", "she's worried about hurting me", "how much he's hurt us". Taken out
# before any pattern runs.
_NOT_DANGER = _rx(
    r"""\b(?:like|as\s+if|as\s+though)\s+(?:i|you|someone|somebody|we)(?:'d|\s+had|\s+just)?\s+
    (?:slapped|hit|punched|kicked|stabbed|shot|killed|insulted)\s+(?:him|her|them|me)\b|
    \b(?:worried|afraid|scared|nervous|careful)\s+(?:about|of)\s+hurting\s+(?:me|my|you|us|his|her|
    their|anyone|people)\b|\bhow\s+much\s+(?:he|she|they|i)(?:'s|'ve|\s+has|\s+have)?\s+hurt\b"""
)

# A danger that is imagined, planned for or long-running, not happening now (docs/CLASSIFIER.md,
# "Ambiguous kinds"): an if-clause up to its clause's end ("if he starts driving drunk again i'd
# call his sponsor"), the imagined feelings of someone else ("she'd feel like a burden"), and
# chronic worries said with a danger word ("it'll kill him one day", "he's killing himself slowly",
# "tired of living like this"). What matches only inside these is not a crisis; it is flagged for
# the team to review.
_HYPOTHETICAL = _rx(
    r"""(?<!said\s)(?<!says\s)(?<!me\s)(?<!us\s)(?<!that\s)(?<!threatened\s)(?<!swore\s)(?<!yelled\s)
    (?<!care\s)(?<!cares\s)(?<!matter\s)(?<!matters\s)(?<!wonder\s)(?<!as\s)(?<!even\s)
    \b(?:if|in\s+case|should\s+(?:he|she|they|i)|what\s+if|unless)\b
    (?=[^.,;!?\n]*\b(?:ever|again|start\w*|gets?|got|getting|were|becomes?|turns?|went|goes|decides?|
    tr(?:y|ies|ied)|had|did|should|anymore|someday|one\s+day|eventually|later|mentions?|talks?|
    stops?|ends?\s+up)\b)[^.,;!?\n]*|
    \b(?:he|she|they)(?:'d|\s+would|\s+might)\s+(?:probably\s+)?feel\s+like\s+(?:such\s+)?a\s+burden|\b(?:it|that|this|the\s+\w+|drinking|drugs|gambling|smoking)(?:'ll|\s+will|'s\s+going\s+to|
    \s+is\s+going\s+to|\s+gonna|\s+could|\s+might)\s+(?:\w+\s+)?kill\s+(?:him|her|them|me)\b[^.,;!?\n]*|
    \bkill\w*\s+(?:him|her|them)sel(?:f|ves)\s+slowly|\bslowly\s+kill\w*\s+(?:him|her|them)sel(?:f|ves)|
    \b(?:tired|sick)\s+of\s+living\s+like\s+(?:this|that)|\bgets?\s+(?:so\s+|really\s+)?(?:paranoid|manic)"""
)
# A plan said as a conditional ("i'd call the police", "and 988") is not a call for help now.
_CONDITIONAL = _rx(r"\b(?:if|i'd|i\s+would|would|whenever|in\s+case|should|unless)\b")


def _danger_text(text: str) -> str:
    """A reply with denied harm, resolved past events and figures of speech about feelings out."""
    return _NOT_DANGER.sub(" ", _RESOLVED.sub(" ", _NOT_HARM.sub(" ", normalise_text(text))))


def _strong_reason(norm: str) -> str | None:
    for name, pattern in _CRISIS_STRONG:
        if pattern.search(norm):
            return name
    return None


def crisis_assessment(text: str) -> tuple[str | None, str | None]:
    """``(crisis, review)``: the safety pattern that makes a reply a crisis, or else the one it
    matches only as a hypothetical, a plan or a chronic worry (the team should read it; no crisis
    lines). At most one of the two is set.

    Strong patterns win outright unless they match only inside such a hypothetical. Weak ones
    ("kill", "die") count only after hyperbole such as "this week is killing me" is taken out and
    when the reply is not openly joking.
    """
    norm = _danger_text(text)
    name = _strong_reason(norm)
    if name is not None:
        actual = without_hypotheticals(norm) if _HYPOTHETICAL.search(norm) else norm
        still = name if actual is norm else _strong_reason(actual)
        if still is None:
            return None, name
        if still == "emergency" and _CONDITIONAL.search(norm):
            # "… i'd call the police", "and 988": a plan, not a call for help now.
            return None, still
        return still, None
    plain = _HYPERBOLE.sub(" ", without_hypotheticals(norm))
    if _JOKING.search(plain):
        return None, None
    for weak, pattern in _WEAK_CRISIS:
        if pattern.search(plain):
            return weak, None
    return None, None


def crisis_reason(text: str) -> str | None:
    """Name the safety pattern that makes a reply a crisis, or ``None`` (see crisis_assessment)."""
    return crisis_assessment(text)[0]


def crisis_review_reason(text: str) -> str | None:
    """Name the safety pattern a reply matches only as a hypothetical, plan or chronic worry."""
    return crisis_assessment(text)[1]


def without_figures(text: str) -> str:
    """A reply with everything that only sounds like danger taken out, for the model's second look:
    denied harm, resolved past events, figures of speech, hypotheticals, plans, chronic worries."""
    return _HYPOTHETICAL.sub(" ", _HYPERBOLE.sub(" ", _danger_text(text)))


def without_hypotheticals(text: str) -> str:
    """A reply with its imagined, planned or chronic dangers taken out (see ``_HYPOTHETICAL``)."""
    return _HYPOTHETICAL.sub(" ", normalise_text(text))


# --------------------------------------------------------------------------------------------
# Plain-language commands
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RuleHit:
    """What a rule decided, with the argument it read, for the classifier to wrap."""

    label: ReplyLabel
    rule: str
    days: int | None = None
    at: time | None = None


# The things a reply can ask us to stop: our messages, never a habit or a person. "I need to stop
# rescuing him" names an action after "stop", so it never reaches an opt-out pattern. Bare
# pronouns count only when nothing follows them: "stop these" is a request, "stop these fights"
# is not.
_END = r"(?=\s*(?:$|[.,!?;:)]|please|pls|plz|now|already|immediately|asap|right\s+now|coming|thanks?|thx|ty|🙏))"
_US = rf"""(?:texts?|messages?|msgs?|sms|lessons?|emails?|reminders?|notifications?|
    spam\w*|you\s+guys|y'?all|contacting\s+me|(?:the|your|ur|this|these)\s+(?:program|service|course|
    list|thing|subscription|texts?|messages?|lessons?|stuff|daily\s+\w+)|(?:these|this|them|
    it\s+all){_END})"""
_NEGATED = _rx(
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
_STOP_CLAUSE = _rx(
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
        _rx(
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
        _rx(
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
        _rx(
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
        _rx(
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
_OWN_HABIT = _rx(
    r"""\b(?:i|i'?m|i\s+am|i'?ll|i\s+will|i'?ve|gonna|going\s+to|need\s+to|have\s+to|got\s+to|gotta|
    should|must|want\s+to|wanna|trying\s+to|try\s+to|try\s+and|learning\s+to|started\s+to)\s+
    (?:\w+\s+){0,2}?(?:stop|quit|cut\s+(?:out|back\s+on))\s+(?!getting|receiving)\w+ing\b
    (?!\s+(?:me|this\s+number|these|this\s+list))"""
)


def own_habit(text: str) -> bool:
    """Whether a reply resolves to stop one of the subscriber's own habits (see ``_OWN_HABIT``)."""
    return _OWN_HABIT.search(normalise_text(text)) is not None


def opt_out_negated(text: str) -> bool:
    """Whether a reply says not to stop ("please don't stop sending these")."""
    return _NEGATED.search(normalise_text(text)) is not None


def opt_out_rule(text: str) -> str | None:
    """Name the opt-out pattern a reply matches, unless the request is negated."""
    norm = _QUOTED.sub(" ", normalise_text(text))
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


# --- pause -----------------------------------------------------------------------------------
_NUMBER_WORDS = {
    "a": 1,
    "an": 1,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fourteen": 14,
    "fifteen": 15,
    "twenty": 20,
    "thirty": 30,
    "couple": 2,
    "a couple": 2,
    "a couple of": 2,
    "couple of": 2,
    "few": 3,
    "a few": 3,
    "several": 5,
    "una": 1,
    "un": 1,
    "dos": 2,
    "tres": 3,
}
_UNIT_DAYS = {
    "day": 1,
    "night": 1,
    "week": 7,
    "wk": 7,
    "weekend": 2,
    "month": 30,
    "mo": 30,
    "dia": 1,
    "día": 1,
    "semana": 7,
    "mes": 30,
}
_WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_SPANISH_WEEKDAYS = ("lunes", "martes", "miercoles", "jueves", "viernes", "sabado", "domingo")
_MONTHS = (
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_WEEKDAY_INDEX = {
    **{name: i for i, name in enumerate(_WEEKDAYS)},
    **{name: i for i, name in enumerate(_SPANISH_WEEKDAYS)},
    **{"mon": 0, "tue": 1, "tues": 1, "wed": 2, "thu": 3, "thur": 3, "thurs": 3, "fri": 4},
    **{"sat": 5, "sun": 6},
}
_MONTH_INDEX = {
    **{name: i + 1 for i, name in enumerate(_MONTHS)},
    **{name[:3]: i + 1 for i, name in enumerate(_MONTHS)},
    "sept": 9,
}
_NUM = r"""(?:\d{1,3}|a\s+couple(?:\s+of)?|couple(?:\s+of)?|a\s+few|few|several|an?|one|two|three|
    four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen|fifteen|twenty|thirty|una?|dos|tres)"""
_DURATION = _rx(
    rf"""(?<![\w:])(?P<num>{_NUM})?\s*(?:more\s+|or\s+two\s+)?(?P<unit>days?|nights?|weeks?|wks?|
    weekends?|months?|mos?|d[ií]as?|semanas?|mes(?:es)?)\b"""
)
_UNTIL = _rx(
    r"""\b(?:till|til|until|untill|'til|through|thru|after|back\s+(?:on|in)|hasta(?:\s+el)?|
    start\s+again\s+on|by)\s+(?:next\s+|this\s+|the\s+|el\s+)?(?:start\s+of\s+(?:next\s+)?)?
    (?P<when>monday|tuesday|wednesday|thursday|friday|saturday|sunday|mon|tues?|wed|thu(?:rs?)?|
    fri|sat|sun|lunes|martes|mi[eé]rcoles|jueves|viernes|s[aá]bado|domingo|tomorrow|weekend|
    week|month|january|february|march|april|may|june|july|august|september|october|november|
    december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec|holidays|christmas|new\s+year'?s?|
    (?P<day>\d{1,2})(?:st|nd|rd|th)?)\b"""
)
_REST_OF_MONTH = _rx(r"\b(?:rest|end)\s+of\s+(?:the|this)\s+month\b")
_REQUEST = r"""(?:can|could|would|will|please|pls|plz|let'?s|lets|i\s+want\s+to|i\s+wanna|
    i'?d\s+like\s+to|i\s+need\s+(?:you\s+)?to|can\s+i|may\s+i)"""
_OUR_STUFF = r"""(?:these|them|the\s+(?:texts?|lessons?|messages?|course|program)|my\s+(?:lessons?|
    texts?|messages?|subscription|course)|all\s+(?:texts|messages|lessons)|the\s+daily\s+\w+)"""
_WHEN = rf"""(?:for\s+(?:now|a\s+(?:bit|while|week|few|couple|month|little\s+(?:bit|while))|{_NUM}\s+
    (?:more\s+)?(?:days?|weeks?|months?)|the\s+(?:week|weekend|holidays?|summer|month|rest\s+of))|
    until|till|til|untill|'til|over|while|through|thru|during)"""
# With "stop", only an end or a length makes a break: "stop for now" promises no return and is an
# opt-out (docs/LABELLING.md, rule 4). Break words ("pause", "hold off") need no end.
_WHEN_STOP = rf"""(?:for\s+(?:a\s+(?:bit|while|week|few|couple|month|little\s+(?:bit|while))|{_NUM}\s+
    (?:more\s+)?(?:days?|weeks?|months?)|the\s+(?:week|weekend|holidays?|summer|month|rest\s+of))|
    until|till|til|untill|'til|over|while|through|thru|during)"""
_PAUSE = _rx(
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


def _count(word: str | None) -> int:
    if not word:
        return 1
    word = " ".join(word.split())
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word, 1)


def _next_date(today: date, month: int, day: int) -> date:
    """The first date on or after tomorrow with this month and day (clamped to the month's end)."""
    for year in (today.year, today.year + 1):
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        candidate = date(year, month, min(day, last))
        if candidate > today:
            return candidate
    return today + timedelta(days=DEFAULT_PAUSE_DAYS)


def _days_until(match: re.Match[str], today: date) -> int | None:
    when = " ".join(match["when"].split())
    if match["day"]:
        # "until the 15th": the next date with that day of the month.
        day = int(match["day"])
        if not 1 <= day <= 31:
            return None
        month = today.month if day > today.day else today.month % 12 + 1
        return (_next_date(today, month, day) - today).days
    plain = when.replace("é", "e").replace("á", "a")
    if plain in _WEEKDAY_INDEX:
        return (_WEEKDAY_INDEX[plain] - today.weekday()) % 7 or 7
    if when in _MONTH_INDEX:
        return (_next_date(today, _MONTH_INDEX[when], 1) - today).days
    if when == "tomorrow":
        return 1
    if when == "christmas" or (when == "holidays" and today.month == 12):
        return (_next_date(today, 12, 26) - today).days
    if when.startswith("new year") or when == "holidays":
        return (_next_date(today, 1, 2) - today).days
    if when == "weekend":
        # Back on Monday: the days left until then.
        return (0 - today.weekday()) % 7 or 7
    if when == "week":
        return 7
    if when == "month":
        # "until next month": back on the first of it.
        return (_next_date(today, today.month % 12 + 1, 1) - today).days
    return None


def pause_days(text: str, today: date) -> int:
    """How many days a plain-language pause asks for; the keyword default when it names none."""
    norm = normalise_text(text)
    if match := _UNTIL.search(norm):
        days = _days_until(match, today)
        if days is not None:
            return max(1, min(days, MAX_PAUSE_DAYS))
    if re.search(r"\b(?:this|the)\s+weekend\b", norm):
        return (0 - today.weekday()) % 7 or 7
    if _REST_OF_MONTH.search(norm):
        return max(1, 30 - today.day)
    for match in _DURATION.finditer(norm):
        unit = match["unit"].rstrip("s")
        unit = {"mese": "mes"}.get(unit, unit)
        if unit not in _UNIT_DAYS:
            continue
        days = _count(match["num"]) * _UNIT_DAYS[unit]
        return max(1, min(days, MAX_PAUSE_DAYS))
    if re.search(r"\bskip\s+(?:today|tonight)\b", norm):
        return 1
    if re.search(r"\bskip\s+tomorrow\b|\bno\s+\w+\s+tomorrow\b", norm):
        return 2
    return DEFAULT_PAUSE_DAYS


# --- reschedule ------------------------------------------------------------------------------
# A named part of the day maps to the hour the issue asks for; pacing still applies quiet hours.
_PART_OF_DAY = {
    "morning": time(9, 0),
    "mornings": time(9, 0),
    "mañana": time(9, 0),
    "breakfast": time(8, 0),
    "noon": time(12, 0),
    "lunch": time(12, 0),
    "lunchtime": time(12, 0),
    "midday": time(12, 0),
    "afternoon": time(14, 0),
    "afternoons": time(14, 0),
    "tarde": time(14, 0),
    "evening": time(19, 0),
    "evenings": time(19, 0),
    "dinner": time(18, 0),
    "night": time(20, 0),
    "nights": time(20, 0),
    "noche": time(20, 0),
    "tonight": time(19, 0),
    "bedtime": time(21, 0),
}
_EVENING = re.compile(r"\b(?:night|nights|evening|evenings|tonight|pm|noche|tarde)\b")
_MORNING = re.compile(r"\b(?:morning|mornings|am|mañana|breakfast)\b")
_COMPLAINT = re.compile(
    r"\s*(?:is|are|'s|'re)?\s*(?:too\s+\w+|brutal|bad|awful|terrible|rough|hard|chaos|crazy|busy|"
    r"no\s+good|not\s+good|impossible|the\s+worst)\b"
)
_WANTED_PART = re.compile(
    r"\b(?:to|in\s+the|at|around|during\s+the|for|by)\s+(?P<part>mornings?|afternoons?|evenings?|"
    r"nights?|lunch(?:time)?|noon|midday|bedtime|dinner|tonight)\b"
)
_PHRASE_TIMES = {"after work": time(18, 0), "after school": time(15, 0)}
# A clock time in running text. A bare number only counts after a word that introduces a time
# ("at 7", "around 4", "make it 7", "a las 8") and never before a unit ("3 days", "14 hrs").
_CLOCK_IN_TEXT = _rx(
    r"""(?:(?P<lead>\b(?:at|around|about|by|after|before|@|to|till|til|until|like|is|be|it|than|
    instead\s+of|las|time:?)\s+)|(?<![\w:$#]))(?P<hour>\d{1,2})(?:\s*[:.h]\s*(?P<minute>\d{2}))?\s*
    (?P<ampm>a\.?m\.?|p\.?m\.?|(?<=\d)a\b|(?<=\d)p\b)?(?![\d%$])(?!\s*(?:days?|weeks?|months?|years?|
    yrs?|hrs?|hours?|mins?|minutes?|times?|x\b|yo\b|st\b|nd\b|rd\b|th\b|kids?|calls?|lessons?|more))
    (?:\s*(?P<part>tonight|at\s+night|in\s+the\s+(?:evening|morning|afternoon)|de\s+la\s+(?:mañana|
    tarde|noche)|eastern|central|pacific))?"""
)
_TIME_OF_DAY = r"""(?:mornings?|afternoons?|evenings?|nights?|lunch\w*|noon|midday|bedtime|dinner\w*|
    tonight|after\s+work|after\s+school|before\s+work|\d{1,2}\s*(?:[:.]\s*\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)|
    \d{1,2}\s*:\s*\d{2})"""
_RESCHEDULE = _rx(
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


def reschedule_time(text: str) -> time | None:
    """The time of day a reschedule request names, or ``None`` when it names none.

    A bare hour is read the way people mean it: 1-6 is afternoon or evening ("til 3"), and
    "at night", "tonight" or "pm" move an hour into the evening. A time being complained about
    ("6am is brutal", "instead of 8") is not the one asked for.
    """
    norm = normalise_text(text)
    for match in _CLOCK_IN_TEXT.finditer(norm):
        if not (match["lead"] or match["ampm"] or match["minute"] or match["part"]):
            continue
        if (match["lead"] or "").strip().startswith("instead") or _COMPLAINT.match(
            norm, match.end()
        ):
            continue
        hour, minute = int(match["hour"]), int(match["minute"] or 0)
        if hour > 23 or minute > 59:
            continue
        ampm = (match["ampm"] or "").replace(".", "")
        part = match["part"] or ""
        evening = ampm.startswith("p") or any(
            w in part for w in ("night", "evening", "tarde", "noche")
        )
        if ampm or part:
            if hour > 12 and ampm:
                continue
            if evening and hour < 12:
                hour += 12
            elif ampm.startswith("a") and hour == 12:
                hour = 0
        elif _EVENING.search(norm) and hour < 12:
            hour += 12
        elif hour <= 6 and not minute and not _MORNING.search(norm):
            hour += 12
        if hour > 23:
            continue
        return time(hour, minute)
    for phrase, at in _PHRASE_TIMES.items():
        if phrase in norm:
            return at
    # A part of the day asked for ("switch me to mornings") beats one complained about.
    if (wanted := _WANTED_PART.search(norm)) and wanted["part"] in _PART_OF_DAY:
        return _PART_OF_DAY[wanted["part"]]
    for match in re.finditer(r"[a-zñ]+", norm):
        word = match.group(0)
        if word in _PART_OF_DAY and not _COMPLAINT.match(norm, match.end()):
            return _PART_OF_DAY[word]
    return None


# --- more and help -----------------------------------------------------------------------------
_LESSON_THING = r"""(?:one|ones|lesson|lessons|text|texts|message|tip|tips|part|step|day'?s|few|
    batch|chapter|module)"""
_MORE = _rx(
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
_HELP_HYPOTHETICAL = _rx(
    r"""\bwhat\s+(?:can|do|should)\s+i\s+(?:text|reply|say|send|type)\s+to\b|\bwhy\s+did\s+i\s+
    (?:get|receive)\b|\b(?:if|when)\s+i\s+(?:ever\s+)?(?:need|want|wanted|needed)\s+to\b.*\b(?:how|what)\b|
    \bhow\s+(?:do|would|can)\s+i\b.*\b(?:if\s+i\s+(?:need|want)|later\s+on|at\s+some\s+point|
    in\s+the\s+future)|\b(?:can|could|may)\s+i\b.*\b(?:if\s+i\s+(?:ever\s+)?(?:want|need|wanted|needed|
    decide|change\s+my\s+mind)|later\s+on|at\s+some\s+point|down\s+the\s+(?:road|line))\b(?:\s+to)?\s*
    (?:please|pls|lol)?\s*[?.!]*$"""
)
_HELP = _rx(
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


_HOW_DO_I = _rx(
    r"""\b(?:how\s+(?:do|can|would|could|should)\s+i|is\s+there\s+a\s+way\s+to|what\s+do\s+i\s+
    (?:text|reply|send|type|do)\s+to)\b"""
)
_LEAVING = _rx(
    r"""\b(?:stop\w*|unsubscrib\w*|unsub|opt\s*out|cancel\w*|get\s+off|take\s+me\s+off|remove|
    end\s+(?:this|these|my\s+subscription)|quit|leave|turn\s+(?:\w+\s+)?off)\b"""
)


def match_command(text: str, today: date) -> RuleHit | None:
    """Read a plain-language command.

    Order matters. A question about how something would work ("if I want a break at some point,
    how?") is a help request, not the thing itself. A pause is checked before an opt-out because
    "stop these till monday" asks for a pause; an opt-out before the rest because honouring it
    promptly is a legal duty.
    """
    norm = normalise_text(text)
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


# --------------------------------------------------------------------------------------------
# Keyword-only baseline (for comparison in docs/CLASSIFIER.md; production never routes by it)
# --------------------------------------------------------------------------------------------
# RapidPro-style flows route a reply through "has any of the words" / "has phrase" tests in
# order and fall through to "Other". These lists are what such a flow's author would write.
_BASELINE_RULES: tuple[tuple[ReplyLabel, frozenset[str], tuple[str, ...]], ...] = (
    (
        ReplyLabel.CRISIS,
        frozenset(
            {
                "suicide",
                "suicidal",
                "kill",
                "die",
                "hurt",
                "hit",
                "gun",
                "overdose",
                "pills",
                "abuse",
                "emergency",
                "911",
                "unsafe",
                "kms",
            }
        ),
        ("self harm", "end it", "not safe"),
    ),
    (
        ReplyLabel.OPT_OUT,
        frozenset(
            {
                "stop",
                "stopall",
                "unsubscribe",
                "cancel",
                "end",
                "quit",
                "remove",
                "optout",
                "revoke",
            }
        ),
        ("opt out", "take me off"),
    ),
    (ReplyLabel.HELP, frozenset({"help", "info", "support", "question"}), ("who is this",)),
    (ReplyLabel.PAUSE, frozenset({"pause", "break", "hold", "vacation"}), ("not now",)),
    (ReplyLabel.MORE, frozenset({"more", "next", "another"}), ("send more",)),
    (
        ReplyLabel.RESCHEDULE,
        frozenset(
            {"time", "morning", "evening", "afternoon", "night", "earlier", "later", "am", "pm"}
        ),
        (),
    ),
    (
        ReplyLabel.OVERWHELMED,
        frozenset(
            {"overwhelmed", "exhausted", "tired", "drained", "stressed", "burnt", "burned", "much"}
        ),
        ("too much", "can't cope", "cant cope"),
    ),
    (
        ReplyLabel.RESISTANT,
        frozenset(
            {"no", "nope", "won't", "wont", "refuses", "refused", "never", "useless", "pointless"}
        ),
        ("doesn't work", "won't listen"),
    ),
    (
        ReplyLabel.AMBIVALENT,
        frozenset({"maybe", "unsure", "idk", "perhaps", "might", "but"}),
        ("not sure", "i guess"),
    ),
    (
        ReplyLabel.ENGAGED,
        frozenset(
            {
                "yes",
                "yeah",
                "thanks",
                "thank",
                "tried",
                "try",
                "will",
                "helpful",
                "great",
                "good",
                "love",
                "useful",
                "agree",
            }
        ),
        ("makes sense",),
    ),
)
_WORD = re.compile(r"[a-z0-9']+")


def keyword_baseline(text: str) -> ReplyLabel:
    """Route a reply as a keyword-only flow would: first list with a hit wins, else neutral."""
    norm = normalise_text(text)
    words = set(_WORD.findall(norm))
    for label, keywords, phrases in _BASELINE_RULES:
        if words & keywords or any(phrase in norm for phrase in phrases):
            return label
    return ReplyLabel.NEUTRAL


# Words that carry danger. The model's crisis probability is trusted at a lower level when the
# reply contains one of them: two weak signals agreeing, instead of a probability alone.
_RISK = _rx(
    r"""\b(?:die|died|dies|dying|dead|death|kill\w*|suicid\w*|hurt\w*|harm\w*|hit|hits|hitting|
    beat\w*|pills?|meds|overdos\w*|od|gun|guns|knife|weapon|blood\w*|bleed\w*|911|ambulance|police|
    cops|scared|afraid|terrified|unsafe|threat\w*|danger\w*|plan|goodbye|cut|cuts|cutting|drunk|
    passed\s+out|breath\w*|jump\w*|bridge|life|live|living|alive|disappear\w*|emergency|abus\w*|
    rope|hang\w*|razor|burn\w*|morir\w*|matar\w*|vida|sangre|arma|pistola|trapped|hopeless|
    worthless|burden|unalive\w*|seizure|shaking|choke\w*|strangl\w*|punch\w*|slap\w*|bruise\w*|
    violent|rage|screaming|end\s+it|gone|leave|wake\s+up|pain)\b"""
)


def has_risk_words(text: str) -> bool:
    """Whether a reply uses a word that can carry danger, outside a figure of speech."""
    return _RISK.search(_HYPERBOLE.sub(" ", normalise_text(text))) is not None


# What an opt-out talks about: our messages, the list, the number, or a stop word. The model may
# opt someone out only when the reply mentions one of these ("no more excuses from me" does not).
_SERVICE = _rx(
    r"""\b(?:texts?|texting|messag\w*|msgs?|lessons?|these|this|list|number|subscri\w*|unsub\w*|
    stop\w*|remove|delete|cancel\w*|opt\w*|quit|end|program|course|contact\w*|spam|sign(?:ed)?\s+up|
    sending|mensajes|baja)\b"""
)


def mentions_service(text: str) -> bool:
    """Whether a reply mentions our messages or a stop word (see ``_SERVICE``), outside quotes.

    A stop word inside someone else's quoted words ('it would say "please stop pushing"') is
    not the subscriber asking us anything.
    """
    return _SERVICE.search(_QUOTED.sub(" ", normalise_text(text))) is not None
