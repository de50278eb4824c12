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
from lending.db import session_for
from lending.printing.service import device_url
from lending.stocktakes import service as stocktakes
from lending.stocktakes.schemas import StocktakeStart
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
    # Waits for camera.js: the button is drawn (govuk-button) before the script runs.
    expect(start).to_have_attribute("data-decoder", "jsqr")
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


def test_the_camera_counts_labels_into_an_open_stocktake(camera_page: Page, engine, tag,
                                                         staff_user):
    """From an open stocktake, "Count with the camera": the label read is posted as a count,
    answered as the scan box answers, and the camera carries on without posting the label
    still in view again; the count shows on the stocktake's page."""
    with session_for(engine, actor="test") as session:
        stocktake_id = stocktakes.start_stocktake(session, StocktakeStart(location="LDN")).id
    other = add_device(engine, make="Dell", model="Latitude 3440")
    page = camera_page
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text)
            if "Content Security Policy" in message.text else None)
    counts: list[str] = []
    page.on("request", lambda request: counts.append(request.url)
            if request.method == "POST" and request.url.endswith("/camera") else None)

    sign_in(page, staff_user, path=f"/login?next=/stocktakes/{stocktake_id}")
    page.get_by_role("link", name="Count with the camera").click()
    expect(page).to_have_url(re.compile(rf"/stocktakes/{stocktake_id}/camera$"))
    start = page.get_by_role("button", name="Start the camera")
    # Waits for camera.js: the button is drawn (govuk-button) before the script runs.
    expect(start).to_have_attribute("data-decoder", "jsqr")
    start.click()

    answer = page.locator(".scan-result")
    expect(answer).to_have_class(re.compile("scan-green"))
    expect(answer).to_contain_text(f"{tag} counted: Google Pixel 7a")
    expect(page.locator("main")).to_contain_text("1 device scanned so far")
    # The camera starts again by itself for the next label; the one still in view is not
    # posted again.
    expect(page.locator("#camera-status")).to_contain_text("Looking for the next label")
    page.wait_for_timeout(3000)
    assert len(counts) == 1, counts
    expect(answer).not_to_contain_text("Already counted")

    # Typing a tag under the camera counts it the same way.
    page.get_by_label("Or type the tag").fill(other)
    page.get_by_role("button", name="Count it").click()
    expect(answer).to_contain_text(f"{other} counted: Dell Latitude 3440")
    expect(page.locator("main")).to_contain_text("2 devices scanned so far")

    page.goto(f"/stocktakes/{stocktake_id}")
    expect(page.locator("main")).to_contain_text("2 devices scanned so far")
    expect(page.get_by_role("table")).to_contain_text(tag)
    assert not refused, refused


def test_the_camera_counts_nothing_into_a_closed_stocktake(camera_page: Page, engine, tag,
                                                           staff_user):
    with session_for(engine, actor="test") as session:
        stocktake_id = stocktakes.start_stocktake(session, StocktakeStart(location="LDN")).id
        stocktakes.close_stocktake(session, stocktake_id)
    sign_in(camera_page, staff_user, path=f"/login?next=/stocktakes/{stocktake_id}/camera")
    expect(camera_page.locator("main")).to_contain_text("This stocktake is closed")
    expect(camera_page.get_by_role("button", name="Start the camera")).to_have_count(0)
    response = camera_page.request.get(f"/stocktakes/{stocktake_id + 1000}/camera")
    assert response.status == 404
