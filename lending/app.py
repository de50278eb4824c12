"""The Litestar application: one factory, used by `lending serve`, the tests and benchmarks."""

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, Request, Router, get
from litestar.config.response_cache import ResponseCacheConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.middleware.base import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.response import Response
from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from eligibility import EligibilityError, load_policy
from inventory.api import DeviceController, LocationController
from inventory.service import InventoryError
from lending import errors
from lending.accounts.api import (
    MeController,
    RecentTokens,
    TokenAuthentication,
    UserController,
    role_guard,
)
from lending.audit import api as audit_api
from lending.db import database_answers, make_engine, session_for
from lending.decisions.api import EligibilityController
from lending.details import (
    RecipientDetailController,
    provide_device_extras,
    provide_move_by_hand,
)
from lending.headers import LocalSwaggerRenderPlugin, add_security_headers, swagger_assets_router
from lending.loans.api import LoanController
from lending.messages.api import MoreTimeController, NotificationController
from lending.messages.service import text_with_changes
from lending.pages import csrf_config, html_error, route_handlers, template_config
from lending.printing.api import LabelController
from lending.privacy.api import SubjectAccessController
from lending.recipients.api import RecipientController
from lending.reports.api import ReportController
from lending.scheduler import background_scheduler
from lending.settings import Settings, get_settings
from lending.stocktakes.api import StocktakeController
from lending.vouchers.api import RecipientVoucherController, VoucherController
from lending.waitlist.api import WaitlistController

# Public routes: everything else needs a token or a signed-in browser.
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
PUBLIC_PATHS = ["^/health$", "^/schema", "^/login", "^/static/", "^/favicon"]


async def provide_db_session(state: State, request: Request) -> AsyncIterator[Session]:
    # Async on purpose: Litestar runs a sync generator's cleanup in the same thread pool as
    # the handlers, so with every worker busy waiting for SQLite's write lock, the session
    # holding that lock could not be closed (a deadlock until busy_timeout). Closed here, on
    # the event loop, it is a quick rollback that never waits for a worker.
    # A safe method reads in a deferred transaction, which never waits behind SQLite's write
    # lock (a long import holds it); whatever such a request writes (an audit entry of a
    # read) goes in a transaction of its own, started by the write.
    user = request.scope.get("user")
    with session_for(state.engine, actor=getattr(user, "email", None),
                     actor_id=getattr(user, "id", None),
                     read_only=request.method in SAFE_METHODS) as session:
        yield session


@get("/health", sync_to_thread=True, opt={"exclude_from_auth": True}, tags=["service"])
def health(state: State) -> Response[dict[str, str]]:
    if database_answers(state.engine):
        return Response({"status": "ok"})
    return Response({"status": "unavailable", "detail": "the database does not answer"},
                    status_code=503)


@asynccontextmanager
async def run_scheduler(app: Litestar) -> AsyncIterator[None]:
    """The in-process scheduler, for a single-instance deployment."""
    scheduler = background_scheduler(app.state.settings, app.state.engine)
    scheduler.start()
    try:
        yield
    finally:
        scheduler.shutdown(wait=False)


def handle_http(request: Request, exc: HTTPException) -> Response:
    """A person in a browser gets a page; a client gets problem+json."""
    if errors.wants_html(request):
        return html_error(request, exc)
    return errors.handle_http(request, exc)


def _operation_id(handler, method, _components) -> str:
    """Stable ids, from the handler's own name, for generated clients."""
    name = handler.handler_name
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


def create_app(settings: Settings | None = None, engine: Engine | None = None) -> Litestar:
    settings = settings or get_settings()
    # Loaded once: a bad policy stops start-up here, naming the line and key at fault.
    policy = load_policy(settings.policy_file or None)
    engine = engine or make_engine(settings.database_url,
                                   write_wait_seconds=settings.write_wait_seconds,
                                   secret_key=settings.secret_key)
    text_with_changes(engine, settings, policy)
    api = Router(
        path="/api/v1",
        route_handlers=[LocationController, DeviceController, UserController, MeController,
                        audit_api.AuditController, RecipientController,
                        RecipientDetailController, EligibilityController,
                        LoanController,
                        WaitlistController, LabelController, StocktakeController,
                        ReportController, SubjectAccessController, NotificationController,
                        MoreTimeController,
                        VoucherController, RecipientVoucherController],
        guards=[role_guard],
    )
    app = Litestar(
        lifespan=[run_scheduler] if settings.scheduler == "on" else [],
        route_handlers=[health, api, *route_handlers(), swagger_assets_router()],
        template_config=template_config(),
        csrf_config=csrf_config(settings),
        state=State({"engine": engine, "settings": settings, "policy": policy,
                     "recent_tokens": RecentTokens(settings.auth_cache_seconds)}),
        dependencies={
            "db_session": Provide(provide_db_session),
            "device_extras": Provide(provide_device_extras, sync_to_thread=False),
            "move_by_hand": Provide(provide_move_by_hand, sync_to_thread=False),
        },
        before_request=errors.refuse_nul_characters,
        before_send=[add_security_headers],
        middleware=[DefineMiddleware(TokenAuthentication, exclude=PUBLIC_PATHS,
                                     exclude_from_auth_key="exclude_from_auth")],
        exception_handlers={
            HTTPException: handle_http,
            InventoryError: errors.handle_service,
            EligibilityError: errors.handle_eligibility,
            IntegrityError: errors.handle_integrity,
            Exception: errors.handle_unexpected,
        },
        openapi_config=OpenAPIConfig(
            title="Lending API", version="1.0.0", path="/schema",
            operation_id_creator=_operation_id, render_plugins=[LocalSwaggerRenderPlugin()]),
        request_max_body_size=settings.max_body_bytes,
        response_cache_config=ResponseCacheConfig(),
        # Logging is configured once per process by the command that runs the app (a
        # logging config here would start a listener thread for every app made).
        logging_config=None,
        debug=False,
    )
    document_problems(app)
    return app


def document_problems(app: Litestar) -> None:
    """Every API operation documents the problem+json answers it may give, so that a
    client (or a schema-driven test) knows them."""
    for route in app.routes:
        if not route.path.startswith("/api/"):
            continue
        for handler in getattr(route, "route_handlers", []):
            handler.responses = {**errors.problem_responses(), **(handler.responses or {})}
