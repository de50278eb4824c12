"""Label sheets, alignment pages and single QR codes: the operations the app calls.

Codes are drawn as vector rectangles, one per run of dark modules, so they stay
sharp at any printer resolution and the PDF grows by a few hundred bytes a label.
Pages are finished as they fill, and nothing is kept per label, so memory follows
the size of the PDF and not the number of labels.
"""

import io
from collections.abc import Iterator, Sequence

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_Q
from qrcode.exceptions import DataOverflowError
from reportlab.lib.units import mm
from reportlab.pdfgen.canvas import Canvas

from labels.errors import LabelError
from labels.layout import Box, LabelPlan, plan_label, plan_roll_label
from labels.schemas import Label, LabelTemplate
from labels.templates import find_template

QUIET_ZONE_MODULES = 4
ALIGNMENT_LINE_WIDTH = 0.25
ALIGNMENT_GREY = 0.55

QrMatrix = list[list[bool]]


def qr_matrix(payload: str) -> QrMatrix:
    """The code's modules, row by row, quiet zone included; True is dark.

    Error correction Q survives a scuffed or partly peeled label (25 % damage).
    """
    if not payload:
        raise LabelError("a label needs a payload to encode, got an empty one")
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=QUIET_ZONE_MODULES)
    code.add_data(payload)
    try:
        code.make(fit=True)
    # qrcode 8 reports data beyond version 40 as a ValueError, older releases as overflow.
    except (DataOverflowError, ValueError):
        raise LabelError(
            f"payload of {len(payload)} characters is too long for a QR code"
        ) from None
    return code.get_matrix()


def qr_svg(payload: str) -> str:
    """A standalone SVG of the code, one path, sized in modules."""
    matrix = qr_matrix(payload)
    size = len(matrix)
    path = "".join(
        f"M{start},{row_index}h{length}v1h-{length}z"
        for row_index, row in enumerate(matrix)
        for start, length in _dark_runs(row)
    )
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{size * 8}" height="{size * 8}" '
        f'viewBox="0 0 {size} {size}" shape-rendering="crispEdges">'
        f'<rect width="{size}" height="{size}" fill="#fff"/>'
        f'<path d="{path}" fill="#000"/></svg>'
    )


def qr_png(payload: str, scale: int = 8) -> bytes:
    """A black-and-white PNG of the code, `scale` pixels per module."""
    if scale < 1:
        raise LabelError(f"scale must be at least 1 pixel per module, got {scale}")
    matrix = qr_matrix(payload)
    size = len(matrix)
    image = Image.new("1", (size, size), 1)
    image.putdata([0 if dark else 1 for row in matrix for dark in row])
    image = image.resize((size * scale, size * scale), Image.Resampling.NEAREST)
    png = io.BytesIO()
    image.save(png, format="PNG", optimize=True)
    return png.getvalue()


def render_sheet(
    labels: Sequence[Label],
    template: str,
    *,
    start: int = 1,
    offset_mm: tuple[float, float] = (0.0, 0.0),
) -> bytes:
    """A PDF of `labels` laid out on `template`, row by row, as many pages as needed.

    `start` is the 1-based position of the first free label on a part-used first
    sheet; `offset_mm` (right, down) corrects a printer that does not feed true.
    """
    sheet = find_template(template)
    if not labels:
        raise LabelError("no labels to print")
    per_page = sheet.labels_per_page
    if not 1 <= start <= per_page:
        raise LabelError(f"start must be between 1 and {per_page} for {sheet.name}, got {start}")

    pdf = io.BytesIO()
    canvas = _new_canvas(pdf, sheet, f"Labels ({sheet.name})")
    inset = sheet.safe_inset_mm * mm
    for index, label in enumerate(labels):
        position = (start - 1 + index) % per_page
        starts_page = index == 0 or position == 0
        if starts_page and index > 0:
            canvas.showPage()
        matrix = qr_matrix(label.payload)
        if sheet.continuous:
            width = sheet.page_width_mm * mm
            length, plan = plan_roll_label(
                label, len(matrix), width, sheet.page_height_mm * mm, inset
            )
            canvas.setPageSize((width, length))
        else:
            cell = _cell_box(sheet, position, sheet.page_height_mm * mm)
            plan = plan_label(label, cell, inset)
        if starts_page:
            _apply_offset(canvas, offset_mm)
        _draw_label(canvas, matrix, plan)
    canvas.showPage()
    canvas.save()
    return pdf.getvalue()


def render_alignment_page(template: str, *, offset_mm: tuple[float, float] = (0.0, 0.0)) -> bytes:
    """One page outlining every label cell, numbered as `start` counts, to check a printer.

    Print it on plain paper at actual size and hold it against a label sheet: the
    dashed box is the safe area that label content stays within.
    """
    sheet = find_template(template)
    pdf = io.BytesIO()
    canvas = _new_canvas(pdf, sheet, f"Alignment page ({sheet.name})")
    _apply_offset(canvas, offset_mm)
    canvas.setLineWidth(ALIGNMENT_LINE_WIDTH)
    canvas.setStrokeGray(ALIGNMENT_GREY)
    canvas.setFillGray(ALIGNMENT_GREY)
    inset = sheet.safe_inset_mm * mm
    page_height = sheet.page_height_mm * mm
    for position in range(sheet.labels_per_page):
        cell = _cell_box(sheet, position, page_height)
        canvas.setDash()
        canvas.roundRect(
            cell.x, cell.y, cell.width, cell.height, sheet.corner_radius_mm * mm, stroke=1, fill=0
        )
        safe = cell.shrunk(inset)
        canvas.setDash(1, 2)
        canvas.rect(safe.x, safe.y, safe.width, safe.height, stroke=1, fill=0)
        number_size = min(12.0, cell.height / 3)
        canvas.setFont("Helvetica", number_size)
        # Digits stand about 0.7 of the font size tall; this centres them in the cell.
        number_baseline = cell.y + (cell.height - number_size * 0.7) / 2
        canvas.drawCentredString(cell.x + cell.width / 2, number_baseline, str(position + 1))
    if sheet.top_margin_mm >= 8:
        canvas.setFont("Helvetica", 7)
        canvas.drawString(
            sheet.left_margin_mm * mm,
            page_height - sheet.top_margin_mm * mm / 2,
            f"{sheet.description}. Print at actual size (100 %, no fit to page); "
            f"offset {offset_mm[0]:g} mm right, {offset_mm[1]:g} mm down.",
        )
    canvas.showPage()
    canvas.save()
    return pdf.getvalue()


def _new_canvas(pdf: io.BytesIO, sheet: LabelTemplate, title: str) -> Canvas:
    # invariant: the same labels give the same bytes, so output can be compared and cached.
    canvas = Canvas(
        pdf,
        pagesize=(sheet.page_width_mm * mm, sheet.page_height_mm * mm),
        invariant=True,
        pageCompression=True,
    )
    canvas.setTitle(title)
    canvas.setCreator("lending labels")
    return canvas


def _apply_offset(canvas: Canvas, offset_mm: tuple[float, float]) -> None:
    right, down = offset_mm
    canvas.translate(right * mm, -down * mm)


def _cell_box(sheet: LabelTemplate, position: int, page_height: float) -> Box:
    left_mm, top_mm = sheet.cell_top_left_mm(position)
    return Box(
        left_mm * mm,
        page_height - (top_mm + sheet.label_height_mm) * mm,
        sheet.label_width_mm * mm,
        sheet.label_height_mm * mm,
    )


def _draw_label(canvas: Canvas, matrix: QrMatrix, plan: LabelPlan) -> None:
    _draw_qr(canvas, matrix, plan.qr)
    for text in plan.texts:
        canvas.setFont(text.font, text.size)
        canvas.drawString(text.x, text.baseline, text.text)


def _draw_qr(canvas: Canvas, matrix: QrMatrix, square: Box) -> None:
    # Drawn in module units (origin top-left, y down) so each run is a rectangle of
    # small integers. They are written as literal PDF operators because ReportLab's
    # path objects format every number through fp_str, pure Python without the
    # optional rl_accel, which cost more than building the matrices did.
    module = square.width / len(matrix)
    rectangles = " ".join(
        f"{start} {row_index} {length} 1 re"
        for row_index, row in enumerate(matrix)
        for start, length in _dark_runs(row)
    )
    canvas.saveState()
    canvas.translate(square.x, square.y + square.height)
    canvas.scale(module, -module)
    canvas.addLiteral(f"{rectangles} f")
    canvas.restoreState()


def _dark_runs(row: Sequence[bool]) -> Iterator[tuple[int, int]]:
    """(first column, length) of each horizontal run of dark modules."""
    run_start = None
    for column, dark in enumerate(row):
        if dark and run_start is None:
            run_start = column
        elif not dark and run_start is not None:
            yield run_start, column - run_start
            run_start = None
    if run_start is not None:
        yield run_start, len(row) - run_start
