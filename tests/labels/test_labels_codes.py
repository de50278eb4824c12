"""Single codes (matrix, SVG, PNG) and the errors a caller can trip over."""

import io
import re
import xml.etree.ElementTree as ElementTree

import pytest
import zxingcpp
from PIL import Image, ImageDraw

from labels import TEMPLATES, Label, LabelError, qr_matrix, qr_png, qr_svg, render_sheet
from labels.layout import printable

PAYLOAD = "http://127.0.0.1:8000/d/00042-K"
SVG_NAMESPACE = "{http://www.w3.org/2000/svg}"


def decode(image: Image.Image) -> list[zxingcpp.Barcode]:
    return zxingcpp.read_barcodes(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode)


def rasterise_svg_path(svg: str, pixels_per_unit: int) -> Image.Image:
    """Fills the SVG's path on white, enough of SVG for a rectilinear path (M, h, v, z)."""
    root = ElementTree.fromstring(svg)
    _, _, width, height = (float(value) for value in root.attrib["viewBox"].split())
    path = root.find(f"{SVG_NAMESPACE}path")
    assert path is not None
    image = Image.new("L", (int(width * pixels_per_unit), int(height * pixels_per_unit)), 255)
    painter = ImageDraw.Draw(image)
    x = y = 0.0
    outline: list[tuple[float, float]] = []
    for command, arguments in re.findall(r"([MhvzZ])([^MhvzZ]*)", path.attrib["d"]):
        numbers = [float(number) for number in re.findall(r"-?\d+(?:\.\d+)?", arguments)]
        if command == "M":
            x, y = numbers
            outline = [(x, y)]
        elif command == "h":
            x += numbers[0]
            outline.append((x, y))
        elif command == "v":
            y += numbers[0]
            outline.append((x, y))
        else:
            scaled = [(px * pixels_per_unit, py * pixels_per_unit) for px, py in outline]
            painter.polygon(scaled, fill=0)
    return image


def test_matrix_has_a_four_module_quiet_zone_and_error_correction_q():
    matrix = qr_matrix(PAYLOAD)
    size = len(matrix)

    assert all(len(row) == size for row in matrix)
    for index in range(4):
        assert not any(matrix[index]) and not any(matrix[size - 1 - index])
        assert not any(row[index] or row[size - 1 - index] for row in matrix)
    assert matrix[4][4], "the finder pattern starts right after the quiet zone"
    (code,) = decode(Image.open(io.BytesIO(qr_png(PAYLOAD))))
    assert code.ec_level == "Q"


def test_svg_decodes_to_the_payload():
    svg = qr_svg(PAYLOAD)

    (code,) = decode(rasterise_svg_path(svg, pixels_per_unit=8))

    assert code.text == PAYLOAD
    assert svg.startswith("<svg") and 'fill="#fff"' in svg, "a white ground keeps the quiet zone"


@pytest.mark.parametrize("scale", [3, 10])
def test_png_decodes_to_the_payload_at_the_asked_scale(scale):
    image = Image.open(io.BytesIO(qr_png(PAYLOAD, scale=scale)))

    (code,) = decode(image)

    assert code.text == PAYLOAD
    assert image.size == (len(qr_matrix(PAYLOAD)) * scale,) * 2


def test_unknown_template_names_the_ones_that_exist():
    with pytest.raises(LabelError) as raised:
        render_sheet([Label(PAYLOAD, "00042-K")], "avery-l9999")

    message = str(raised.value)
    assert "avery-l9999" in message
    assert all(name in message for name in TEMPLATES)


@pytest.mark.parametrize(
    ("template", "start", "range_text"),
    [
        ("avery-l7160", 22, "between 1 and 21"),
        ("avery-l7160", 0, "between 1 and 21"),
        ("avery-l7651", 66, "between 1 and 65"),
        ("brother-62x29", 2, "between 1 and 1"),
    ],
)
def test_start_past_the_sheet_names_the_range(template, start, range_text):
    with pytest.raises(LabelError, match=range_text):
        render_sheet([Label(PAYLOAD, "00042-K")], template, start=start)


def test_no_labels_is_an_error():
    with pytest.raises(LabelError, match="no labels"):
        render_sheet([], "avery-l7160")


def test_label_errors_are_value_errors_so_callers_can_answer_400():
    assert issubclass(LabelError, ValueError)


@pytest.mark.parametrize("payload", ["", "x" * 3000])
def test_a_payload_that_cannot_be_encoded_is_a_label_error(payload):
    with pytest.raises(LabelError, match="payload"):
        qr_svg(payload)


def test_png_scale_below_one_is_an_error():
    with pytest.raises(LabelError, match="scale"):
        qr_png(PAYLOAD, scale=0)


def test_captions_outside_the_pdf_fonts_lose_accents_rather_than_print_boxes():
    assert printable("Łódź  Café\tﬁx 日") == "?ódz Café fix ?"
