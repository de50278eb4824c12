"""Signing in and out."""

import anyio
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.params import FromQuery

from inventory.api import DbSession
from inventory.service import InventoryError
from lending.accounts import service as accounts
from lending.accounts.api import SESSION_COOKIE
from lending.accounts.models import TokenKind
from lending.db import session_for
from lending.pages.forms import (
    safe_next,
)
from lending.pages.rendering import (
    Form,
    go_to,
    render,
)


class SessionPages(Controller):
    @get("/login", sync_to_thread=True, opt={"exclude_from_auth": True})
    def login_form(self, request: Request, next: FromQuery[str | None] = None) -> Response:
        return render(request, "login.html", next=safe_next(next))

    @post("/login", opt={"exclude_from_auth": True})
    async def login(self, request: Request, state: State, data: Form) -> Response:
        # Async, so that sign-ins waiting for the password hashing pool wait on the event
        # loop and leave the worker threads to everyone else.
        email = str(data.get("email", "")).strip()
        password = str(data.get("password", ""))
        target = safe_next(str(data.get("next", "")))
        problems = {}
        if not email:
            problems["email"] = "Enter your email address"
        if not password:
            problems["password"] = "Enter your password"
        if not problems:
            settings = state.settings
            limits = accounts.LoginLimits.of(settings)
            address = request.client.host if request.client else "unknown"
            try:
                user = await accounts.sign_in(state.engine, email, password, address, limits)
            except accounts.TooManyAttempts as refused:
                page = render(request, "login.html", status_code=429, errors={
                    "password": f"Too many failed sign-ins. {refused.wait_text.capitalize()}."
                }, values={"email": email}, next=target)
                page.headers.update(refused.headers)
                return page
            except InventoryError:
                problems["password"] = ("That email and password do not match an active "
                                        "account. Check them and try again.")
        if problems:
            return render(request, "login.html", status_code=400, errors=problems,
                          values={"email": email}, next=target)

        def new_session() -> str:
            with session_for(state.engine, actor=user.email, actor_id=user.id) as session:
                return accounts.create_token(session, user, "browser", TokenKind.session)[1]

        secret = await anyio.to_thread.run_sync(new_session)
        response = go_to(request, target)
        response.set_cookie(SESSION_COOKIE, secret, httponly=True, samesite="lax", path="/",
                            max_age=int(accounts.SESSION_LIFETIME.total_seconds()),
                            secure=request.url.scheme == "https")
        return response

    @post("/logout", sync_to_thread=True, opt={"exclude_from_auth": True})
    def logout(self, request: Request, db_session: DbSession) -> Response:
        secret = request.cookies.get(SESSION_COOKIE)
        if secret:
            accounts.end_session(db_session, secret)
            request.app.state.recent_tokens.forget_all()
        response = go_to(request, "/login", "You have signed out.")
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response


# --- the desk -------------------------------------------------------------------------------
