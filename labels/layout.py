"""Where the code and the caption go on one label: pure geometry in PDF points.

The QR square includes its four-module quiet zone, so keeping text outside the
square is what keeps scanners working; text is shrunk, then cut with an ellipsis,
rather than ever crossing into it or past the label's safe inset.
"""

import math
import unicodedata
from dataclasses import dataclass

from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getAscentDescent, stringWidth

from labels.schemas import Label

TITLE_FONT = "Helvetica-Bold"
LINE_FONT = "Helvetica"
MAX_TITLE_PT = 18.0
MIN_TITLE_PT = 6.0
MAX_LINE_PT = 8.0
MIN_LINE_PT = 5.0
LINE_GAP_SHARE = 0.2  # of the line's size, between lines
TITLE_HEIGHT_SHARE_WITH_LINES = 0.4
TITLE_HEIGHT_SHARE_ALONE = 0.6
QR_MAX_WIDTH_SHARE = 0.55
GAP_AFTER_QR = 1 * mm
# Below these text widths a caption would be unreadable: drop the lines, then the title.
MIN_WIDTH_FOR_LINES = 22 * mm
MIN_WIDTH_FOR_TITLE = 8 * mm
# On a continuous roll a long URL earns a longer label instead of smaller modules;
# 0.6 mm is about seven dots of a 300 dpi thermal head.
PREFERRED_MODULE = 0.6 * mm
ELLIPSIS = "\N{HORIZONTAL ELLIPSIS}"


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF points; (x, y) is its bottom-left corner."""

    x: float
    y: float
    width: float
    height: float

    def shrunk(self, inset: float) -> "Box":
        return Box(self.x + inset, self.y + inset, self.width - 2 * inset, self.height - 2 * inset)


@dataclass(frozen=True)
class PlacedText:
    text: str
    font: str
    size: float
    x: float
    baseline: float


@dataclass(frozen=True)
class LabelPlan:
    qr: Box
    texts: list[PlacedText]


def plan_label(
    label: Label, cell: Box, inset: float, largest_qr_side: float = math.inf
) -> LabelPlan:
    """QR square on the left, as tall as the label allows; caption in the space to its right."""
    inner = cell.shrunk(inset)
    side = max(0.0, min(inner.height, inner.width * QR_MAX_WIDTH_SHARE, largest_qr_side))
    qr = Box(inner.x, inner.y + (inner.height - side) / 2, side, side)
    text_left = qr.x + side + GAP_AFTER_QR
    text_area = Box(text_left, inner.y, inner.x + inner.width - text_left, inner.height)
    return LabelPlan(qr=qr, texts=_plan_caption(label, text_area))


def plan_roll_label(
    label: Label, module_count: int, width: float, shortest: float, inset: float
) -> tuple[float, LabelPlan]:
    """(length to feed, plan) for a continuous roll, which grows rather than shrink content.

    A long payload gets modules of PREFERRED_MODULE; many caption lines get their
    full size. The code does not grow with the caption, which would narrow it.
    """
    qr_side = max(shortest - 2 * inset, module_count * PREFERRED_MODULE)
    caption_height = _extent(TITLE_FONT, MAX_TITLE_PT) + len(label.lines) * _line_step(MAX_LINE_PT)
    length = max(shortest, max(qr_side, caption_height) + 2 * inset)
    return length, plan_label(label, Box(0.0, 0.0, width, length), inset, qr_side)


def _plan_caption(label: Label, area: Box) -> list[PlacedText]:
    title = printable(label.title)
    if area.width < MIN_WIDTH_FOR_TITLE or not title:
        return []
    wanted_lines = [printable(line) for line in label.lines if line.strip()]
    if area.width < MIN_WIDTH_FOR_LINES:
        wanted_lines = []
    title_share = TITLE_HEIGHT_SHARE_WITH_LINES if wanted_lines else TITLE_HEIGHT_SHARE_ALONE
    title_size = _fitting_size(
        title, TITLE_FONT, area.width, area.height * title_share, MIN_TITLE_PT, MAX_TITLE_PT
    )
    if _extent(TITLE_FONT, title_size) > area.height:
        return []
    line_size = min(MAX_LINE_PT, max(MIN_LINE_PT, title_size * 0.6))
    room_for_lines = area.height - _extent(TITLE_FONT, title_size)
    line_count = min(len(wanted_lines), max(0, math.floor(room_for_lines / _line_step(line_size))))

    block_height = _extent(TITLE_FONT, title_size) + line_count * _line_step(line_size)
    cursor = area.y + (area.height + block_height) / 2
    title_ascent, title_descent = getAscentDescent(TITLE_FONT, title_size)
    texts = [
        PlacedText(
            _truncated(title, TITLE_FONT, title_size, area.width),
            TITLE_FONT,
            title_size,
            area.x,
            cursor - title_ascent,
        )
    ]
    cursor -= title_ascent - title_descent
    line_ascent, line_descent = getAscentDescent(LINE_FONT, line_size)
    for line in wanted_lines[:line_count]:
        cursor -= line_size * LINE_GAP_SHARE
        texts.append(
            PlacedText(
                _truncated(line, LINE_FONT, line_size, area.width),
                LINE_FONT,
                line_size,
                area.x,
                cursor - line_ascent,
            )
        )
        cursor -= line_ascent - line_descent
    return [text for text in texts if text.text]


def printable(text: str) -> str:
    """The text in the standard PDF fonts' WinAnsi encoding, which has no glyph for the rest.

    Accented letters outside it lose their accent (ő -> o), rather than print as boxes.
    """
    characters = []
    for character in " ".join(text.split()):
        try:
            character.encode("cp1252")
        except UnicodeEncodeError:
            decomposed = unicodedata.normalize("NFKD", character)
            base = "".join(part for part in decomposed if not unicodedata.combining(part))
            character = base if base.isascii() and base else "?"
        characters.append(character)
    return "".join(characters)


def _extent(font: str, size: float) -> float:
    ascent, descent = getAscentDescent(font, size)
    return ascent - descent


def _line_step(size: float) -> float:
    return size * LINE_GAP_SHARE + _extent(LINE_FONT, size)


def _fitting_size(
    text: str, font: str, width: float, height: float, smallest: float, largest: float
) -> float:
    width_at_one_point = stringWidth(text, font, 1.0)
    by_width = width / width_at_one_point if width_at_one_point else largest
    by_height = height / _extent(font, 1.0)
    return max(smallest, min(largest, by_width, by_height))


def _truncated(text: str, font: str, size: float, width: float) -> str:
    if stringWidth(text, font, size) <= width:
        return text
    kept = text
    while kept and stringWidth(kept.rstrip() + ELLIPSIS, font, size) > width:
        kept = kept[:-1]
    return kept.rstrip() + ELLIPSIS if kept else ""
