"""The staff web UI: pages for the desk and for managers, over the same services as the API."""

from typing import Any

from lending.web.api import csrf_config, template_config
from lending.web.api import route_handlers as desk_route_handlers
from lending.web.reports_page import report_pages


def route_handlers() -> list[Any]:
    return [*desk_route_handlers(), report_pages()]


__all__ = ["csrf_config", "route_handlers", "template_config"]
