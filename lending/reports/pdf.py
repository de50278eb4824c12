"""The report as a PDF (Platypus): a one-page summary, then every figure with its definition
and every table, headers repeated across pages; the period, the filters and the page
number on every page."""

import io
from xml.sax.saxutils import escape

from reportlab.graphics.shapes import Drawing, Group
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.pdfgen import canvas as pdfcanvas
from reportlab.platypus import (
    CondPageBreak,
    Flowable,
    KeepTogether,
    PageBreak,
    Paragraph,
    SimpleDocTemplate,
    Spacer,
    Table,
    TableStyle,
)

from lending.reports.charts import report_charts
from lending.reports.schemas import StockReport
from lending.reports.service import filters_line

# The figures a manager reads first, in the order they read them.
HEADLINES = ("devices_in_stock", "available", "on_loan", "awaiting_wipe", "lost",
             "low_stock_pairs", "plans_ending_30_days", "active_loans", "overdue_1_7",
             "overdue_8_28", "overdue_29_plus", "returned_on_time_share", "loss_rate",
             "requests_waiting", "days_to_device_median", "people_served",
             "first_time_recipients")

STYLES = getSampleStyleSheet()
SMALL = STYLES["BodyText"].clone("small", fontSize=8, leading=10)
GRID = TableStyle([
    ("FONT", (0, 0), (-1, 0), "Helvetica-Bold", 8),
    ("FONT", (0, 1), (-1, -1), "Helvetica", 8),
    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#f3f2f1")),
    ("LINEBELOW", (0, 0), (-1, 0), 0.8, colors.black),
    ("LINEBELOW", (0, 1), (-1, -1), 0.25, colors.HexColor("#b1b4b6")),
    ("VALIGN", (0, 0), (-1, -1), "TOP"),
])


class _NumberedCanvas(pdfcanvas.Canvas):
    """Writes "page N of M" once the number of pages is known."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._pages: list[dict] = []

    def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
        self._pages.append(dict(self.__dict__))
        self._startPage()

    def save(self) -> None:
        total = len(self._pages)
        for state in self._pages:
            self.__dict__.update(state)
            self.setFont("Helvetica", 8)
            self.drawRightString(A4[0] - 15 * mm, 10 * mm,
                                 f"Page {self._pageNumber} of {total}")
            super().showPage()
        super().save()


def _cell(value: object) -> str:
    return "" if value is None else (f"{value:,}" if isinstance(value, int) else str(value))


def _table(header: list[str], rows: list[list[object]], widths: list[float] | None = None
           ) -> Table:
    body = [[c if isinstance(c, Flowable) else Paragraph(escape(_cell(c)), SMALL)
             if isinstance(c, str) and len(c) > 30 else _cell(c) for c in row] for row in rows]
    table = Table([header, *body] if body else [header, ["(none)"] + [""] * (len(header) - 1)],
                  colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(GRID)
    return table


def _scaled(drawing: Drawing, factor: float) -> Drawing:
    group = Group(*drawing.contents)
    group.scale(factor, factor)
    smaller = Drawing(drawing.width * factor, drawing.height * factor)
    smaller.add(group)
    return smaller


def render_pdf(report: StockReport, organisation: str) -> bytes:
    buffer = io.BytesIO()
    filters = filters_line(report)

    def decorate(canvas, doc) -> None:
        canvas.saveState()
        canvas.setFont("Helvetica", 8)
        canvas.drawString(15 * mm, A4[1] - 10 * mm, f"{organisation}: {report.title}")
        canvas.drawRightString(A4[0] - 15 * mm, A4[1] - 10 * mm, f"Period: {filters}")
        canvas.drawString(15 * mm, 10 * mm,
                          f"Generated {report.period.generated_at:%-d %b %Y %H:%M} "
                          f"({report.period.timezone}). Counts only, no names.")
        canvas.restoreState()

    doc = SimpleDocTemplate(buffer, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm,
                            topMargin=18 * mm, bottomMargin=18 * mm, title=report.title,
                            author=organisation)
    story: list = [Paragraph(escape(report.title), STYLES["Title"]),
                   Paragraph(f"Period: {escape(filters)}", STYLES["Heading3"])]
    figures = {f.key: f for s in report.sections for f in s.figures}
    story.append(_table(["Figure", "Value"],
                        [[figures[k].label, figures[k].display] for k in HEADLINES],
                        [110 * mm, 50 * mm]))
    story.append(Spacer(1, 2 * mm))
    story.append(Paragraph("Every figure is defined in the pages that follow.", SMALL))
    charts = report_charts(report)
    story.extend([Spacer(1, 4 * mm), _scaled(charts[0].drawing, 0.72),
                  _scaled(charts[1].drawing, 0.72), PageBreak()])

    for section in report.sections:
        story.append(CondPageBreak(60 * mm))
        story.append(Paragraph(escape(section.title), STYLES["Heading2"]))
        if section.note:
            story.append(Paragraph(escape(section.note), STYLES["BodyText"]))
        if section.figures:
            story.append(_table(["Figure", "Value", "Definition"],
                                [[f.label, f.display, Paragraph(escape(f.definition), SMALL)]
                                 for f in section.figures],
                                [55 * mm, 30 * mm, 95 * mm]))
        for table in section.tables:
            story.append(CondPageBreak(40 * mm))
            story.append(Paragraph(escape(table.title), STYLES["Heading4"]))
            story.append(Paragraph(escape(table.definition), SMALL))
            story.append(_table([c.replace("_", " ") for c in table.columns], table.rows))
        story.append(Spacer(1, 6 * mm))

    story.append(CondPageBreak(120 * mm))
    story.append(Paragraph("Charts", STYLES["Heading2"]))
    for chart in charts[2:]:
        story.append(KeepTogether([chart.drawing, Spacer(1, 6 * mm)]))
    doc.build(story, onFirstPage=decorate, onLaterPages=decorate, canvasmaker=_NumberedCanvas)
    return buffer.getvalue()
