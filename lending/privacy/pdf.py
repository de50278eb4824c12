"""The subject-access export as a document a person can read."""

import io
import json
from datetime import date, datetime
from typing import Any
from xml.sax.saxutils import escape

from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table

SECTIONS = (
    ("decisions", "Eligibility decisions",
     ("decided_at", "kind", "outcome", "reasons", "override_reason")),
    ("loans", "Loans", ("issued_at", "asset_tag", "kind", "status", "due_on", "returned_at")),
    ("waitlist_requests", "Waiting-list requests", ("requested_at", "kind", "status", "notes")),
    ("vouchers", "Data vouchers given to you",
     ("issued_at", "network", "data_gb", "expires_on", "code")),
    ("messages", "Text messages we sent you",
     ("created_at", "sent_at", "kind", "status", "to", "body")),
    ("replies", "Text messages you sent us", ("received_at", "from_number", "body")),
    ("audit_entries", "Record of changes and readings",
     ("at", "actor", "action", "entity", "changes")),
)


def _text(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%d %b %Y %H:%M")
    if isinstance(value, date):
        return value.strftime("%d %b %Y")
    if isinstance(value, list) and all(isinstance(v, dict) and "code" in v for v in value):
        return "; ".join(v.get("message") or v["code"] for v in value)
    if isinstance(value, dict | list):
        return json.dumps(value, default=str, ensure_ascii=False)
    return str(value)


def subject_access_pdf(export: dict[str, Any], organisation: str) -> bytes:
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7.5, leading=9)
    buffer = io.BytesIO()
    record = export["recipient"]
    document = SimpleDocTemplate(
        buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm,
        bottomMargin=15 * mm, title=f"What {organisation} holds about recipient {record['id']}",
        author=organisation)
    story = [Paragraph(escape(f"What {organisation} holds about you"), styles["Title"]),
             Paragraph(escape(f"Produced {_text(export['exported_at'])}"), styles["Normal"]),
             Spacer(1, 4 * mm), Paragraph("Your record", styles["Heading2"])]
    rows = [[key.replace("_", " ").capitalize(), Paragraph(escape(_text(value)), small)]
            for key, value in record.items()]
    # A long value (notes, answers) may be taller than a page: rows split across pages.
    story.append(Table(rows, colWidths=[40 * mm, 140 * mm], splitInRow=1, style=[
        ("GRID", (0, 0), (-1, -1), 0.25, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    for key, heading, columns in SECTIONS:
        story += [Spacer(1, 4 * mm), Paragraph(escape(heading), styles["Heading2"])]
        header = [[Paragraph(escape(c.replace("_", " ")), small) for c in columns]]
        # The lists may be iterators, read a page at a time: read once, here.
        table = header + [[Paragraph(escape(_text(item.get(c))), small) for c in columns]
                          for item in export.get(key) or []]
        if len(table) == 1:
            story.append(Paragraph("None.", styles["Normal"]))
            continue
        story.append(Table(table, repeatRows=1, splitInRow=1,
                           colWidths=[180 * mm / len(columns)] * len(columns), style=[
            ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
            ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
            ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    document.build(story)
    return buffer.getvalue()
