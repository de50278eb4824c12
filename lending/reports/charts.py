"""The report's charts, drawn once with reportlab.graphics from the report's own tables.

The same Drawing goes into the PDF and, through renderSVG, onto the Reports page, so that
the page and the PDF always agree.
"""

import math
from dataclasses import dataclass
from xml.sax.saxutils import escape

from reportlab.graphics import renderSVG
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.charts.legends import Legend
from reportlab.graphics.charts.linecharts import HorizontalLineChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors

from lending.reports.schemas import StockReport

WIDTH, HEIGHT = 460, 220
PALETTE = [colors.HexColor(c) for c in (
    "#1d70b8", "#00703c", "#f47738", "#4c2c92", "#d4351c", "#505a5f")]
FONT = "Helvetica"


@dataclass(frozen=True)
class Chart:
    key: str
    title: str
    drawing: Drawing

    def svg(self) -> str:
        """The chart as SVG to inline in a page: ids its own, a title, and a width that
        follows the page (the viewBox keeps the proportions)."""
        text = renderSVG.drawToString(self.drawing)
        text = text[text.index("<svg"):]  # no XML prologue or doctype inside HTML
        name = f"chart-{self.key.replace('_', '-')}"
        return (text
                .replace(f'width="{WIDTH}" height="{HEIGHT}"',
                         f'width="100%" role="img" aria-labelledby="{name}-title"', 1)
                .replace("<title>...</title>", f'<title id="{name}-title">'
                         f"{escape(self.title)}</title>", 1)
                .replace("<desc>...</desc>", "", 1)
                .replace('id="clip"', f'id="{name}-clip"')
                .replace("url(#clip)", f"url(#{name}-clip)")
                .replace('id="group"', f'id="{name}-group"'))


def _scale(axis, values: list[float | None]) -> None:
    """A value axis from 0 with whole-number steps (counts and days)."""
    top = max([v for v in values if v is not None] + [1])
    step = max(1, math.ceil(top / 5))
    axis.valueMin, axis.valueStep = 0, step
    axis.valueMax = step * (math.ceil(top / step) + (1 if top % step == 0 else 0))


def _frame(title: str) -> Drawing:
    drawing = Drawing(WIDTH, HEIGHT)
    drawing.add(String(0, HEIGHT - 12, title, fontName="Helvetica-Bold", fontSize=10))
    return drawing


def _legend(drawing: Drawing, names: list[str], x: float) -> None:
    legend = Legend()
    legend.x, legend.y = x, HEIGHT - 30
    legend.fontName, legend.fontSize = FONT, 7
    legend.dx = legend.dy = 7
    legend.deltay = 10
    legend.alignment = "right"
    legend.columnMaximum = 8
    legend.colorNamePairs = list(zip(PALETTE, names, strict=False))
    drawing.add(legend)


def _bars(title: str, categories: list[str], series: list[list[float]], names: list[str],
          stacked: bool = False) -> Drawing:
    drawing = _frame(title)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 40, 35, 300 if names else 400, HEIGHT - 70
    chart.data = series or [[0]]
    chart.categoryAxis.categoryNames = categories or ["(none)"]
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30 if len(categories) > 6 else 0
    chart.categoryAxis.labels.boxAnchor = "ne" if len(categories) > 6 else "n"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    totals = ([sum(col) for col in zip(*series, strict=True)] if stacked
              else [v for s in series for v in s if v is not None])
    _scale(chart.valueAxis, totals)
    if stacked:
        chart.categoryAxis.style = "stacked"
    for index in range(len(chart.data)):
        chart.bars[index].fillColor = PALETTE[index % len(PALETTE)]
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    if names:
        _legend(drawing, names, WIDTH - 80)
    return drawing


def _lines(title: str, categories: list[str], series: list[list[float | None]],
           names: list[str]) -> Drawing:
    drawing = _frame(title)
    chart = HorizontalLineChart()
    chart.x, chart.y, chart.width, chart.height = 40, 45, 320, HEIGHT - 80
    chart.data = [[None if v is None else float(v) for v in s] for s in series]
    chart.categoryAxis.categoryNames = categories
    chart.categoryAxis.labels.fontName = FONT
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.angle = 30
    chart.categoryAxis.labels.boxAnchor = "ne"
    chart.valueAxis.labels.fontName = FONT
    chart.valueAxis.labels.fontSize = 7
    _scale(chart.valueAxis, [v for s in chart.data for v in s])
    for index in range(len(chart.data)):
        chart.lines[index].strokeColor = PALETTE[index]
        chart.lines[index].strokeWidth = 2
    drawing.add(chart)
    _legend(drawing, names, WIDTH - 60)
    return drawing


def report_charts(report: StockReport) -> list[Chart]:
    """Stock by location, overdue by age band, loans by month, days to a device by month."""
    stock = report.table("stock_by_location")
    statuses = stock.columns[1:-1]
    by_location = _bars("Stock by location", [str(row[0]) for row in stock.rows],
                        [[int(row[1 + i]) for row in stock.rows] for i in range(len(statuses))],
                        [s.replace("_", " ") for s in statuses], stacked=True)
    bands = [report.figure(key) for key in ("overdue_1_7", "overdue_8_28", "overdue_29_plus")]
    overdue = _bars("Overdue loans by days overdue", ["1-7 days", "8-28 days", "29+ days"],
                    [[int(b.value or 0) for b in bands]], [])
    months = report.table("loans_by_month")
    loans = _lines("Loans issued and returned by month", [str(r[0]) for r in months.rows],
                   [[r[1] for r in months.rows], [r[2] for r in months.rows]],
                   ["issued", "returned"])
    waits = report.table("days_to_device_by_month")
    # Bars, not a line: a month with no request met has no median, and leaves a gap.
    waiting = _bars("Days from request to device (median) by month",
                    [str(r[0]) for r in waits.rows], [[r[1] for r in waits.rows]], [])
    return [Chart("stock_by_location", "Stock by location", by_location),
            Chart("overdue_by_band", "Overdue loans by days overdue", overdue),
            Chart("loans_by_month", "Loans issued and returned by month", loans),
            Chart("days_to_device", "Days from request to device by month", waiting)]
