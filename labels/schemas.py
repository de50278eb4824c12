"""What the labels package is handed (a Label) and what it prints on (a LabelTemplate)."""

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Label:
    """One printed label: a QR code for `payload` and its caption.

    `title` is the asset tag, printed large because staff read it by eye when the
    camera fails; `lines` are smaller captions such as "Laptop · Lenovo T14".
    """

    payload: str
    title: str
    lines: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class LabelTemplate:
    """The geometry of a label stock, in millimetres, measured from the page's top-left.

    Pitches are label-to-label distances (label size plus gap). A continuous roll has
    one label per page whose height grows with its content from `label_height_mm`.
    """

    name: str
    description: str
    page_width_mm: float
    page_height_mm: float
    columns: int
    rows: int
    label_width_mm: float
    label_height_mm: float
    left_margin_mm: float
    top_margin_mm: float
    horizontal_pitch_mm: float
    vertical_pitch_mm: float
    corner_radius_mm: float = 0.0
    # Die-cut and feed tolerances: nothing is drawn within this distance of a label edge.
    safe_inset_mm: float = 1.5
    continuous: bool = False

    @property
    def labels_per_page(self) -> int:
        return self.columns * self.rows

    def cell_top_left_mm(self, position: int) -> tuple[float, float]:
        """The top-left corner of the cell at a 0-based position on the page, row by row."""
        row, column = divmod(position, self.columns)
        return (
            self.left_margin_mm + column * self.horizontal_pitch_mm,
            self.top_margin_mm + row * self.vertical_pitch_mm,
        )
