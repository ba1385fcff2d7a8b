"""Safety (crisis) patterns: whether a reply is about danger now, only imagined or planned
(for the team to review), or a figure of speech.

Deliberately wide: a missed crisis leaves a person alone with it. Everything here is a general
pattern about how people write, never a copy of a corpus row.
"""

from __future__ import annotations

import re

from dripper.readiness.text import pattern_form, rx

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
        rx(
            r"""\bsuicid\w*|\bsu[i1!]c[i1!]d\w*|\bs\*+\w*cide|\bsewer\s?slide|\bunaliv\w*|
            \bkill\s+yourself|\bways\s+to\s+die|\battempted\s+(?:last|again|suicide|yesterday|
            this|on)|\b(?:suicide|goodbye)\s+(?:note|letter)|\bgoodbye\s+(?:note|letter|post|text)|
            \bfound\s+a\s+note\b|\b(?:posted|texted|sent|said)\s+(?:a\s+)?goodbye"""
        ),
    ),
    ("kms", rx(r"\b(?:kms|kys|ctb)\b")),
    (
        "self_harm",
        rx(
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
        rx(
            rf"""\b(?:kil+(?:s|ed|ing)?|hurt(?:s|ing)?|harm(?:s|ed|ing)?|cut(?:s|ting)?|
            shoot(?:s|ing)?|shot|hang(?:s|ed|ing)?|starv(?:e|es|ed|ing)|off(?:ed|ing)?|
            end(?:s|ed|ing)?|burn(?:s|ed|ing|t)?|poison(?:s|ed|ing)?|drown(?:s|ed|ing)?|
            scratch(?:es|ed|ing)?|punch(?:es|ed|ing)?|hit(?:s|ting)?|stab(?:s|bed|bing)?|
            choke[sd]?|choking|strangl\w+|bit(?:e|es|ing)|starve|do\s+(?:something\s+)?to)\s+{_SELF}"""
        ),
    ),
    (
        "cutting",
        rx(
            r"""\b(?:is|was|been|started|keeps?|still|caught\s+\w+|'s|she's|he's)\s*cutting\b
            (?!\s+(?:back|down|out|off|corners|ties|class|school|me\s+off|him\s+off|her\s+off|it))"""
        ),
    ),
    (
        "want_to_die",
        rx(
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
        rx(
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
        rx(
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
            \b(?:shaking|jerking|twitching|thrashing)\s+(?:and\s+(?:shaking|jerking|twitching)\s+)?
            (?:on\s+the\s+(?:floor|ground|bathroom\s+floor)|and\s+(?:won'?t|can'?t)\s+stop)|
            \bconvuls\w*|\bseizing\b|\blips\s+(?:look\s+|are\s+|went\s+)?(?:blue|grey|gray)\b|
            \bhit\s+(?:his|her)\s+head|\bpassed\s+out\s+and\b"""
        ),
    ),
    (
        "violence",
        rx(
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
        rx(
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
        rx(
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
        rx(
            r"""\b(?<!substance\s)(?<!alcohol\s)(?<!drug\s)(?<!drugs\s)(?<!opioid\s)
            (?:abus(?:e|ed|es|ing|ive|er)|assault\w*|rap(?:e|ed|ist)|molest\w*|domestic\s+violence)\b
            (?!\s+(?:of\s+)?(?:alcohol|drugs?|substances?|pills|opioids|prescriptions?|(?:his|her|their)\s+
            (?:meds|medication|prescriptions?)|meds|painkillers|weed|the\s+system|booze))"""
        ),
    ),
    (
        "weapon",
        rx(
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
        rx(
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
        rx(
            r"""\b(?:911|988|999|112)\b|\b(?:call(?:ed|ing)?|get|got)\s+(?:the\s+)?(?:police|cops|ambulance|
            paramedics)|\bcrisis\s+(?:line|team|hotline)|\bhotline\b|\bpsych\s+(?:ward|er|hold)|\b5150\b|
            \b(?:jump|jumped|jumping)\s+(?:off|from|in\s+front)\b|\bnoose\b|\brope\s+in\b|
            \b(?:on|onto|over|sitting\s+on|standing\s+on|climb\w*\s+(?:on|onto|over))\s+the\s+
            (?:balcony\s+)?(?:railing|ledge|edge\s+of\s+the\s+(?:roof|bridge|building))|
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

# Harm explicitly denied ("he's not trying to hurt me", "it isn't a choice he's making to hurt me",
# a loved one's "i'm not hurting anyone")
# is not a report of harm; it is taken out before any pattern runs.
_NOT_HARM = rx(
    r"""(?:\b(?:not|never|isnt|doesnt|didnt|wasnt)|n't)\s+(?:\S+\s+){0,5}?(?:trying|meant|means|mean|
    wants?|wanted|choices?|making|doing\s+(?:it|this))\s+(?:\S+\s+){0,2}?to\s+(?:hurt|harm)\s+
    (?:me|you|us|anyone|anybody|me\s+on\s+purpose)\b|
    (?:\b(?:not|never|isnt|doesnt|didnt|wasnt|aint)|n't)\s+(?:\S+\s+){0,2}?
    (?:hurting|harming|hurt|harm|hurts|harms)\s+(?:anyone|anybody|nobody)\b"""
)

# A past event described as over is not current danger (docs/LABELLING.md, rule 10): "clean 60
# days since his overdose in the spring", "her attempt two years ago".
_RESOLVED = rx(
    r"""\b(?:since|after|before)\s+(?:his|her|my|their|the)\s+(?:last\s+)?(?:overdose|od|attempt|
    relapse)\b|\b(?:overdose|overdosed|od'?d|attempt|attempted)\s+(?:\S+\s+){0,4}?(?:\w+\s+)?
    (?:years?|months?)\s+ago\b"""
)

# Figures of speech that borrow crisis words. Removed from the text before the weak patterns run,
# never before the strong ones.
_HYPERBOLE = rx(
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
    return _HYPERBOLE.sub(" ", pattern_form(text))


_WEAK_CRISIS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "kill",
        rx(
            r"""\bkill(?:s|ed|ing)?\s+(?:me|us|him|her|them|you|my\w*|someone|somebody|
            everyone|people|\w+self)\b"""
        ),
    ),
    (
        "die",
        rx(
            r"""\b(?:i|he|she|they)\s+(?:should|could|might|wanna|want\s+to|wants\s+to|going\s+to|
            gonna|will|'ll)\s+(?:just\s+)?die\b|\b(?:rather|sooner)\s+(?:be\s+dead|die)\b"""
        ),
    ),
)
# Softeners that mark a weak match as a figure of speech ("ugh he'll be the death of me lol").
_JOKING = rx(r"\b(?:lol|lmao|haha\w*|jk|rofl)\b|😂|🤣|😅|😆|💀")


# Crisis words in a figure of speech or about feelings, not about anyone's safety: "looked at me
# like i'd slapped him", "she's worried about hurting me", "how much he's hurt us". Taken out
# before any pattern runs.
_NOT_DANGER = rx(
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
_HYPOTHETICAL = rx(
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
# Worries the team reads, never crises: death put above getting help ("he'd rather die than go to
# rehab"), usually a figure of speech that the corpus reads as the person's stance, but in a course
# about someone refusing treatment it can be the refusal that puts a life at risk; and harm said to
# fall on the person alone ("she isn't hurting anyone but herself"), the chronic worry of addiction.
_DEATH_OVER_HELP = rx(
    r"""\b(?:rather|sooner)\s+(?:die|be\s+dead|drink\s+(?:him|her|them)sel(?:f|ves)\s+to\s+death)\s+
    than\s+(?:\S+\s+){0,4}?(?:rehab|treatment|detox|therapy|therapists?|counsel\w*|doctors?|
    hospitals?|psychiatrists?|meetings?|aa|na|sponsors?|meds|medications?|help|sober|clean|quit\w*|
    stop\s+(?:drinking|using))\b"""
)
_HARMING_ONLY_SELF = rx(
    r"""\b(?:hurt|harm|destroy|kill)\w*\s+(?:any(?:one|body)|no(?:one|body)|no\s+one)\s+
    (?:but|except|other\s+than)\s+(?:him|her|them|my)\s?sel(?:f|ves)\b"""
)
_REVIEW_ONLY = (("death_over_help", _DEATH_OVER_HELP), ("harming_only_self", _HARMING_ONLY_SELF))
# A plan said as a conditional ("i'd call the police", "and 988") is not a call for help now.
_CONDITIONAL = rx(r"\b(?:if|i'd|i\s+would|would|whenever|in\s+case|should|unless)\b")


def _danger_text(text: str) -> str:
    """A reply with denied harm, resolved past events and figures of speech about feelings out."""
    return _NOT_DANGER.sub(" ", _RESOLVED.sub(" ", _NOT_HARM.sub(" ", pattern_form(text))))


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
    # On the reply as written: "isn't hurting anyone but herself" loses its first half to
    # _NOT_HARM above, which is right for every other pattern.
    written = pattern_form(text)
    for worry, pattern in _REVIEW_ONLY:
        if pattern.search(written):
            return None, worry
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
    return _HYPOTHETICAL.sub(" ", pattern_form(text))


# Words that carry danger. The model's crisis probability is trusted at a lower level when the
# reply contains one of them: two weak signals agreeing, instead of a probability alone.
_RISK = rx(
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
    return _RISK.search(_HYPERBOLE.sub(" ", pattern_form(text))) is not None
