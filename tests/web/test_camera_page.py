"""The camera page reads a real label through Chromium's fake camera: a y4m video made from
the QR code the `labels` package draws for a device, decoded by jsQR where the browser has
no BarcodeDetector, under the service's own Content-Security-Policy."""

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from playwright.sync_api import Browser, Page, expect

from labels import qr_png
from lending.printing.service import device_url
from tests.web.conftest import BROWSER_TIMEOUT_MS, CHROMIUM, CHROMIUM_ARGS, add_device, sign_in

pytestmark = pytest.mark.browser

WIDTH, HEIGHT = 640, 480


def label_video(payload: str, path: Path, frames: int = 4) -> Path:
    """A still video (YUV4MPEG2, 4:2:0) of the label's QR code on white, as a camera held
    over the label would see it."""
    code = Image.open(io.BytesIO(qr_png(payload, scale=8))).convert("L")
    frame = Image.new("L", (WIDTH, HEIGHT), 255)
    frame.paste(code, ((WIDTH - code.width) // 2, (HEIGHT - code.height) // 2))
    luma = frame.tobytes()
    chroma = bytes([128]) * (WIDTH // 2 * HEIGHT // 2)
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{WIDTH} H{HEIGHT} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)
    return path


@pytest.fixture
def tag(engine, office) -> str:
    return add_device(engine, kind="phone", make="Google", model="Pixel 7a")


@pytest.fixture
def camera_page(browser: Browser, server, settings, tag, tmp_path) -> Iterator[Page]:
    """A page in a Chromium whose camera films the device's label; the page's CSP holds
    (no bypass), and the browser's own BarcodeDetector is taken away where it has one."""
    video = label_video(device_url(settings, tag), tmp_path / "label.y4m")
    chromium = browser.browser_type.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + [
        "--use-fake-ui-for-media-stream", "--use-fake-device-for-media-stream",
        f"--use-file-for-fake-video-capture={video}"])
    context = chromium.new_context(base_url=server.url, viewport={"width": 390, "height": 800})
    context.set_default_timeout(BROWSER_TIMEOUT_MS)
    context.grant_permissions(["camera"], origin=server.url)
    context.add_init_script("delete window.BarcodeDetector;")
    try:
        yield context.new_page()
    finally:
        context.close()
        chromium.close()


def test_the_camera_reads_a_label_with_the_fallback_decoder_and_opens_the_device(
        camera_page: Page, tag, staff_user):
    page = camera_page
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    fetched: list[str] = []
    page.on("request", lambda request: fetched.append(request.url))

    sign_in(page, staff_user, path="/login?next=/scan/camera")
    start = page.get_by_role("button", name="Start the camera")
    expect(start).to_be_visible()
    assert start.get_attribute("data-decoder") == "jsqr"
    start.click()
    expect(page).to_have_url(re.compile(rf"/d/{re.escape(tag)}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Google Pixel 7a")
    assert any(url.endswith("/static/jsqr.js") for url in fetched), fetched
    assert not refused, refused


def test_the_decoder_is_served_from_this_site(camera_page: Page, server, staff_user):
    response = camera_page.request.get(f"{server.url}/static/jsqr.js")
    assert response.status == 200
    assert response.headers["content-type"].startswith(("text/javascript",
                                                        "application/javascript"))
    assert "jsQR" in response.text()
