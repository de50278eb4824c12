"""Label sheets, rendered for real at 300 dpi and read back with a barcode decoder.

Every check goes through the printed pixels: each code decodes to its own payload in
its own cell, its quiet zone is white, and nothing is drawn outside the safe area.
"""

from collections import Counter
from dataclasses import dataclass

import pypdfium2 as pdfium
import pytest
import zxingcpp
from PIL import Image, ImageDraw

from labels import TEMPLATES, Label, LabelTemplate, qr_matrix, render_alignment_page, render_sheet

DPI = 300
PX_PER_MM = DPI / 25.4
WHITE_ENOUGH = 200  # anti-aliased edges are grey; ink is near 0
EDGE_TOLERANCE_PX = 2
SHEET_TEMPLATES = [name for name, template in TEMPLATES.items() if template.labels_per_page > 1]
ROLL_TEMPLATES = [name for name, template in TEMPLATES.items() if template.labels_per_page == 1]


@dataclass(frozen=True)
class DecodedCode:
    page: int
    text: str
    left: float
    top: float
    right: float
    bottom: float

    @property
    def centre(self) -> tuple[float, float]:
        return (self.left + self.right) / 2, (self.top + self.bottom) / 2


def device_labels(count: int) -> list[Label]:
    """Realistic captions, with every third one far too long for any label."""
    labels = []
    for number in range(1, count + 1):
        tag = f"{number:05d}-{'KMRT'[number % 4]}"
        lines = ["Laptop · Lenovo T14", "Brightside Lending Partnership"]
        if number % 3 == 0:
            tag = f"LONG-ASSET-TAG-{tag}-WITH-SUFFIX"
            lines = ["Tablet · Samsung Galaxy Tab A9+ with keyboard case " * 2, "x" * 120, "third"]
        labels.append(Label(payload=f"http://127.0.0.1:8000/d/{tag}", title=tag, lines=lines))
    return labels


def render_pages(pdf: bytes) -> list[Image.Image]:
    document = pdfium.PdfDocument(pdf)
    return [page.render(scale=DPI / 72, grayscale=True).to_pil().convert("L") for page in document]


def decode_pages(pages: list[Image.Image]) -> list[DecodedCode]:
    decoded = []
    for page_index, image in enumerate(pages):
        for code in zxingcpp.read_barcodes(
            image, formats=zxingcpp.BarcodeFormat.QRCode, try_rotate=False, try_invert=False
        ):
            corners = [
                code.position.top_left,
                code.position.top_right,
                code.position.bottom_right,
                code.position.bottom_left,
            ]
            decoded.append(
                DecodedCode(
                    page=page_index,
                    text=code.text,
                    left=min(corner.x for corner in corners),
                    top=min(corner.y for corner in corners),
                    right=max(corner.x for corner in corners),
                    bottom=max(corner.y for corner in corners),
                )
            )
    return decoded


def cell_px(template: LabelTemplate, position: int) -> tuple[float, float, float, float]:
    left_mm, top_mm = template.cell_top_left_mm(position)
    return (
        left_mm * PX_PER_MM,
        top_mm * PX_PER_MM,
        (left_mm + template.label_width_mm) * PX_PER_MM,
        (top_mm + template.label_height_mm) * PX_PER_MM,
    )


def cell_containing(template: LabelTemplate, x: float, y: float) -> int | None:
    for position in range(template.labels_per_page):
        left, top, right, bottom = cell_px(template, position)
        if left <= x <= right and top <= y <= bottom:
            return position
    return None


def is_blank(image: Image.Image, box: tuple[float, float, float, float]) -> bool:
    left, top, right, bottom = (round(value) for value in box)
    if right <= left or bottom <= top:
        return True
    darkest, _ = image.crop((left, top, right, bottom)).getextrema()
    return darkest >= WHITE_ENOUGH


def safe_area_px(template: LabelTemplate, position: int, page: Image.Image):
    if template.continuous:
        left, top, right, bottom = 0.0, 0.0, page.width, page.height
    else:
        left, top, right, bottom = cell_px(template, position)
    inset = template.safe_inset_mm * PX_PER_MM - EDGE_TOLERANCE_PX
    return left + inset, top + inset, right - inset, bottom - inset


@pytest.mark.parametrize("template_name", SHEET_TEMPLATES)
def test_every_label_on_two_sheets_decodes_to_its_own_payload_in_its_own_cell(template_name):
    template = TEMPLATES[template_name]
    labels = device_labels(2 * template.labels_per_page)

    decoded = decode_pages(render_pages(render_sheet(labels, template_name)))

    assert Counter(code.text for code in decoded) == Counter(label.payload for label in labels)
    for code in decoded:
        index = next(i for i, label in enumerate(labels) if label.payload == code.text)
        expected_page, expected_position = divmod(index, template.labels_per_page)
        assert code.page == expected_page
        assert cell_containing(template, *code.centre) == expected_position


@pytest.mark.parametrize("template_name", ROLL_TEMPLATES)
def test_a_roll_prints_one_decodable_label_per_page(template_name):
    labels = device_labels(3)

    pages = render_pages(render_sheet(labels, template_name))
    decoded = decode_pages(pages)

    assert len(pages) == 3
    assert [(code.page, code.text) for code in decoded] == [
        (page, label.payload) for page, label in enumerate(labels)
    ]


@pytest.mark.parametrize("template_name", TEMPLATES)
def test_drawing_stays_inside_the_safe_area_and_the_quiet_zone_is_white(template_name):
    template = TEMPLATES[template_name]
    labels = device_labels(max(3, template.labels_per_page))
    pages = render_pages(render_sheet(labels, template_name))

    for page_index, page in enumerate(pages):
        outside_safe_areas = page.copy()
        painter = ImageDraw.Draw(outside_safe_areas)
        positions = range(template.labels_per_page)
        for position in positions:
            painter.rectangle(safe_area_px(template, position, page), fill=255)
        assert is_blank(outside_safe_areas, (0, 0, page.width, page.height)), (
            f"ink outside the safe area of a label on page {page_index + 1}"
        )

    for code in decode_pages(pages):
        page = pages[code.page]
        module = (code.right - code.left) / (len(qr_matrix(code.text)) - 8)
        band = 4 * module
        edge = EDGE_TOLERANCE_PX
        above = (code.left - band, code.top - band, code.right + band, code.top - edge)
        below = (code.left - band, code.bottom + edge, code.right + band, code.bottom + band)
        left_side = (code.left - band, code.top, code.left - edge, code.bottom)
        right_side = (code.right + edge, code.top, code.right + band, code.bottom)
        for strip in (above, below, left_side, right_side):
            assert is_blank(page, strip), f"quiet zone of {code.text} has ink"


def test_start_leaves_the_used_cells_of_the_first_sheet_blank():
    template = TEMPLATES["avery-l7160"]
    labels = device_labels(20)

    pages = render_pages(render_sheet(labels, "avery-l7160", start=5))
    decoded = decode_pages(pages)

    assert len(pages) == 2
    assert Counter(code.text for code in decoded) == Counter(label.payload for label in labels)
    for code in decoded:
        index = next(i for i, label in enumerate(labels) if label.payload == code.text)
        expected_page, expected_position = divmod(4 + index, template.labels_per_page)
        assert (code.page, cell_containing(template, *code.centre)) == (
            expected_page,
            expected_position,
        )
    for used_position in range(4):
        assert is_blank(pages[0], cell_px(template, used_position))
    assert not is_blank(pages[1], cell_px(template, 2))
    assert is_blank(pages[1], cell_px(template, 3)), "only the first sheet skips cells"


def test_start_at_the_last_cell_prints_one_label_there():
    template = TEMPLATES["avery-l7651"]
    labels = device_labels(2)

    decoded = decode_pages(render_pages(render_sheet(labels, "avery-l7651", start=65)))

    assert [(code.page, cell_containing(template, *code.centre)) for code in decoded] == [
        (0, 64),
        (1, 0),
    ]


def test_offset_moves_every_label_by_that_many_millimetres():
    labels = device_labels(3)
    right_mm, down_mm = 1.5, -2.0

    plain = decode_pages(render_pages(render_sheet(labels, "avery-l7163")))
    shifted = decode_pages(render_pages(render_sheet(labels, "avery-l7163", offset_mm=(1.5, -2.0))))

    assert [code.text for code in plain] == [code.text for code in shifted]
    for before, after in zip(plain, shifted, strict=True):
        assert after.centre[0] - before.centre[0] == pytest.approx(right_mm * PX_PER_MM, abs=2)
        assert after.centre[1] - before.centre[1] == pytest.approx(down_mm * PX_PER_MM, abs=2)


def test_a_continuous_label_grows_to_keep_a_long_payload_readable():
    short = Label(payload="http://127.0.0.1:8000/d/00042-K", title="00042-K", lines=["Phone"])
    long = Label(payload="https://lending.example.org/devices/" + "0123456789" * 12, title="X1")

    short_page, long_page = render_pages(render_sheet([short, long], "brother-62"))

    assert short_page.height == pytest.approx(29 * PX_PER_MM, abs=2)
    assert long_page.height > short_page.height
    assert [code.text for code in decode_pages([long_page])] == [long.payload]


def test_a_continuous_label_grows_to_print_every_caption_line():
    lines = ["Laptop · Lenovo T14", "Charger, bag", "Brightside", "Room 4", "Shelf B", "Box 7"] * 2
    label = Label(payload="http://127.0.0.1:8000/d/00042-K", title="00042-K", lines=lines)

    page = pdfium.PdfDocument(render_sheet([label], "brother-62"))[0]

    assert page.get_height() > 29 * 72 / 25.4
    assert page.get_textpage().get_text_range().split("\r\n") == ["00042-K", *lines]


@pytest.mark.parametrize("template_name", TEMPLATES)
def test_alignment_page_outlines_and_numbers_every_cell(template_name):
    template = TEMPLATES[template_name]
    page = pdfium.PdfDocument(render_alignment_page(template_name))[0]
    page_height_pt = page.get_height()
    mm_to_pt = 72 / 25.4

    outlines = []
    for path in page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_PATH]):
        left, bottom, right, top = path.get_bounds()
        outlines.append((left, page_height_pt - top, right - left, top - bottom))
    for position in range(template.labels_per_page):
        left_mm, top_mm = template.cell_top_left_mm(position)
        expected = (
            left_mm * mm_to_pt,
            top_mm * mm_to_pt,
            template.label_width_mm * mm_to_pt,
            template.label_height_mm * mm_to_pt,
        )
        # pdfium's bounds include the hairline's stroke, a fraction of a point.
        assert any(
            all(abs(got - want) <= 0.75 for got, want in zip(outline, expected, strict=True))
            for outline in outlines
        ), f"cell {position + 1} is not outlined"
    words = page.get_textpage().get_text_range().split()
    numbers = {int(word) for word in words if word.isdigit()}
    assert numbers >= set(range(1, template.labels_per_page + 1))
