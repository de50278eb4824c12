"""The label stocks we print on, as published by their makers.

Sheet figures are the makers' template data (Avery / Label Planet datasheets, which
LibreOffice's and gLabels' template databases agree with to within 0.1 mm). Each A4
and Letter sheet sums back to its page size, which is how the margins were checked.
"""

from labels.errors import LabelError
from labels.schemas import LabelTemplate

A4_MM = (210.0, 297.0)
US_LETTER_MM = (215.9, 279.4)
INCH_MM = 25.4

TEMPLATES: dict[str, LabelTemplate] = {
    template.name: template
    for template in (
        LabelTemplate(
            name="avery-l7160",
            description="Avery L7160, A4, 21 labels 63.5 x 38.1 mm (3 x 7)",
            page_width_mm=A4_MM[0],
            page_height_mm=A4_MM[1],
            columns=3,
            rows=7,
            label_width_mm=63.5,
            label_height_mm=38.1,
            left_margin_mm=7.25,
            top_margin_mm=15.15,
            horizontal_pitch_mm=66.0,
            vertical_pitch_mm=38.1,
            corner_radius_mm=1.5,
        ),
        LabelTemplate(
            name="avery-l7163",
            description="Avery L7163, A4, 14 labels 99.1 x 38.1 mm (2 x 7)",
            page_width_mm=A4_MM[0],
            page_height_mm=A4_MM[1],
            columns=2,
            rows=7,
            label_width_mm=99.1,
            label_height_mm=38.1,
            left_margin_mm=4.65,
            top_margin_mm=15.15,
            horizontal_pitch_mm=101.6,
            vertical_pitch_mm=38.1,
            corner_radius_mm=1.5,
        ),
        LabelTemplate(
            name="avery-l7651",
            description="Avery L7651, A4, 65 mini labels 38.1 x 21.2 mm (5 x 13)",
            page_width_mm=A4_MM[0],
            page_height_mm=A4_MM[1],
            columns=5,
            rows=13,
            label_width_mm=38.1,
            label_height_mm=21.2,
            left_margin_mm=4.75,
            top_margin_mm=10.7,
            horizontal_pitch_mm=40.6,
            vertical_pitch_mm=21.2,
            corner_radius_mm=1.5,
            # A 1.5 mm inset would cost the code a sixth of its size on so small a label.
            safe_inset_mm=1.0,
        ),
        LabelTemplate(
            name="avery-5160",
            description='Avery 5160, US Letter, 30 labels 2-5/8" x 1" (3 x 10)',
            page_width_mm=US_LETTER_MM[0],
            page_height_mm=US_LETTER_MM[1],
            columns=3,
            rows=10,
            label_width_mm=2.625 * INCH_MM,
            label_height_mm=1.0 * INCH_MM,
            left_margin_mm=0.1875 * INCH_MM,
            top_margin_mm=0.5 * INCH_MM,
            horizontal_pitch_mm=2.75 * INCH_MM,
            vertical_pitch_mm=1.0 * INCH_MM,
            corner_radius_mm=0.0625 * INCH_MM,
        ),
        LabelTemplate(
            name="brother-62x29",
            description="Brother DK-11209, die-cut 62 x 29 mm, one label per page",
            page_width_mm=62.0,
            page_height_mm=29.0,
            columns=1,
            rows=1,
            label_width_mm=62.0,
            label_height_mm=29.0,
            left_margin_mm=0.0,
            top_margin_mm=0.0,
            horizontal_pitch_mm=62.0,
            vertical_pitch_mm=29.0,
            corner_radius_mm=1.5,
        ),
        LabelTemplate(
            name="brother-62",
            description="Brother DK-22205, continuous 62 mm roll, one label per page, "
            "at least 29 mm long and longer when the content needs it",
            page_width_mm=62.0,
            page_height_mm=29.0,
            columns=1,
            rows=1,
            label_width_mm=62.0,
            label_height_mm=29.0,
            left_margin_mm=0.0,
            top_margin_mm=0.0,
            horizontal_pitch_mm=62.0,
            vertical_pitch_mm=29.0,
            continuous=True,
        ),
    )
}


def find_template(name: str) -> LabelTemplate:
    try:
        return TEMPLATES[name]
    except KeyError:
        raise LabelError(
            f"unknown label template {name!r}; choose one of: {', '.join(sorted(TEMPLATES))}"
        ) from None
