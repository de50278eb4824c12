"""The staff web UI: server-rendered pages for the desk and for managers, one module per
domain. Thin, like the API: every page reads and every form writes through the same service
functions as the HTTP API, and validates through the same schemas; what is here is only
presentation: which page, which fields, which words, and where to go next. The templates
and static files live in `lending/web`."""

from pathlib import Path
from typing import Any

from litestar import Router
from litestar.exceptions import HTTPException
from litestar.static_files import create_static_files_router

from inventory.service import InventoryError
from lending.accounts.api import role_guard
from lending.pages.admin import AccountPages, AdminPages
from lending.pages.desk import DeskPages
from lending.pages.devices import DevicePages
from lending.pages.labels import LabelPages
from lending.pages.loans import IssuePages, LoanPages
from lending.pages.manage import ManagerPages
from lending.pages.messages import MessagePages
from lending.pages.recipients import RecipientPages
from lending.pages.rendering import csrf_config, html_error, template_config
from lending.pages.reports import ReportPages
from lending.pages.sessions import SessionPages
from lending.pages.stocktakes import StocktakePages
from lending.pages.vouchers import VoucherPages

STATIC_DIR = Path(__file__).parent.parent / "web" / "static"

__all__ = ["csrf_config", "html_error", "route_handlers", "template_config"]


def route_handlers() -> list[Any]:
    pages = Router(path="/", route_handlers=[SessionPages, DeskPages, DevicePages, IssuePages,
                                             RecipientPages, LoanPages, LabelPages,
                                             StocktakePages, ReportPages, AccountPages,
                                             AdminPages, ManagerPages, VoucherPages,
                                             MessagePages],
                   guards=[role_guard], include_in_schema=False,
                   exception_handlers={HTTPException: html_error, InventoryError: html_error,
                                       Exception: html_error})
    static = create_static_files_router(path="/static", directories=[STATIC_DIR],
                                        include_in_schema=False)
    return [pages, static]
