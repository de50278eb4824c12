"""QR matrices, label templates and label sheet PDFs.

Knows nothing of devices: it is handed a payload (a URL) and caption lines per label.
"""

from labels.errors import LabelError
from labels.schemas import Label, LabelTemplate
from labels.service import qr_matrix, qr_png, qr_svg, render_alignment_page, render_sheet
from labels.templates import TEMPLATES

__all__ = [
    "TEMPLATES",
    "Label",
    "LabelError",
    "LabelTemplate",
    "qr_matrix",
    "qr_png",
    "qr_svg",
    "render_alignment_page",
    "render_sheet",
]
