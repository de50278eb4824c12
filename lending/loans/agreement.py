"""The printable loan agreement: what was lent, until when, on what conditions, signed."""

import io
from datetime import date
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle, getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import ListFlowable, Paragraph, SimpleDocTemplate, Spacer, Table

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


def _p(text: str, style: ParagraphStyle) -> Paragraph:
    return Paragraph(escape(text), style)


def agreement_pdf(loan: dict[str, Any], organisation: str, serial: str | None,
                  issued_on: date) -> bytes:
    """A one-page A4 agreement for `loan` (a row from `loan_row`)."""
    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=20 * mm, rightMargin=20 * mm, topMargin=18 * mm,
        bottomMargin=18 * mm, title=f"Loan agreement {loan['id']}", author=organisation)
    device = f"{loan['make']} {loan['model']} ({loan['kind']})"
    details = [
        ["Borrower", loan["recipient_name"]],
        ["Device", device],
        ["Asset tag", loan["asset_tag"]],
        ["Serial number", serial or "-"],
        ["Lent on", issued_on.strftime("%A %-d %B %Y")],
        ["Due back", loan["due_on"].strftime("%A %-d %B %Y")],
        ["Accessories", ", ".join(loan["accessories"]) or "none"],
        ["Loan number", str(loan["id"])],
    ]
    table = Table([[_p(a, styles["Heading5"]), _p(b, body)] for a, b in details],
                  colWidths=[40 * mm, 130 * mm])
    table.setStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP")])
    conditions = ListFlowable(
        [_p(text.format(organisation=organisation), body) for text in CONDITIONS],
        bulletType="1")
    signatures = Table(
        [["Borrower's signature", "", "Date", ""],
         ["Staff signature", "", "Date", ""],
         ["Staff name", "", "", ""]],
        colWidths=[40 * mm, 80 * mm, 15 * mm, 35 * mm], rowHeights=[16 * mm] * 3)
    signatures.setStyle([("LINEBELOW", (1, 0), (1, -1), 0.5, colors.black),
                         ("LINEBELOW", (3, 0), (3, 1), 0.5, colors.black),
                         ("VALIGN", (0, 0), (-1, -1), "BOTTOM")])
    story = [
        _p(f"{organisation}: device loan agreement", styles["Title"]),
        Spacer(1, 4 * mm),
        table,
        Spacer(1, 6 * mm),
        _p("Conditions of the loan", styles["Heading3"]),
        conditions,
        Spacer(1, 4 * mm),
        _p("By signing, you agree to these conditions and confirm you received the device "
           "and accessories listed above.", body),
        Spacer(1, 4 * mm),
        signatures,
    ]
    document.build(story)
    return buffer.getvalue()
