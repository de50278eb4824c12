"""Label sheets for devices: the bridge between the stock and the `labels` package, which
knows nothing of devices. A label carries only the device's URL, which needs a staff login
to open: no personal data ever goes on a label."""

from collections.abc import Sequence

from sqlmodel import Session

from inventory.models import Device
from inventory.service import Invalid, find_devices, mark_labelled, unlabelled_devices
from labels import Label, qr_png, qr_svg, render_alignment_page, render_sheet
from lending.printing.schemas import LabelRequest
from lending.settings import Settings


def device_url(settings: Settings, asset_tag: str) -> str:
    return f"{settings.base_url}/d/{asset_tag}"


def device_label(settings: Settings, device: Device) -> Label:
    return Label(payload=device_url(settings, device.asset_tag), title=device.asset_tag,
                 lines=[f"{device.kind.title()} · {device.make} {device.model}",
                        settings.organisation])


def print_labels(session: Session, settings: Settings, request: LabelRequest
                 ) -> tuple[bytes, int]:
    """A PDF sheet of labels, and how many; the devices are recorded as labelled."""
    devices: Sequence[Device] = (
        unlabelled_devices(session) if request.unlabelled else find_devices(session,
                                                                            request.tags))
    if not devices:
        raise Invalid("every device already has a label", "unlabelled")
    if len(devices) > settings.max_labels_per_request:
        raise Invalid(f"{len(devices)} labels asked for; at most "
                      f"{settings.max_labels_per_request} print in one request", "tags")
    pdf = render_sheet([device_label(settings, device) for device in devices],
                       request.template, start=request.start,
                       offset_mm=settings.label_offsets.get(request.template, (0.0, 0.0)))
    mark_labelled(session, devices)
    return pdf, len(devices)


def alignment_page(settings: Settings, template: str) -> bytes:
    return render_alignment_page(template, offset_mm=settings.label_offsets.get(
        template, (0.0, 0.0)))


def device_qr_svg(settings: Settings, asset_tag: str) -> str:
    return qr_svg(device_url(settings, asset_tag))


def device_qr_png(settings: Settings, asset_tag: str) -> bytes:
    return qr_png(device_url(settings, asset_tag))
