"""The Reports page for managers: the stock report's figures, charts and tables, its
filters, and its three downloads. Thin: the figures come from `lending.reports.service`."""

from datetime import date
from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, get
from litestar.params import FromQuery
from litestar.response import Response

from inventory import service as inventory
from inventory.api import DbSession
from inventory.service import Invalid, InventoryError
from lending.accounts.models import Role
from lending.pages.forms import date_from_parts, date_message
from lending.pages.rendering import render
from lending.reports import service, stored
from lending.reports.charts import report_charts


def _day(value: str, field: str) -> date | None:
    """A filter's date, typed in the date input's boxes or given whole (YYYY-MM-DD)."""
    if not value.strip():
        return None
    try:
        return date.fromisoformat(value.strip())
    except ValueError as error:
        raise Invalid(date_message(field, value.strip()), field) from error


DAY_NAMES = {"mon": "Monday", "tue": "Tuesday", "wed": "Wednesday", "thu": "Thursday",
             "fri": "Friday", "sat": "Saturday", "sun": "Sunday"}


def _weekly_words(when: tuple[str, int, int] | None) -> str | None:
    """("mon", 7, 0) -> "Monday at 07:00"."""
    if when is None:
        return None
    day, hour, minute = when
    return f"{DAY_NAMES[day]} at {hour:02d}:{minute:02d}"


class ReportPages(Controller):
    path = "/reports"
    opt = {"role": Role.manager}

    @get("/", sync_to_thread=True)
    def reports(self, request: Request, db_session: DbSession, location: FromQuery[str] = "",
                date_from: FromQuery[str] = "", date_to: FromQuery[str] = "") -> Response:
        settings = request.app.state.settings
        typed = dict(request.query_params)
        date_from = date_from or date_from_parts(typed, "date_from")
        date_to = date_to or date_from_parts(typed, "date_to")
        values = {"location": location, "date_from": date_from, "date_to": date_to}
        errors: dict[str, str] = {}
        try:
            scope = service.report_scope(db_session, settings.today(), settings.zone,
                                         location.strip() or None,
                                         _day(date_from, "date_from"), _day(date_to, "date_to"))
        except InventoryError as error:
            errors[{"from": "date_from"}.get(error.field, error.field or "location")] = (
                error.message)
            scope = service.report_scope(db_session, settings.today(), settings.zone)
        report = service.build_stock_report(db_session, scope,
                                            request.app.state.policy.stock)
        query: dict[str, Any] = {"from": report.period.date_from.isoformat(),
                                 "to": report.period.date_to.isoformat()}
        if report.period.location:
            query["location"] = report.period.location
        return render(request, "reports.html", status_code=422 if errors else 200,
                      report=report, charts=report_charts(report), errors=errors,
                      values=values, query=urlencode(query),
                      filters=service.filters_line(report),
                      locations=inventory.list_locations(db_session),
                      stored_reports=stored.list_stored_reports(settings.reports_folder,
                                                                settings.zone),
                      weekly_time=_weekly_words(settings.weekly_report_time))

