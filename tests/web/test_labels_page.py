"""Printing QR labels from the staff pages; the labels scan back to the device pages."""

import pypdfium2
import pytest
import zxingcpp
from playwright.sync_api import Page, expect

from tests.web.conftest import add_device, sign_in

pytestmark = pytest.mark.browser


def codes_in(pdf: bytes) -> list[str]:
    texts = []
    for page in pypdfium2.PdfDocument(pdf):
        image = page.render(scale=300 / 72).to_pil().convert("L")
        texts += [code.text for code in zxingcpp.read_barcodes(image)]
    return texts


def keep_printed_pdfs(page: Page) -> list[bytes]:
    """The PDFs the server sends, as sent (the browser's viewer would show its own page)."""
    printed: list[bytes] = []

    def keep(route):
        response = route.fetch()
        if route.request.method == "POST" and response.headers.get(
                "content-type") == "application/pdf":
            printed.append(response.body())
        route.fulfill(response=response)

    page.route("**/labels", keep)
    return printed


def wait_until(page: Page, condition, seconds: float = 10) -> None:
    for _ in range(int(seconds * 20)):
        if condition():
            return
        page.wait_for_timeout(50)
    raise AssertionError("the PDF never arrived")


def test_labels_print_from_the_device_page_and_for_every_unlabelled_device(
        page: Page, engine, office, staff_user):
    tags = [add_device(engine, serial_number=f"SN-L{n}") for n in range(3)]
    sign_in(page, staff_user, path=f"/login?next=/d/{tags[0]}")
    expect(page.get_by_alt_text("QR code that opens this page")).to_be_visible()
    printed = keep_printed_pdfs(page)
    page.get_by_label("Print on").select_option("brother-62x29")
    page.get_by_role("button", name="Print label").click()
    wait_until(page, lambda: len(printed) == 1)
    # The test settings' LENDING_BASE_URL is http://testserver.
    assert [codes_in(pdf) for pdf in printed] == [[f"http://testserver/d/{tags[0]}"]]

    page.goto("/labels")
    page.get_by_role("button", name="Print labels (PDF)").click()
    expect(page.locator(".govuk-error-summary")).to_contain_text("name the devices to label")
    page.get_by_label("Label stock").select_option("avery-l7160")
    page.get_by_label("First free label").fill("30")
    page.get_by_label("Every device that has never had a label (2)").check()
    page.get_by_role("button", name="Print labels (PDF)").click()
    expect(page.locator("#f-start-error")).to_contain_text("between 1 and 21")

    page.get_by_label("First free label").fill("4")
    page.get_by_role("button", name="Print labels (PDF)").click()
    wait_until(page, lambda: len(printed) == 2)
    assert sorted(code.rsplit("/", 1)[1] for code in codes_in(printed[1])) == sorted(tags[1:])
