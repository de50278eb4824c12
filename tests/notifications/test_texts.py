"""Every text fits two SMS segments with long real values, in English and Welsh, and says
nothing a stranger holding the phone should learn."""

from datetime import date

import pytest

from notifications.texts import (
    AFTER_RETURN,
    DEVICE_WORDS,
    LANGUAGES,
    SURVEY,
    TEMPLATES,
    Kind,
    first_name,
    fit,
    is_gsm7,
    normalise,
    render,
    render_voucher,
    segments,
    without_codes,
)

# Texts about a device; a data voucher's text (given, not lent) is tested on its own below.
LOAN_KINDS = [kind for kind in Kind if kind != Kind.voucher]
LONG_NAMES = ["Christopher-Alexander Montgomery-Smith", "Gwenllian Angharad", "Siân", "Ŵyn"]
LONG_PLACES = ["Merthyr Tydfil Community Hub, Pontmorlais Road, Merthyr Tydfil CF47 8UN",
               "Canolfan Gymunedol Llanfairpwllgwyngyll", "Tŷ Ni, Ffordd y Brenin, Caernarfon"]
LONGEST_DATES = [date(2026, 9, 30), date(2027, 2, 24), date(2026, 12, 1)]
FORBIDDEN = ["probation", "offence", "offender", "licence", "prison", "court", "sentence",
             "prawf", "trosedd", "trwydded", "carchar", "llys"]


@pytest.mark.parametrize("kind", LOAN_KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_every_text_fits_two_segments(kind, language):
    for name in LONG_NAMES:
        for place in LONG_PLACES:
            for device in DEVICE_WORDS:
                for day in LONGEST_DATES:
                    body = render(kind, language, name=name, device=device, on=day,
                                  place=place)
                    assert segments(body) <= 2, (len(body), body)
                    assert "{" not in body and body == body.strip()


@pytest.mark.parametrize("kind", LOAN_KINDS)
@pytest.mark.parametrize("language", LANGUAGES)
def test_texts_say_nothing_private_and_how_to_ask_for_more_time(kind, language):
    template = TEMPLATES[kind][language]
    assert not any(word in template.lower() for word in FORBIDDEN)
    assert "{device}" in template
    if kind in SURVEY:
        # After the return: the first name and the device kind at most.
        assert "{place}" not in template and "{date}" not in template
    else:
        assert "{place}" in template and "{date}" in template
    if language == "en":
        assert is_gsm7(normalise(template))
    more = "MORE" if language == "en" else "MWY"
    if kind in AFTER_RETURN or kind == Kind.more_time_refused:
        # Nothing to ask for after the return; and a refusal does not invite another.
        assert more not in template
    else:
        assert more in template
    body = render(kind, language, name="Sam Jones", device="laptop", on=date(2026, 12, 1),
                  place="Cardiff Hub")
    assert "Jones" not in body  # the first name only


def test_welsh_keeps_its_accents_when_they_fit_and_drops_them_when_they_do_not():
    short = render(Kind.thanks, "cy", name="Siân", device="phone", on=date(2026, 12, 1),
                   place="Bangor")
    assert "ffôn" in short and "Siân" in short and not is_gsm7(short)
    long = render(Kind.final_overdue, "cy", name="Siân", device="phone",
                  on=date(2026, 9, 30), place=LONG_PLACES[0])
    assert "ffon" in long and "Sian" in long and is_gsm7(long)
    assert render(Kind.due_today, "cy", name="Sam", device="laptop", on=date(2026, 12, 1),
                  place="Bangor").startswith("Helo Sam, mae eich gliniadur i fod yn ")


def test_english_dates_and_devices():
    body = render(Kind.due_soon, "en", name="sam", device="sim", on=date(2026, 12, 3),
                  place="Leeds Hub")
    assert body == ("Hi sam, your SIM card is due back on Thursday 3 December at Leeds Hub. "
                    "Need longer? Reply MORE.")
    assert first_name("Christopher-Alexander Smith") == "Christopher"
    assert first_name("  ") == ""


def test_segments_are_counted_as_phones_count_them():
    assert segments("a" * 160) == 1
    assert segments("a" * 161) == 2
    assert segments("a" * 306) == 2
    assert segments("a" * 307) == 3
    assert segments("€" * 80) == 1  # two septets each: 160
    assert segments("€" * 81) == 2
    assert segments("[" * 153 + "a") == 3  # 307 septets
    assert segments("ŵ" * 70) == 1
    assert segments("ŵ" * 71) == 2
    assert segments("ŵ" * 134) == 2
    assert segments("ŵ" * 135) == 3
    assert segments("a" * 150 + "ŵ") == 3  # one character makes the whole text UCS-2


def test_typography_becomes_gsm7():
    assert normalise("“Don’t” – it’s … fine—really") == "\"Don't\" - it's ... fine-really"
    assert is_gsm7(fit("It’s due on Monday\u00a0– ok?"))
    assert fit("a  b ") == "a b"


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_voucher_text_fits_two_segments_says_what_it_must_and_logs_no_code(language):
    template = TEMPLATES[Kind.voucher][language]
    assert not any(word in template.lower() for word in FORBIDDEN)
    for placeholder in ("{network}", "{gb}", "{code}", "{date}"):
        assert placeholder in template
    for network in ["EE", "Vodafone Community Connect Extra Long Name", "Tŷ Mobile"]:
        for day in LONGEST_DATES:
            body = render_voucher(language, network=network, gb=40, code="9" * 32, on=day)
            assert segments(body) <= 2, (len(body), body)
            assert "9" * 32 in body and "9" * 32 not in without_codes(body)
    with pytest.raises(ValueError):
        render_voucher(language, network="EE", gb=1, code="9" * 33, on=date(2027, 1, 1))


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_survey_thanks_and_asks_one_question_on_a_scale(language):
    for kind in (Kind.survey, Kind.survey_again):
        body = render(kind, language, name="Sam Jones", device="tablet",
                      on=date(2026, 12, 1), place="Cardiff Hub")
        assert "1 (not at all)" in body or "1 (dim o gwbl)" in body
        assert "Cardiff" not in body and "December" not in body and "Rhagfyr" not in body
    thanks = render(Kind.survey, language, name="Sam", device="tablet", on=date(2026, 12, 1),
                    place="Cardiff Hub")
    assert thanks.startswith("Thank you Sam" if language == "en" else "Diolch Sam")
