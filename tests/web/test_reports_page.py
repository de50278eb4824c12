"""The Reports page's weekly reports, in a real browser: the empty state, then the list with
a link that downloads the PDF, with axe-core at each step."""

import re
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import Page, expect

from lending.scheduler import weekly_report_job
from tests.web.conftest import sign_in
from tests.web.test_accessibility import check

pytestmark = pytest.mark.browser

WEEK_NAME = "weekly-report-2026-11-23-to-2026-11-29.pdf"


def test_the_reports_page_lists_the_weekly_reports(page: Page, engine, settings, tmp_path,
                                                   office, manager_user):
    settings.reports_dir = str(tmp_path / "reports")
    sign_in(page, manager_user)
    page.goto("/reports")
    expect(page.get_by_role("heading", name="Weekly reports")).to_be_visible()
    expect(page.get_by_text("No weekly report has been written yet")).to_be_visible()
    check(page, "/reports with no weekly report")
    weekly_report_job(engine, settings)(datetime(2026, 11, 30, 7, 0,
                                                 tzinfo=ZoneInfo("Europe/London")))
    page.goto("/reports")
    link = page.get_by_role("link", name=re.compile(re.escape(WEEK_NAME)))
    expect(link).to_be_visible()
    expect(page.get_by_text("23 Nov 2026 to 29 Nov 2026")).to_be_visible()
    check(page, "/reports with a weekly report")
    response = page.request.get(link.get_attribute("href"))
    assert response.status == 200 and response.body().startswith(b"%PDF")
