"""What each text says, in English and Welsh, and how many SMS segments it costs.

Someone else may read the phone: a text carries at most a first name, the kind of device,
a date and a place, never why the person has the device or who referred them. Every text
that concerns a device says where it goes back and how to ask for more time (reply MORE,
or MWY in Welsh).
"""

import re
import string
import unicodedata
from datetime import date
from enum import StrEnum


class Kind(StrEnum):
    loan_receipt = "loan_receipt"
    due_soon = "due_soon"
    due_today = "due_today"
    overdue = "overdue"
    final_overdue = "final_overdue"
    plan_ending = "plan_ending"
    waitlist_offer = "waitlist_offer"
    thanks = "thanks"
    voucher = "voucher"
    # The thanks on return with one question: how much did it help, 1 to 5.
    survey = "survey"
    # Sent once, to a reply to the survey that is not a number from 1 to 5.
    survey_again = "survey_again"
    # The new due date, when staff grant a request for more time (a MORE reply).
    more_time = "more_time"
    # A request for more time the policy would refuse: contact the office. Says nothing of
    # why (no rule, no limit, no other person).
    more_time_refused = "more_time_refused"


# Texts sent after the device came back: they do not offer more time, and a returned
# loan does not call them off. The survey's two name no place and no date.
AFTER_RETURN = frozenset({Kind.thanks, Kind.survey, Kind.survey_again})
SURVEY = frozenset({Kind.survey, Kind.survey_again})


LANGUAGES = ("en", "cy")

# {name}, {device}, {date} and {place} are filled in by `render`.
TEMPLATES: dict[str, dict[str, str]] = {
    Kind.loan_receipt: {
        "en": "Hi {name}, your {device} is on loan until {date}. Please bring it back to "
              "{place}. Need longer? Reply MORE.",
        "cy": "Helo {name}, mae eich {device} ar fenthyg tan {date}. Dewch ag ef yn ôl i "
              "{place}. Angen mwy o amser? Atebwch MWY.",
    },
    Kind.due_soon: {
        "en": "Hi {name}, your {device} is due back on {date} at {place}. "
              "Need longer? Reply MORE.",
        "cy": "Helo {name}, mae eich {device} i fod yn ôl {date} yn {place}. "
              "Angen mwy o amser? Atebwch MWY.",
    },
    Kind.due_today: {
        "en": "Hi {name}, your {device} is due back today, {date}, at {place}. "
              "Need longer? Reply MORE.",
        "cy": "Helo {name}, mae eich {device} i fod yn ôl heddiw, {date}, yn {place}. "
              "Angen mwy o amser? Atebwch MWY.",
    },
    Kind.overdue: {
        "en": "Hi {name}, your {device} was due back on {date}. Please bring it to {place}, "
              "or reply MORE to ask for more time.",
        "cy": "Helo {name}, roedd eich {device} i fod yn ôl {date}. Dewch ag ef i {place}, "
              "neu atebwch MWY i ofyn am fwy o amser.",
    },
    Kind.final_overdue: {
        "en": "Hi {name}, your {device} is now a week late (due {date}). Please bring it to "
              "{place} soon, or reply MORE to ask for more time.",
        "cy": "Helo {name}, mae eich {device} wythnos yn hwyr (roedd i fod yn ôl {date}). "
              "Dewch ag ef i {place} yn fuan, neu atebwch MWY i ofyn am fwy o amser.",
    },
    Kind.plan_ending: {
        "en": "Hi {name}, the data on your {device} runs out on {date}. Bring it to {place} "
              "for help, or reply MORE to ask for more time.",
        "cy": "Helo {name}, mae'r data ar eich {device} yn dod i ben {date}. Dewch ag ef i "
              "{place} am help, neu atebwch MWY i ofyn am fwy o amser.",
    },
    Kind.waitlist_offer: {
        "en": "Hi {name}, a {device} is kept for you until {date} at {place}. "
              "Need longer to collect it? Reply MORE.",
        "cy": "Helo {name}, mae {device} yn cael ei gadw i chi tan {date} yn {place}. "
              "Angen mwy o amser i'w gasglu? Atebwch MWY.",
    },
    Kind.thanks: {
        "en": "Thank you {name}, your {device} came back to {place} on {date}. "
              "Questions? Reply to this text.",
        "cy": "Diolch {name}, daeth eich {device} yn ôl i {place} {date}. "
              "Cwestiynau? Atebwch y neges hon.",
    },
    # After the return nothing is due back: the first name and the device kind, no place
    # and no date (an office's name may say what kind of office it is).
    Kind.survey: {
        "en": "Thank you {name} for bringing back the {device}. How much did it help you? "
              "Reply with one number from 1 (not at all) to 5 (a lot).",
        "cy": "Diolch {name} am ddod a'r {device} yn ôl. Faint wnaeth e eich helpu? "
              "Atebwch gydag un rhif o 1 (dim o gwbl) i 5 (llawer).",
    },
    Kind.survey_again: {
        "en": "Sorry {name}, we did not understand. How much did the {device} help you? "
              "Please reply with one number from 1 (not at all) to 5 (a lot).",
        "cy": "Mae'n ddrwg gennym {name}, doedden ni ddim yn deall. Faint wnaeth y {device} "
              "eich helpu? Atebwch gydag un rhif o 1 (dim o gwbl) i 5 (llawer).",
    },
    Kind.more_time: {
        "en": "Hi {name}, you have more time: your {device} is now due back on {date} at "
              "{place}. Need longer? Reply MORE.",
        "cy": "Helo {name}, mae gennych fwy o amser: mae eich {device} i fod yn ôl {date} "
              "yn {place}. Angen mwy o amser? Atebwch MWY.",
    },
    Kind.more_time_refused: {
        "en": "Hi {name}, thank you for asking. We cannot give more time for your {device} "
              "by text. Please contact {place} about it. It is due back on {date}.",
        "cy": "Helo {name}, diolch am ofyn. Ni allwn roi mwy o amser i'ch {device} drwy "
              "neges. Cysylltwch â {place} amdano. Mae i fod yn ôl {date}.",
    },
}

# A data voucher's code, given (never lent): no device, no place, nothing to bring back.
# {network}, {gb}, {code} and {date} are filled in by `render_voucher`. The code follows
# "code: " ("cod: "), which is how `without_codes` finds it again to keep it out of logs.
TEMPLATES[Kind.voucher] = {
    "en": "Your {network} data top-up of {gb} GB, code: {code}. To use it, enter the code "
          "as a top-up voucher in the {network} app or website. Use it by {date}.",
    "cy": "Eich data {network} o {gb} GB, cod: {code}. I'w ddefnyddio, rhowch y cod fel "
          "taleb ychwanegu yn ap neu wefan {network}. Defnyddiwch ef erbyn {date}.",
}
MAX_NETWORK = 20
MAX_CODE = 32
_CODE_IN_TEXT = re.compile(r"(\b(?:code|cod): )[A-Za-z0-9]+")

DEVICE_WORDS: dict[str, dict[str, str]] = {
    "laptop": {"en": "laptop", "cy": "gliniadur"},
    "phone": {"en": "phone", "cy": "ffôn"},
    "tablet": {"en": "tablet", "cy": "tabled"},
    "sim": {"en": "SIM card", "cy": "cerdyn SIM"},
    "hotspot": {"en": "hotspot", "cy": "man cyswllt"},
}

WEEKDAYS = {
    "en": ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"],
    # Soft-mutated ("ddydd"), as a date is used adverbially: "on Monday", "until Monday".
    "cy": ["ddydd Llun", "ddydd Mawrth", "ddydd Mercher", "ddydd Iau", "ddydd Gwener",
           "ddydd Sadwrn", "ddydd Sul"],
}
MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "cy": ["Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf", "Awst",
           "Medi", "Hydref", "Tachwedd", "Rhagfyr"],
}

# Bounds on what is put into a text, so that no text can grow past two segments.
MAX_NAME = 20
MAX_PLACE = 40
MAX_SEGMENTS = 2


def format_date(day: date, language: str) -> str:
    return f"{WEEKDAYS[language][day.weekday()]} {day.day} {MONTHS[language][day.month - 1]}"


def _shortened(text: str, limit: int) -> str:
    """Cut at a word boundary where one falls in the second half, so a place stays legible."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    cut = text[:limit]
    space = cut.rfind(" ")
    return (cut[:space] if space > limit // 2 else cut).rstrip(" ,-")


def first_name(name: str) -> str:
    words = name.split()
    if not words:
        return ""
    name = words[0]
    if len(name) > MAX_NAME:
        name = name.split("-")[0]
    return name[:MAX_NAME]


def render(kind: str, language: str, *, name: str, device: str, on: date, place: str) -> str:
    """The text of `kind` for a person called `name` (only the first name is used), about a
    device of kind `device` ("laptop", "phone", ...), on the date `on`, at `place` (the
    office's name). Normalised with `fit`, so it costs at most two segments."""
    language = language if language in LANGUAGES else "en"
    words = DEVICE_WORDS.get(device, {"en": "device", "cy": "dyfais"})
    body = TEMPLATES[kind][language].format(
        name=first_name(name), device=words[language], date=format_date(on, language),
        place=_shortened(place, MAX_PLACE))
    return fit(body)


def render_voucher(language: str, *, network: str, gb: float, code: str, on: date) -> str:
    """The text that carries a data voucher's code: the network, the data, the code, how to
    redeem it and when it expires. At most two segments (the network is shortened and the
    code at most MAX_CODE characters)."""
    language = language if language in LANGUAGES else "en"
    if len(code) > MAX_CODE:
        raise ValueError(f"a voucher code is at most {MAX_CODE} characters")
    amount = f"{gb:g}"
    body = TEMPLATES[Kind.voucher][language].format(
        network=_shortened(network, MAX_NETWORK), gb=amount, code=code,
        date=format_date(on, language))
    return fit(body)


def without_codes(body: str) -> str:
    """The text with any voucher code masked: what a log may show of it."""
    return _CODE_IN_TEXT.sub(r"\1[code]", body)


# --- SMS encoding ---------------------------------------------------------------------------

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
# Each of these costs two septets (an escape, then the character).
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")

# Typography that phones and word processors put in, mapped to what GSM-7 has.
TYPOGRAPHY = str.maketrans({
    "‘": "'", "’": "'", "‚": "'", "‛": "'", "′": "'", "`": "'",
    "“": '"', "”": '"', "„": '"', "‟": '"', "″": '"', "«": '"', "»": '"',
    "‐": "-", "‑": "-", "‒": "-", "–": "-", "—": "-", "―": "-", "−": "-",
    "…": "...", "\u00a0": " ", "\u2009": " ", "\u202f": " ", "\t": " ", "•": "-",
})


def normalise(text: str) -> str:
    """Curly quotes, dashes and odd spaces become their GSM-7 equivalents."""
    return text.translate(TYPOGRAPHY)


def is_gsm7(text: str) -> bool:
    return all(char in GSM7_BASIC or char in GSM7_EXTENDED for char in text)


def segments(text: str) -> int:
    """SMS segments `text` costs: GSM-7 160 alone or 153 a part, else UCS-2 70 or 67 (a
    character outside the basic plane counts twice in UCS-2)."""
    if is_gsm7(text):
        length = sum(2 if char in GSM7_EXTENDED else 1 for char in text)
        single, part = 160, 153
    else:
        length = sum(2 if ord(char) > 0xFFFF else 1 for char in text)
        single, part = 70, 67
    if length <= single:
        return 1
    return -(-length // part)


def _without_accents(text: str) -> str:
    """Welsh ŵ, ŷ, â and the like as their plain letters, leaving GSM-7's own accents."""
    def plain(char: str) -> str:
        if char in GSM7_BASIC or char in GSM7_EXTENDED:
            return char
        return unicodedata.normalize("NFKD", char)[0]
    return "".join(plain(char) for char in text)


def fit(text: str) -> str:
    """`text` normalised; if it is still UCS-2 and would cost more than two segments, its
    accents are dropped so that it travels as GSM-7 (a Welsh reader reads "ffon" easily;
    a third segment, or a truncated text, helps nobody)."""
    text = re.sub(r"[ ]{2,}", " ", normalise(text)).strip()
    if not is_gsm7(text) and segments(text) > MAX_SEGMENTS:
        plain = _without_accents(text)
        if is_gsm7(plain):
            return plain
    return text


# --- the parts of a text, for composing many at once (in SQL) ------------------------------

def template_parts(kind: str, language: str) -> list[tuple[str, str]]:
    """The template of `kind` in `language` as ("text", words) and ("field", name) parts, in
    order, the words normalised: `render` is these joined, each field filled in as
    `field_text` fills it, then put through `fit`."""
    parts: list[tuple[str, str]] = []
    for words, name, _, _ in string.Formatter().parse(TEMPLATES[kind][language]):
        if words:
            parts.append(("text", normalise(words)))
        if name is not None:
            parts.append(("field", name))
    return parts


def field_text(name: str, value: object, language: str) -> str:
    """What `render` puts in place of the field `name` for `value` (normalised)."""
    if name == "name":
        return normalise(first_name(str(value)))
    if name == "device":
        return DEVICE_WORDS.get(str(value), {"en": "device", "cy": "dyfais"})[language]
    if name == "date":
        assert isinstance(value, date)
        return format_date(value, language)
    if name == "place":
        return normalise(_shortened(str(value), MAX_PLACE))
    raise ValueError(f"no field {name!r} in the texts")


def without_accents(text: str) -> str:
    """What `fit` makes of a text that must travel as GSM-7."""
    return _without_accents(text)


UCS2_MAX_LENGTH = 2 * 67  # the longest text that fits two UCS-2 segments
