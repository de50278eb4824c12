"""Security headers on every response, and an OpenAPI page that loads nothing from other
sites.

The headers are added by a `before_send` hook, which sees every response the app sends
(errors and unknown paths included), not only those of a route handler.
"""

from pathlib import Path
from typing import Any

from litestar import Request
from litestar.datastructures import MutableScopeHeaders
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.static_files import create_static_files_router
from litestar.types import Message, Scope

# No inline script anywhere: the pages' script is /static/app.js, Swagger UI's is served
# from this service too. Nothing may frame the service.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'")
# Swagger UI sets style attributes from its script; scripts stay 'self' only.
SCHEMA_CONTENT_SECURITY_POLICY = CONTENT_SECURITY_POLICY.replace(
    "style-src 'self'", "style-src 'self' 'unsafe-inline'")
HSTS = "max-age=31536000; includeSubDomains"
SWAGGER_ASSETS = "/static/swagger"
# Static files hold no personal data and may be cached; everything else may show some.
CACHEABLE_PREFIXES = ("/static/",)


async def add_security_headers(message: Message, scope: Scope) -> None:
    if message["type"] != "http.response.start":
        return
    headers = MutableScopeHeaders.from_message(message)
    path = scope.get("path", "")
    headers["Content-Security-Policy"] = (SCHEMA_CONTENT_SECURITY_POLICY
                                          if path.startswith("/schema")
                                          else CONTENT_SECURITY_POLICY)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["X-Frame-Options"] = "DENY"
    headers["Referrer-Policy"] = "same-origin"
    if scope.get("scheme") == "https":
        headers["Strict-Transport-Security"] = HSTS
    if not path.startswith(CACHEABLE_PREFIXES):
        headers["Cache-Control"] = "no-store"


def _swagger_directory() -> Path:
    from swagger_ui_bundle import swagger_ui_path
    return Path(swagger_ui_path)


def swagger_assets_router():
    """Swagger UI's files, from the swagger-ui-bundle package: nothing is fetched from a
    CDN, at build time or at run time."""
    return create_static_files_router(path=SWAGGER_ASSETS, directories=[_swagger_directory()],
                                      opt={"exclude_from_auth": True},
                                      include_in_schema=False)


class LocalSwaggerRenderPlugin(SwaggerRenderPlugin):
    """Swagger UI from this service's own files, started by a script file rather than an
    inline script, so the page keeps to the Content-Security-Policy."""

    def __init__(self) -> None:
        super().__init__(js_url=f"{SWAGGER_ASSETS}/swagger-ui-bundle.js",
                         css_url=f"{SWAGGER_ASSETS}/swagger-ui.css",
                         standalone_preset_js_url=(
                             f"{SWAGGER_ASSETS}/swagger-ui-standalone-preset.js"))

    def render(self, request: Request, openapi_schema: dict[str, Any]) -> bytes:
        title = openapi_schema["info"]["title"]
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
  <title>{title}</title>
  <meta charset="utf-8">
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <link href="{self.css_url}" rel="stylesheet">
  <script src="{self.js_url}"></script>
  <script src="{self.standalone_preset_js_url}"></script>
  <script src="/static/swagger-start.js" defer></script>
</head>
<body><div id="swagger-container"></div></body>
</html>""".encode()
