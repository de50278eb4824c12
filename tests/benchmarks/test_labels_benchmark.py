"""How fast a 1,000-label sheet renders, against the floor of computing its QR codes.

The floor is `qrcode` building the same 1,000 matrices and nothing else, measured in
the same run, so the ratio says what the PDF costs on top of work no renderer can
skip. The raster way (a PNG per label, placed with drawImage) is timed for
comparison, and peak memory is traced for 1,000 and 3,000 labels to show that it
follows the PDF's size and holds nothing per label. Run: pytest tests/benchmarks -s
"""

import io
import time
import tracemalloc
from collections.abc import Callable, Sequence
from typing import TypeVar

import qrcode
from qrcode.constants import ERROR_CORRECT_Q
from reportlab.lib.units import mm
from reportlab.lib.utils import ImageReader
from reportlab.pdfgen.canvas import Canvas

from labels import TEMPLATES, Label, render_sheet
from labels.layout import Box, plan_label

TEMPLATE = "avery-l7160"
LABEL_COUNT = 1_000
REPEATS = 3
GOAL_RATIO = 1.5
Result = TypeVar("Result")


def device_labels(count: int) -> list[Label]:
    return [
        Label(
            payload=f"http://127.0.0.1:8000/d/{number:05d}-{'KMRT'[number % 4]}",
            title=f"{number:05d}-{'KMRT'[number % 4]}",
            lines=["Laptop · Lenovo T14", "Brightside Lending Partnership"],
        )
        for number in range(1, count + 1)
    ]


def compute_matrices_only(labels: Sequence[Label]) -> None:
    for label in labels:
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4)
        code.add_data(label.payload)
        code.make(fit=True)
        code.get_matrix()


def render_sheet_as_raster(labels: Sequence[Label]) -> bytes:
    """The same layout with each code as a PNG from qrcode's own image factory."""
    template = TEMPLATES[TEMPLATE]
    pdf = io.BytesIO()
    page_height = template.page_height_mm * mm
    canvas = Canvas(pdf, pagesize=(template.page_width_mm * mm, page_height), pageCompression=True)
    for index, label in enumerate(labels):
        position = index % template.labels_per_page
        if index and not position:
            canvas.showPage()
        left_mm, top_mm = template.cell_top_left_mm(position)
        cell = Box(
            left_mm * mm,
            page_height - (top_mm + template.label_height_mm) * mm,
            template.label_width_mm * mm,
            template.label_height_mm * mm,
        )
        plan = plan_label(label, cell, template.safe_inset_mm * mm)
        code = qrcode.QRCode(error_correction=ERROR_CORRECT_Q, border=4, box_size=10)
        code.add_data(label.payload)
        code.make(fit=True)
        png = io.BytesIO()
        code.make_image().save(png)
        png.seek(0)
        canvas.drawImage(ImageReader(png), plan.qr.x, plan.qr.y, plan.qr.width, plan.qr.height)
        for text in plan.texts:
            canvas.setFont(text.font, text.size)
            canvas.drawString(text.x, text.baseline, text.text)
    canvas.showPage()
    canvas.save()
    return pdf.getvalue()


def best_seconds(work: Callable[[], Result], repeats: int = REPEATS) -> tuple[float, Result]:
    """Fastest of a few runs, the least disturbed by whatever else the machine is doing."""
    timings = []
    for _ in range(repeats):
        started = time.perf_counter()
        result = work()
        timings.append(time.perf_counter() - started)
    return min(timings), result


def peak_memory(count: int) -> tuple[int, int]:
    """(peak bytes traced while rendering `count` labels, size of the PDF)."""
    labels = device_labels(count)
    tracemalloc.start()
    try:
        pdf_size = len(render_sheet(labels, TEMPLATE))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    return peak, pdf_size


def test_label_sheet_speed_against_the_qrcode_floor():
    labels = device_labels(LABEL_COUNT)
    render_sheet(labels[:30], TEMPLATE)  # imports and font metrics, once

    floor, _ = best_seconds(lambda: compute_matrices_only(labels))
    vector, vector_pdf = best_seconds(lambda: render_sheet(labels, TEMPLATE))
    # Only for comparison, and more than twice as slow: once is enough.
    raster, raster_pdf = best_seconds(lambda: render_sheet_as_raster(labels), repeats=1)
    ratio = vector / floor
    vector_size, raster_size = len(vector_pdf), len(raster_pdf)
    print(
        f"\nlabels: {LABEL_COUNT} in {vector:.2f} s ({LABEL_COUNT / vector:.0f}/s); "
        f"floor qrcode-only {floor:.2f} s; ratio {ratio:.2f}x (goal <= {GOAL_RATIO}x); "
        f"PDF {vector_size / 1024:.0f} KiB"
    )
    print(
        f"raster (PNG per label, drawImage): {LABEL_COUNT} in {raster:.2f} s "
        f"({LABEL_COUNT / raster:.0f}/s); ratio {raster / floor:.2f}x; "
        f"PDF {raster_size / 1024:.0f} KiB"
    )
    assert ratio <= GOAL_RATIO, f"{ratio:.2f}x the qrcode floor, goal {GOAL_RATIO}x"


def test_label_sheet_memory_follows_the_pdf_not_the_label_count():
    small_peak, small_pdf = peak_memory(LABEL_COUNT)
    large_peak, large_pdf = peak_memory(3 * LABEL_COUNT)

    measured = ((LABEL_COUNT, small_peak, small_pdf), (3 * LABEL_COUNT, large_peak, large_pdf))
    print()
    for count, peak, pdf_size in measured:
        print(
            f"memory: {count} labels peak {peak / 2**20:.1f} MiB, "
            f"PDF {pdf_size / 2**20:.2f} MiB, peak {peak / pdf_size:.1f}x the PDF, "
            f"{peak / count / 1024:.1f} KiB a label"
        )
    growth = (large_peak - small_peak) / (large_pdf - small_pdf)
    print(f"memory: growth 1000 -> 3000 labels is {growth:.1f} bytes per byte of PDF")
    # Page content is held as text until the PDF is written and compressed, so the
    # peak is a steady multiple of the PDF: linear in labels, with nothing else kept.
    assert large_peak / large_pdf <= 1.25 * small_peak / small_pdf
