"""HTTP routes for the manager reports. Thin: the figures come from `lending.reports.service`.
Managers and admins only."""

from datetime import date
from typing import Annotated

from litestar import Controller, get
from litestar.datastructures import State
from litestar.params import FromPath, QueryParameter
from litestar.response import Response
from sqlmodel import Session

from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.accounts.models import Role
from lending.reports import service, stored
from lending.reports.pdf import render_pdf
from lending.reports.schemas import StockReport, StoredReport

Location = Annotated[str | None, QueryParameter(max_length=16, description="a location code")]
From = Annotated[date | None, QueryParameter(name="from", description="first day (default: "
                                             "27 days before `to`)")]
To = Annotated[date | None, QueryParameter(name="to", description="last day (default: today)")]


def stock_report(db_session: Session, state: State, location: str | None,
                 date_from: date | None, date_to: date | None) -> StockReport:
    settings = state.settings
    scope = service.report_scope(db_session, settings.today(), settings.zone, location,
                                 date_from, date_to)
    return service.build_stock_report(db_session, scope, state.policy.stock)


def _filename(report: StockReport, extension: str) -> str:
    where = f"-{report.period.location}" if report.period.location else ""
    return (f"stock-report{where}-{report.period.date_from}-to-{report.period.date_to}"
            f".{extension}")


class ReportController(Controller):
    path = "/reports"
    tags = ["reports"]
    opt = {"role": Role.manager}

    @get("/", sync_to_thread=True)
    def list_stored_reports(self, state: State, limit: Limit = 50, offset: Offset = 0
                            ) -> Page[StoredReport]:
        """The weekly reports the scheduler has written, newest first."""
        settings = state.settings
        reports = stored.list_stored_reports(settings.reports_folder, settings.zone)
        return Page[StoredReport](items=reports[offset:offset + limit], total=len(reports),
                                  limit=limit, offset=offset)

    @get("/{name:str}", sync_to_thread=True, media_type="application/pdf")
    def get_stored_report(self, state: State, name: FromPath[str]) -> Response[bytes]:
        """One weekly report's PDF, by the name the list gives."""
        pdf = stored.read_stored_report(state.settings.reports_folder, name)
        return Response(pdf, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{name}"'})

    @get("/stock", sync_to_thread=True)
    def get_stock_report(self, db_session: DbSession, state: State, location: Location = None,
                         date_from: From = None, date_to: To = None) -> StockReport:
        return stock_report(db_session, state, location, date_from, date_to)

    @get("/stock.csv", sync_to_thread=True, media_type="text/csv")
    def get_stock_report_csv(self, db_session: DbSession, state: State,
                             location: Location = None, date_from: From = None,
                             date_to: To = None) -> Response[str]:
        report = stock_report(db_session, state, location, date_from, date_to)
        return Response(service.render_csv(report), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition":
                                 f'attachment; filename="{_filename(report, "csv")}"'})

    @get("/stock.pdf", sync_to_thread=True, media_type="application/pdf")
    def get_stock_report_pdf(self, db_session: DbSession, state: State,
                             location: Location = None, date_from: From = None,
                             date_to: To = None) -> Response[bytes]:
        report = stock_report(db_session, state, location, date_from, date_to)
        return Response(render_pdf(report, state.settings.organisation),
                        media_type="application/pdf",
                        headers={"Content-Disposition":
                                 f'inline; filename="{_filename(report, "pdf")}"'})
