"""The staff web UI: pages for the desk and for managers, over the same services as the API."""

from lending.web.api import csrf_config, route_handlers, template_config

__all__ = ["csrf_config", "route_handlers", "template_config"]
