"""The staff pages in a real browser, against a real server, on SQLite and PostgreSQL."""

import re

import pytest
from playwright.sync_api import Page, expect

from inventory import service as inventory
from inventory.schemas import StatusChange
from lending.db import session_for
from tests.web.conftest import PASSWORD, add_device, sign_in

pytestmark = pytest.mark.browser

BANNER = ".govuk-notification-banner"
VALID_IMEI = "490154203237518"
MISTYPED_IMEI = "490154203237519"


def test_signing_in_refuses_a_wrong_password_then_lets_the_right_one_in(page: Page,
                                                                       staff_user):
    sign_in(page, staff_user, "not the password")
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "email and password do not match an active account")
    expect(page.locator("#f-password-error")).to_contain_text("do not match")
    expect(page.get_by_label("Email")).to_have_value(staff_user)
    # An unknown email gets the very same words: no hint of who has an account.
    sign_in(page, "nobody@example.org", "not the password")
    expect(page.locator("#f-password-error")).to_contain_text(
        "email and password do not match an active account")

    sign_in(page, staff_user)
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_label("Scan or type a tag")).to_be_focused()
    cookie = next(c for c in page.context.cookies() if c["name"] == "lending_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Lax"


def test_a_label_opened_signed_out_asks_for_a_login_then_shows_the_device(page: Page, engine,
                                                                          office, staff_user):
    tag = add_device(engine, serial_number="PF-SECRET-1")
    page.goto(f"/d/{tag}")
    expect(page).to_have_url(re.compile(rf"/login\?next=(/|%2F)d(/|%2F){tag}$"))
    assert "ThinkPad" not in page.content() and "PF-SECRET-1" not in page.content()

    page.get_by_label("Email").fill(staff_user)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page).to_have_url(re.compile(rf"/d/{tag}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Lenovo ThinkPad E14")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Available")


def test_the_login_form_never_sends_anyone_to_another_site(page: Page, staff_user):
    sign_in(page, staff_user, path="/login?next=//evil.example/steal")
    expect(page).to_have_url(re.compile(r"127\.0\.0\.1:\d+/$"))


def test_scanning_a_label_url_into_the_home_box_opens_the_device(page: Page, engine, office,
                                                                 staff_user, settings):
    tag = add_device(engine)
    sign_in(page, staff_user)
    # A USB scanner types the label's URL and Enter into the focused box.
    page.keyboard.type(f"{settings.base_url}/d/{tag}")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(rf"/d/{tag}$"))

    page.goto("/")
    page.get_by_label("Scan or type a tag").fill(tag.replace("-", "")[:-1] + "Z")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_contain_text("probably mistyped")


def test_a_new_device_with_a_mistyped_imei_is_refused_beside_the_field(page: Page, office,
                                                                       staff_user):
    sign_in(page, staff_user)
    page.goto("/devices/new")
    page.get_by_label("Kind").select_option("phone")
    page.get_by_label("Make").fill("Samsung")
    page.get_by_label("Model").fill("Galaxy A15")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_label("IMEI", exact=False).first.fill(MISTYPED_IMEI)
    page.get_by_role("button", name="Add device").click()

    error = page.locator("#f-imei-error")
    expect(error).to_contain_text("IMEI")
    expect(error).to_contain_text("check digit")
    expect(page.locator(".govuk-error-summary")).to_be_focused()
    expect(page.locator("#f-imei")).to_have_attribute("aria-invalid", "true")
    expect(page.locator("#f-make")).to_have_value("Samsung")

    page.locator("#f-imei").fill(VALID_IMEI)
    page.get_by_role("button", name="Add device").click()
    expect(page).to_have_url(re.compile(r"/d/\d{5}-[A-Z]$"))
    expect(page.locator(BANNER)).to_contain_text("Added Samsung Galaxy A15")
    expect(page.locator("main")).to_contain_text(VALID_IMEI)


def test_recording_a_wipe_puts_a_returned_phone_back_in_stock(page: Page, engine, office,
                                                             staff_user):
    tag = add_device(engine, kind="phone", make="Google", model="Pixel 7a", imei=VALID_IMEI)
    with session_for(engine, actor="test") as session:
        inventory.change_status(session, tag, StatusChange(status="in_repair"))
        inventory.change_status(session, tag, StatusChange(status="awaiting_wipe"))
    sign_in(page, staff_user, path=f"/login?next=/d/{tag}")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Awaiting wipe")
    page.get_by_label("Wipe method").select_option("factory_reset")
    page.get_by_role("button", name="Record wipe").click()
    # A phone goes back only once its account lock is off: said beside the checkbox.
    expect(page.locator("#f-account-lock-removed-error")).to_contain_text("account lock")

    page.get_by_label("The Google or Apple account lock has been removed").check()
    page.get_by_role("button", name="Record wipe").click()
    expect(page.locator(BANNER)).to_contain_text("Wipe recorded")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Available")
    expect(page.locator("section", has_text="Wipes").locator("tbody")).to_contain_text(
        "Factory reset")
    expect(page.locator(".moj-timeline")).to_contain_text("Awaiting wipe → Available")


def test_an_import_lists_every_bad_row_by_line_and_field_then_imports_a_good_file(
        page: Page, office, staff_user):
    bad = ("kind,make,model,location,imei\n"
           f"phone,Samsung,A15,LDN,{MISTYPED_IMEI}\n"
           "toaster,Dualit,Classic,LDN,\n"
           "laptop,,E14,LDN,\n"
           "laptop,Lenovo,E14,NOWHERE,\n").encode()
    sign_in(page, staff_user)
    page.goto("/devices/import")
    page.get_by_label("CSV file").set_input_files(
        {"name": "stock.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="Import").click()
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Nothing was imported: 4 problems in stock.csv")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(4)
    expect(rows.nth(0)).to_contain_text("2")
    expect(rows.nth(0)).to_contain_text("imei")
    expect(rows.nth(1)).to_contain_text("kind")
    expect(rows.nth(2)).to_contain_text("make")
    expect(rows.nth(3)).to_contain_text("No location has the code")

    # Header names as a spreadsheet may have them: any case, spaces for underscores.
    good = (f"Kind,Make, Model ,LOCATION,IMEI\nphone,Samsung,A15,LDN,{VALID_IMEI}\n"
            "laptop,Lenovo,E14,LDN,\n").encode()
    page.get_by_label("CSV file").set_input_files(
        {"name": "stock.csv", "mimeType": "text/csv", "buffer": good})
    page.get_by_role("button", name="Import").click()
    expect(page).to_have_url(re.compile(r"/devices$"))
    expect(page.locator(BANNER)).to_contain_text("Imported 2 devices")
    expect(page.locator("table tbody tr")).to_have_count(2)


def test_an_import_shows_every_problem_of_one_row_in_plain_words(page: Page, office,
                                                                  staff_user):
    bad = (b"kind,make,model,location,purchase_cost,purchased_on,condition\n"
           b"laptop,Lenovo,E14,LDN,,,A\n"
           b"tablet,,Tab 9,MARS,cheap,2026-13-01,Z\n")
    sign_in(page, staff_user)
    page.goto("/devices/import")
    page.get_by_label("CSV file").set_input_files(
        {"name": "stock.csv", "mimeType": "text/csv", "buffer": bad})
    page.get_by_role("button", name="Import").click()
    expect(page).to_have_title(re.compile(r"^Error: "))
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Nothing was imported: 5 problems in stock.csv")
    rows = page.locator("table tbody tr")
    expect(rows).to_have_count(5)
    expected = [("make", "The make is missing"),
                ("purchased_on", "The purchase date must be a date written year-month-day, "
                                 "like 2026-03-27"),
                ("purchase_cost", "The purchase cost must be a number, like 129.99"),
                ("condition", "The condition must be A, B, C or D"),
                ("location", "No location has the code 'MARS'")]
    for index, (column, words) in enumerate(expected):
        expect(rows.nth(index).locator("td").nth(0)).to_have_text("3")
        expect(rows.nth(index).locator("td").nth(1)).to_have_text(column)
        expect(rows.nth(index).locator("td").nth(2)).to_contain_text(words)
    expect(page.locator("table")).not_to_contain_text("Input should")


def test_a_recipient_is_added_lent_a_laptop_and_hands_it_back(page: Page, engine, office,
                                                             staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user)
    page.goto("/recipients/new")
    page.get_by_label("Name").fill("Sam Example")
    page.get_by_label("Mobile number").fill("12345")
    page.get_by_label("Office").select_option("LDN")
    suitable = page.get_by_role("group", name="Do they have a suitable laptop")
    suitable.get_by_label("No", exact=True).check()
    page.get_by_role("button", name="Add recipient").click()
    expect(page.locator("#f-mobile-error")).to_contain_text("Not a valid UK mobile number")

    page.get_by_label("Mobile number").fill("07911 123456")
    page.get_by_role("button", name="Add recipient").click()
    expect(page.locator(BANNER)).to_contain_text("Added Sam Example")
    expect(page.locator("main")).to_contain_text("07911 123456")

    page.get_by_label("Scan or type the device's tag").fill(tag)
    page.keyboard.press("Enter")
    decision = page.locator("#f-decision")
    expect(decision).to_contain_text("Eligible")
    expect(decision).to_contain_text("No suitable device of their own")
    page.get_by_label("Handed over with it").fill("charger, sleeve")
    page.get_by_role("button", name="Continue").click()
    # Check your answers, with the agreement to print, before anything is lent.
    expect(page.get_by_role("heading", level=1)).to_have_text("Check the loan before you lend")
    expect(page.locator(".govuk-summary-list")).to_contain_text("charger, sleeve")
    page.get_by_role("button", name=f"Lend {tag}").click()
    expect(page.locator("#f-agreement-accepted-error")).to_contain_text("agreement")

    page.get_by_label("Sam Example has read and accepted the loan agreement").check()
    page.get_by_role("button", name=f"Lend {tag}").click()
    expect(page.locator(BANNER)).to_contain_text(f"{tag} lent to Sam Example, due back")

    page.goto(f"/d/{tag}")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("On loan")
    page.get_by_label("B: light wear").check()
    page.get_by_label("sleeve").check()
    page.get_by_role("button", name="Take it back").click()
    expect(page.locator(BANNER)).to_contain_text(
        f"{tag} returned by Sam Example: record its wipe")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Awaiting wipe")

    page.goto("/loans?status=returned")
    expect(page.locator("tbody")).to_contain_text("Sam Example")


def test_a_manager_overrides_a_refusal_with_a_written_reason(page: Page, engine, office,
                                                            manager_user):
    tag = add_device(engine)
    sign_in(page, manager_user)
    page.goto("/recipients/new")
    page.get_by_label("Name").fill("Alex Example")
    page.get_by_label("Office").select_option("LDN")
    page.get_by_role("group", name="Do they have a suitable laptop").get_by_label(
        "Yes", exact=True).check()
    page.get_by_role("group", name="referred by their probation").get_by_label(
        "No", exact=True).check()
    page.get_by_role("button", name="Add recipient").click()
    page.get_by_label("Scan or type the device's tag").fill(tag)
    page.keyboard.press("Enter")
    expect(page.locator("#f-decision")).to_contain_text("Not eligible")
    expect(page.locator("#f-decision")).to_contain_text("No need shown for a laptop")

    page.get_by_label("Reason for overriding").fill("Their own laptop was stolen last week.")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Alex Example has read and accepted the loan agreement").check()
    page.get_by_role("button", name=f"Lend {tag}").click()
    expect(page.locator(BANNER)).to_contain_text(f"{tag} lent to Alex Example")


def test_retiring_a_device_asks_first(page: Page, engine, office, staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user, path=f"/login?next=/d/{tag}")
    page.get_by_label("What has happened to it?").select_option("retired")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text(f"Retire: {tag}?")
    page.get_by_role("link", name="No, go back").click()
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Available")

    page.get_by_label("What has happened to it?").select_option("retired")
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Why?").fill("Screen cracked beyond repair")
    page.get_by_role("button", name="Yes, retire").click()
    expect(page.locator(BANNER)).to_contain_text(f"{tag} is now retired")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Retired")


def test_a_forged_post_without_the_csrf_token_is_refused(page: Page, engine, office,
                                                         staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user)
    forged = page.evaluate("""async (tag) => {
        const post = (body) => fetch(`/d/${tag}/status`, {method: "POST", body,
            headers: {"Content-Type": "application/x-www-form-urlencoded"}});
        const none = await post("status=retired");
        const wrong = await post("status=retired&_csrf_token=" + "ab".repeat(64));
        return [none.status, wrong.status];
    }""", tag)
    assert forged == [403, 403]
    page.goto(f"/d/{tag}")
    expect(page.locator(".device-head .govuk-tag")).to_have_text("Available")


def test_signing_out_ends_the_session(page: Page, engine, office, staff_user):
    tag = add_device(engine)
    sign_in(page, staff_user)
    session_cookie = next(c for c in page.context.cookies() if c["name"] == "lending_session")
    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(re.compile(r"/login$"))
    expect(page.locator(BANNER)).to_contain_text("You have signed out")

    # The old cookie, put back, opens nothing: the session itself has ended.
    page.context.add_cookies([session_cookie])
    page.goto(f"/d/{tag}")
    expect(page).to_have_url(re.compile(r"/login\?next="))


def test_lists_search_filter_and_page(page: Page, engine, office, staff_user):
    for number in range(30):
        add_device(engine, model=f"E14 unit {number}", serial_number=f"SN-{number:03d}")
    add_device(engine, kind="tablet", make="Apple", model="iPad 10")
    sign_in(page, staff_user)
    page.goto("/devices")
    expect(page.locator("main")).to_contain_text("Showing 1 to 25 of 31 devices")
    page.get_by_role("link", name="Next page").click()
    expect(page.locator("tbody tr")).to_have_count(6)

    page.get_by_label("Kind").select_option("tablet")
    page.get_by_role("button", name="Apply filters").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody")).to_contain_text("iPad 10")

    page.goto("/devices?q=no-such-thing")
    expect(page.locator("main")).to_contain_text("No devices match")
