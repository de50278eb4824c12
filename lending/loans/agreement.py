"""The printable loan agreement and the starter sheet that goes with it.

Both print in the recipient's language (English or Welsh: the whole text, not a heading)
and, on request, in an easy-read layout: large type, short sentences, one idea a line.
The starter sheet's resources come from a TOML file the organisation edits
(`LENDING_STARTER_SHEET_FILE`; neutral defaults ship in `starter_resources.toml`). The
sheet is for anyone who borrows a device and says nothing about why they were lent it.
"""

import io
import tomllib
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import (
    ListFlowable,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
)

from inventory.service import Invalid

DEFAULT_RESOURCES = Path(__file__).with_name("starter_resources.toml")

# Kept for callers that read the English conditions.
CONDITIONS = (
    "The device remains the property of {organisation}. It is lent to you, not given.",
    "Bring it back by the due date, with everything listed above, or ask us to renew the "
    "loan before then.",
    "Keep it safe and do not sell, lend or give it to anyone else.",
    "Tell us as soon as you can if it is lost, stolen or damaged. If it was stolen, please "
    "report it to the police and give us the crime reference.",
    "Do not remove our label. We wipe every device when it comes back, so save anything "
    "you want to keep elsewhere before you return it.",
    "Use it lawfully, and within any conditions you are under.",
)

TEXTS: dict[str, dict[str, Any]] = {
    "en": {
        "title": "{organisation}: device loan agreement",
        "easy_title": "Your loan from {organisation}",
        "rows": ("Borrower", "Device", "Asset tag", "Serial number", "Lent on", "Due back",
                 "Accessories", "Loan number", "Declared"),
        "none": "none",
        "declared": "to {to} on {on}; recorded by {by}",
        "conditions_heading": "Conditions of the loan",
        "conditions": CONDITIONS,
        "by_signing": "By signing, you agree to these conditions and confirm you received "
                      "the device and accessories listed above.",
        "signatures": ("Borrower's signature", "Staff signature", "Staff name", "Date"),
        "easy_lines": (
            "We lend you this device.",
            "It belongs to {organisation}.",
            "Bring it back by {due}.",
            "Bring back everything we gave you with it.",
            "Need more time? Ask us before {due}.",
            "Keep it safe.",
            "Do not sell it.",
            "Do not give it to anyone.",
            "Lost it? Tell us soon.",
            "Stolen? Tell the police. Then tell us.",
            "Do not take off our label.",
            "We clear the device when it comes back.",
            "Save your photos and files somewhere else first.",
            "Use it within the law.",
        ),
        "easy_sign": "Sign here if you agree.",
        "starter_title": "Getting started with your device",
        "switch_on_heading": "Switching on",
        "switch_on": (
            "Charge the device fully before you first use it.",
            "Hold the power button for a few seconds to switch it on.",
            "Follow the steps on the screen. Choose a password only you know.",
            "Connect to wifi, or use the data that came with it.",
        ),
        "safety_heading": "Staying safe online",
        "safety": (
            "Never share your passwords or bank codes, even with someone who says they "
            "are from your bank.",
            "Be careful with links in texts and emails you did not expect.",
            "Install updates when the device asks.",
        ),
        "learning_heading": "Free help and learning",
        "contact_heading": "When something goes wrong",
        "phone": "Phone", "web": "Web",
    },
    "cy": {
        "title": "{organisation}: cytundeb benthyg dyfais",
        "easy_title": "Eich benthyciad gan {organisation}",
        "rows": ("Benthyciwr", "Dyfais", "Tag ased", "Rhif cyfresol", "Benthycwyd ar",
                 "I'w dychwelyd erbyn", "Ategolion", "Rhif y benthyciad", "Datganwyd"),
        "none": "dim",
        "declared": "i {to} ar {on}; cofnodwyd gan {by}",
        "conditions_heading": "Amodau'r benthyciad",
        "conditions": (
            "Mae'r ddyfais yn parhau i fod yn eiddo i {organisation}. Caiff ei benthyg i "
            "chi, nid ei rhoi.",
            "Dewch â hi yn ôl erbyn y dyddiad dychwelyd, gyda phopeth a restrir uchod, neu "
            "gofynnwch i ni adnewyddu'r benthyciad cyn hynny.",
            "Cadwch hi'n ddiogel a pheidiwch â'i gwerthu, ei benthyg na'i rhoi i unrhyw un "
            "arall.",
            "Rhowch wybod i ni cyn gynted ag y gallwch os caiff ei cholli, ei dwyn neu ei "
            "difrodi. Os cafodd ei dwyn, rhowch wybod i'r heddlu a rhowch y cyfeirnod "
            "trosedd i ni.",
            "Peidiwch â thynnu ein label. Rydym yn clirio pob dyfais pan ddaw yn ôl, felly "
            "cadwch unrhyw beth rydych am ei gadw yn rhywle arall cyn ei dychwelyd.",
            "Defnyddiwch hi'n gyfreithlon, ac o fewn unrhyw amodau sydd arnoch.",
        ),
        "by_signing": "Drwy lofnodi, rydych yn cytuno i'r amodau hyn ac yn cadarnhau eich "
                      "bod wedi cael y ddyfais a'r ategolion a restrir uchod.",
        "signatures": ("Llofnod y benthyciwr", "Llofnod aelod o staff", "Enw'r aelod o staff",
                       "Dyddiad"),
        "easy_lines": (
            "Rydym yn benthyg y ddyfais hon i chi.",
            "Mae'n perthyn i {organisation}.",
            "Dewch â hi yn ôl erbyn {due}.",
            "Dewch â phopeth a roesom i chi gyda hi yn ôl.",
            "Angen mwy o amser? Gofynnwch i ni cyn {due}.",
            "Cadwch hi'n ddiogel.",
            "Peidiwch â'i gwerthu.",
            "Peidiwch â'i rhoi i neb.",
            "Wedi'i cholli? Dywedwch wrthym yn fuan.",
            "Wedi'i dwyn? Dywedwch wrth yr heddlu. Yna dywedwch wrthym ni.",
            "Peidiwch â thynnu ein label.",
            "Rydym yn clirio'r ddyfais pan ddaw yn ôl.",
            "Cadwch eich lluniau a'ch ffeiliau yn rhywle arall yn gyntaf.",
            "Defnyddiwch hi o fewn y gyfraith.",
        ),
        "easy_sign": "Llofnodwch yma os ydych yn cytuno.",
        "starter_title": "Dechrau arni gyda'ch dyfais",
        "switch_on_heading": "Troi'r ddyfais ymlaen",
        "switch_on": (
            "Gwefrwch y ddyfais yn llawn cyn ei defnyddio gyntaf.",
            "Daliwch y botwm pŵer am ychydig eiliadau i'w throi ymlaen.",
            "Dilynwch y camau ar y sgrin. Dewiswch gyfrinair nad oes neb arall yn ei wybod.",
            "Cysylltwch â wifi, neu defnyddiwch y data a ddaeth gyda hi.",
        ),
        "safety_heading": "Cadw'n ddiogel ar-lein",
        "safety": (
            "Peidiwch byth â rhannu eich cyfrineiriau na'ch codau banc, hyd yn oed gyda "
            "rhywun sy'n dweud ei fod o'ch banc.",
            "Byddwch yn ofalus gyda dolenni mewn negeseuon testun ac e-byst nad oeddech yn eu "
            "disgwyl.",
            "Gosodwch ddiweddariadau pan fydd y ddyfais yn gofyn.",
        ),
        "learning_heading": "Help a dysgu am ddim",
        "contact_heading": "Pan fydd rhywbeth yn mynd o'i le",
        "phone": "Ffôn", "web": "Gwe",
    },
}

_KINDS_CY = {"laptop": "gliniadur", "phone": "ffôn", "tablet": "llechen", "sim": "cerdyn SIM",
             "hotspot": "llwybrydd symudol"}
_WEEKDAYS_CY = ("dydd Llun", "dydd Mawrth", "dydd Mercher", "dydd Iau", "dydd Gwener",
                "dydd Sadwrn", "dydd Sul")
_MONTHS_CY = ("Ionawr", "Chwefror", "Mawrth", "Ebrill", "Mai", "Mehefin", "Gorffennaf",
              "Awst", "Medi", "Hydref", "Tachwedd", "Rhagfyr")


def long_date(day: date, language: str) -> str:
    if language == "cy":
        return f"{_WEEKDAYS_CY[day.weekday()]} {day.day} {_MONTHS_CY[day.month - 1]} {day.year}"
    return day.strftime("%A %-d %B %Y")


@dataclass(frozen=True)
class Resource:
    name: str
    phone: str = ""
    web: str = ""
    text: str = ""
    text_cy: str = ""

    def described(self, language: str) -> str:
        return (self.text_cy or self.text) if language == "cy" else self.text


@dataclass(frozen=True)
class StarterResources:
    contact: Resource
    learning: tuple[Resource, ...]
    safety: tuple[Resource, ...]


_RESOURCE_KEYS = {"name", "phone", "web", "text", "text_cy"}


def _resource(value: Any, where: str) -> Resource:
    if not isinstance(value, dict) or not isinstance(value.get("name"), str):
        raise Invalid(f"{where}: a resource is a table with at least a name",
                      "starter_sheet_file")
    unknown = set(value) - _RESOURCE_KEYS
    if unknown:
        raise Invalid(f"{where}: unknown key {sorted(unknown)[0]!r}; use "
                      f"{', '.join(sorted(_RESOURCE_KEYS))}", "starter_sheet_file")
    if not all(isinstance(item, str) for item in value.values()):
        raise Invalid(f"{where}: every value is text", "starter_sheet_file")
    return Resource(**value)


@cache
def load_resources(path: str = "") -> StarterResources:
    """The starter sheet's resources from `path` (empty: the packaged defaults)."""
    source = Path(path) if path else DEFAULT_RESOURCES
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise Invalid(f"{source}: {error}", "starter_sheet_file") from error
    return StarterResources(
        contact=_resource(data.get("contact"), "contact"),
        learning=tuple(_resource(item, f"learning.{n}")
                       for n, item in enumerate(data.get("learning", []))),
        safety=tuple(_resource(item, f"safety.{n}")
                     for n, item in enumerate(data.get("safety", []))))


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


@dataclass(frozen=True)
class _Styles:
    title: ParagraphStyle
    heading: ParagraphStyle
    label: ParagraphStyle
    body: ParagraphStyle


def _styles(easy_read: bool) -> _Styles:
    sheet = getSampleStyleSheet()
    if not easy_read:
        return _Styles(sheet["Title"], sheet["Heading3"], sheet["Heading5"], sheet["BodyText"])
    # Easy read: large type, generous spacing, left-aligned, one idea a line.
    body = ParagraphStyle("EasyBody", parent=sheet["BodyText"], fontName="Helvetica",
                          fontSize=16, leading=24, spaceAfter=8)
    return _Styles(
        ParagraphStyle("EasyTitle", parent=sheet["Title"], fontSize=26, leading=32,
                       alignment=0),
        ParagraphStyle("EasyHeading", parent=sheet["Heading2"], fontSize=20, leading=26),
        ParagraphStyle("EasyLabel", parent=body, fontName="Helvetica-Bold"),
        body)


def _details(loan: dict[str, Any], serial: str | None, issued_on: date, language: str,
             declaration: dict[str, Any] | None) -> list[tuple[str, str]]:
    text = TEXTS[language]
    rows = text["rows"]
    kind = _KINDS_CY.get(loan["kind"], loan["kind"]) if language == "cy" else loan["kind"]
    values = [loan["recipient_name"], f"{loan['make']} {loan['model']} ({kind})",
              loan["asset_tag"], serial or "-", long_date(issued_on, language),
              long_date(loan["due_on"], language),
              ", ".join(loan["accessories"]) or text["none"], str(loan["id"])]
    details = list(zip(rows, values, strict=False))
    if declaration:
        details.append((rows[8], text["declared"].format(
            to=declaration["declared_to"], on=long_date(declaration["declared_on"], language),
            by=declaration["recorded_by"])))
    return details


def _agreement_story(loan: dict[str, Any], organisation: str, serial: str | None,
                     issued_on: date, language: str, easy_read: bool,
                     declaration: dict[str, Any] | None) -> list:
    text = TEXTS[language]
    styles = _styles(easy_read)
    details = _details(loan, serial, issued_on, language, declaration)
    sign, staff_sign, staff_name, on = text["signatures"]
    if easy_read:
        due = long_date(loan["due_on"], language)
        story = [_p(text["easy_title"].format(organisation=organisation), styles.title)]
        story += [_p(f"{label}: {value}", styles.body) for label, value in details]
        story.append(Spacer(1, 6 * mm))
        story += [_p(line.format(organisation=organisation, due=due), styles.body)
                  for line in text["easy_lines"]]
        story += [Spacer(1, 6 * mm), _p(text["easy_sign"], styles.label)]
        signatures = Table([[sign, ""], [on, ""], [staff_sign, ""], [staff_name, ""]],
                           colWidths=[60 * mm, 110 * mm], rowHeights=[18 * mm] * 4)
        signatures.setStyle([("LINEBELOW", (1, 0), (1, -1), 0.75, colors.black),
                             ("FONTSIZE", (0, 0), (-1, -1), 14),
                             ("VALIGN", (0, 0), (-1, -1), "BOTTOM")])
        return story + [signatures]
    table = Table([[_p(a, styles.label), _p(b, styles.body)] for a, b in details],
                  colWidths=[40 * mm, 130 * mm], splitInRow=1)
    table.setStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP")])
    conditions = ListFlowable(
        [_p(line.format(organisation=organisation), styles.body)
         for line in text["conditions"]], bulletType="1")
    signatures = Table(
        [[sign, "", on, ""], [staff_sign, "", on, ""], [staff_name, "", "", ""]],
        colWidths=[40 * mm, 80 * mm, 15 * mm, 35 * mm], rowHeights=[16 * mm] * 3)
    signatures.setStyle([("LINEBELOW", (1, 0), (1, -1), 0.5, colors.black),
                         ("LINEBELOW", (3, 0), (3, 1), 0.5, colors.black),
                         ("VALIGN", (0, 0), (-1, -1), "BOTTOM")])
    return [
        _p(text["title"].format(organisation=organisation), styles.title),
        Spacer(1, 4 * mm), table, Spacer(1, 6 * mm),
        _p(text["conditions_heading"], styles.heading), conditions, Spacer(1, 4 * mm),
        _p(text["by_signing"], styles.body), Spacer(1, 4 * mm), signatures,
    ]


def _resource_lines(resource: Resource, language: str, styles: _Styles) -> list:
    text = TEXTS[language]
    lines = [_p(resource.name, styles.label)]
    if resource.described(language):
        lines.append(_p(resource.described(language), styles.body))
    if resource.phone:
        lines.append(_p(f"{text['phone']}: {resource.phone}", styles.body))
    if resource.web:
        lines.append(_p(f"{text['web']}: {resource.web}", styles.body))
    return lines


def starter_story(resources: StarterResources, language: str, easy_read: bool) -> list:
    """The starter sheet: switching on, staying safe online, free help and learning, and
    whom to call when something goes wrong."""
    text = TEXTS[language]
    styles = _styles(easy_read)
    story = [_p(text["starter_title"], styles.title)]
    story += [_p(text["switch_on_heading"], styles.heading)]
    story += [_p(line, styles.body) for line in text["switch_on"]]
    story += [_p(text["safety_heading"], styles.heading)]
    story += [_p(line, styles.body) for line in text["safety"]]
    for resource in resources.safety:
        story += _resource_lines(resource, language, styles)
    story += [_p(text["learning_heading"], styles.heading)]
    for resource in resources.learning:
        story += _resource_lines(resource, language, styles)
    story += [_p(text["contact_heading"], styles.heading)]
    story += _resource_lines(resources.contact, language, styles)
    return story


def _build(story: list, title: str, organisation: str) -> bytes:
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm, title=title, author=organisation)
    document.build(story)
    return buffer.getvalue()


def agreement_pdf(loan: dict[str, Any], organisation: str, serial: str | None,
                  issued_on: date, language: str = "en", easy_read: bool = False,
                  declaration: dict[str, Any] | None = None,
                  resources: StarterResources | None = None) -> bytes:
    """The agreement for `loan` (a row from `loan_row`), then the starter sheet."""
    language = language if language in TEXTS else "en"
    story = _agreement_story(loan, organisation, serial, issued_on, language, easy_read,
                             declaration)
    story += [PageBreak(), *starter_story(resources or load_resources(), language, easy_read)]
    return _build(story, f"Loan agreement {loan['id']}", organisation)


def starter_sheet_pdf(organisation: str, language: str = "en", easy_read: bool = False,
                      resources: StarterResources | None = None) -> bytes:
    language = language if language in TEXTS else "en"
    return _build(starter_story(resources or load_resources(), language, easy_read),
                  TEXTS[language]["starter_title"], organisation)
