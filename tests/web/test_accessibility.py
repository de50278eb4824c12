"""Every page, and every form's error state, checked with axe-core (from npm, injected by
the test) at desk and phone widths, and for sideways scrolling at 320 px."""

from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.web.conftest import add_device, sign_in

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parent.parent.parent
AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
SERIOUS = ("serious", "critical")


def axe_violations(page: Page) -> list[dict]:
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the DevTools protocol, not as a <script>: the pages' CSP
        # (no inline script) would refuse a script tag, rightly.
        page.evaluate(AXE.read_text())
    found = page.evaluate("""async () => {
        const result = await axe.run(document, {resultTypes: ['violations']});
        return result.violations.map(v => ({id: v.id, impact: v.impact, help: v.help,
            nodes: v.nodes.slice(0, 3).map(n => n.target.join(' '))}));
    }""")
    return [v for v in found if v["impact"] in SERIOUS]


def check(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert not violations, f"{where}: {violations}"


def fits(page: Page, where: str) -> None:
    wider = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert wider <= 0, f"{where} is {wider}px wider than a 320px screen"


def pages_of(tag: str, recipient_id: int) -> list[str]:
    return ["/", "/devices", "/devices/new", "/devices/import", f"/d/{tag}",
            f"/d/{tag}/edit", f"/d/{tag}/status?to=retired", "/recipients", "/recipients/new",
            f"/recipients/{recipient_id}", f"/recipients/{recipient_id}/edit",
            f"/d/{tag}/issue?recipient_id={recipient_id}", "/loans", "/labels",
            "/scan/camera", "/d/99999-Z", "/waitlist", "/messages", "/audit", "/audit?since=soon",
            "/account/password"]


def add_recipient(page: Page) -> int:
    page.goto("/recipients/new")
    page.get_by_label("Name").fill("Sam Example")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_role("button", name="Add recipient").click()
    expect(page.locator(".govuk-notification-banner")).to_contain_text("Added Sam Example")
    return int(page.url.rsplit("/", 1)[1])


@pytest.mark.parametrize("width", [1280, 390])
def test_every_page_passes_axe(page: Page, engine, office, manager_user, width):
    assert AXE.exists(), "run `make install`: axe-core comes from npm"
    page.set_viewport_size({"width": width, "height": 900})
    tag = add_device(engine, kind="phone", make="Google", model="Pixel 7a")
    sign_in(page, manager_user)
    recipient_id = add_recipient(page)
    for path in pages_of(tag, recipient_id):
        page.goto(path)
        check(page, path)


@pytest.mark.parametrize("width", [1280, 390])
def test_every_error_state_passes_axe(page: Page, engine, office, manager_user, width):
    page.set_viewport_size({"width": width, "height": 900})
    tag = add_device(engine)
    sign_in(page, manager_user, "not the password")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    expect(page).to_have_title("Error: Sign in – " + page.title().split(" – ")[1])
    check(page, "sign-in error")
    sign_in(page, manager_user)
    recipient_id = add_recipient(page)
    for path, button in [("/devices/new", "Add device"), ("/recipients/new", "Add recipient"),
                         ("/labels", "Print labels (PDF)"),
                         (f"/recipients/{recipient_id}/edit", "Save changes"),
                         (f"/d/{tag}/edit", "Save changes"),
                         (f"/d/{tag}/status?to=retired", "Yes, retire")]:
        page.goto(path)
        if path.endswith("/edit"):
            page.locator("#f-name, #f-make").first.fill("")
        page.get_by_role("button", name=button).click()
        if "status" in path:
            # Retiring succeeds: wait for the page it lands on before axe reads it.
            expect(page.locator(".govuk-notification-banner")).to_contain_text("now retired")
        else:
            expect(page.locator(".govuk-error-summary")).to_contain_text("There is a problem")
            assert page.title().startswith("Error: "), path
        check(page, f"{path} with errors")


def test_no_page_is_wider_than_a_small_phone(page: Page, engine, office, manager_user):
    page.set_viewport_size({"width": 320, "height": 800})
    tag = add_device(engine, kind="phone", make="Google", model="Pixel 7a",
                     serial_number="A-VERY-LONG-SERIAL-NUMBER-0123456789")
    sign_in(page, manager_user)
    recipient_id = add_recipient(page)
    for path in pages_of(tag, recipient_id):
        page.goto(path)
        fits(page, path)
