"""Signing in and out."""


from litestar import Controller, Request, Response, get, post
from litestar.params import FromQuery

from inventory.api import DbSession
from inventory.service import InventoryError
from lending.accounts import service as accounts
from lending.accounts.api import SESSION_COOKIE
from lending.accounts.models import TokenKind
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

    @post("/login", sync_to_thread=True, opt={"exclude_from_auth": True})
    def login(self, request: Request, db_session: DbSession, data: Form) -> Response:
        email = str(data.get("email", "")).strip()
        password = str(data.get("password", ""))
        target = safe_next(str(data.get("next", "")))
        problems = {}
        if not email:
            problems["email"] = "Enter your email address"
        if not password:
            problems["password"] = "Enter your password"
        if not problems:
            try:
                user = accounts.authenticate(db_session, email, password)
            except InventoryError:
                problems["password"] = ("That email and password do not match an active "
                                        "account. Check them and try again.")
        if problems:
            return render(request, "login.html", status_code=400, errors=problems,
                          values={"email": email}, next=target)
        db_session.info["actor"], db_session.info["actor_id"] = user.email, user.id
        _, secret = accounts.create_token(db_session, user, "browser", TokenKind.session)
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
