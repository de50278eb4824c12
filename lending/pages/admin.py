"""Accounts: a user's own password; for admins, the staff users and their API tokens."""

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath
from pydantic import ValidationError
from sqlmodel import Session

from inventory.api import DbSession
from lending.accounts import service as accounts
from lending.accounts.models import Role
from lending.accounts.schemas import UserCreate, UserUpdate
from lending.pages.forms import FORM_ERRORS, form_fields, form_problems
from lending.pages.rendering import Form, go_to, location_choices, render

ROLES = [(role.value, role.value.capitalize()) for role in Role]


class AccountPages(Controller):
    @get("/account/password", sync_to_thread=True)
    def password_form(self, request: Request) -> Response:
        return render(request, "password.html")

    @post("/account/password", sync_to_thread=True)
    def change_password(self, request: Request, db_session: DbSession, data: Form
                        ) -> Response:
        current = str(data.get("current_password", ""))
        new = str(data.get("password", ""))
        problems: dict[str, str] = {}
        if not current:
            problems["current_password"] = "Enter your current password"
        if len(new) < 12:
            problems["password"] = "Enter a new password of at least 12 characters"
        elif new != str(data.get("password_again", "")):
            problems["password_again"] = "The two new passwords are not the same"
        if not problems:
            try:
                # The other browsers and tokens are signed out; this browser stays in.
                accounts.change_password(db_session, request.user.id, current, new,
                                         keep_secret=request.auth)
            except FORM_ERRORS as error:
                problems = form_problems(error)
            else:
                request.app.state.recent_tokens.forget_all()
                return go_to(request, "/", "Your password has been changed.")
        return render(request, "password.html", status_code=422, errors=problems)


class AdminPages(Controller):
    path = "/admin"
    opt = {"role": Role.admin}

    def _users_page(self, request: Request, db_session: Session, status_code: int = 200,
                    **context: Any) -> Response:
        users = accounts.list_users(db_session, limit=200)
        return render(request, "admin_users.html", status_code=status_code,
                      users=users["items"], roles=ROLES,
                      locations=location_choices(db_session), **context)

    @get("/users", sync_to_thread=True)
    def users(self, request: Request, db_session: DbSession) -> Response:
        return self._users_page(request, db_session, values={"role": "staff"})

    @post("/users", sync_to_thread=True)
    def add_user(self, request: Request, db_session: DbSession, data: Form) -> Response:
        values = form_fields(data, ("email", "display_name", "role", "location", "password"))
        try:
            user = accounts.create_user(db_session, UserCreate.model_validate(values))
        except FORM_ERRORS as error:
            problems = form_problems(error)
        else:
            return go_to(request, "/admin/users", f"Added {user.email} as {user.role}.")
        values.pop("password", None)
        return self._users_page(request, db_session, status_code=422, errors=problems,
                                values=values)

    @get("/users/{user_id:int}", sync_to_thread=True)
    def user(self, request: Request, db_session: DbSession, user_id: FromPath[int]) -> Response:
        return self._user_page(request, db_session, user_id)

    def _user_page(self, request: Request, db_session: Session, user_id: int,
                   status_code: int = 200, **context: Any) -> Response:
        user = accounts.get_user_by_id(db_session, user_id)
        return render(request, "admin_user.html", status_code=status_code,
                      person=accounts.user_row(db_session, user), roles=ROLES,
                      tokens=accounts.list_tokens(db_session, user), **context)

    @post("/users/{user_id:int}", sync_to_thread=True)
    def update_user(self, request: Request, db_session: DbSession,
                    user_id: FromPath[int], data: Form
                    ) -> Response:
        """Change the role, deactivate or reactivate, or set a new password."""
        values = form_fields(data, ("role", "password"))
        if data.get("active") in ("yes", "no"):
            values["active"] = data.get("active") == "yes"
        try:
            user = accounts.update_user(db_session, user_id, UserUpdate.model_validate(values))
        except (ValidationError, *FORM_ERRORS) as error:
            problems = form_problems(error)
        else:
            request.app.state.recent_tokens.forget_all()  # sessions may have ended
            done = ("Password reset" if "password" in values else
                    "Deactivated" if values.get("active") is False else "Saved")
            return go_to(request, f"/admin/users/{user.id}", f"{done}: {user.email}.")
        return self._user_page(request, db_session, user_id, status_code=422,
                               errors=problems)

    @post("/users/{user_id:int}/tokens", sync_to_thread=True)
    def create_token(self, request: Request, db_session: DbSession,
                     user_id: FromPath[int], data: Form
                     ) -> Response:
        name = str(data.get("name", "")).strip()[:80]
        if not name:
            return self._user_page(request, db_session, user_id, status_code=422,
                                   errors={"name": "Name the token: what will use it"})
        user = accounts.get_user_by_id(db_session, user_id)
        try:
            _, secret = accounts.create_token(db_session, user, name)
        except FORM_ERRORS as error:
            return self._user_page(request, db_session, user_id, status_code=422,
                                   errors=form_problems(error))
        return self._user_page(request, db_session, user_id, new_secret=secret,
                               new_name=name)

    @post("/users/{user_id:int}/tokens/{token_id:int}/revoke", sync_to_thread=True)
    def revoke_token(self, request: Request, db_session: DbSession, user_id: FromPath[int],
                     token_id: FromPath[int]) -> Response:
        user = accounts.get_user_by_id(db_session, user_id)
        token = accounts.revoke_token(db_session, token_id, owner=user)
        request.app.state.recent_tokens.forget_all()
        return go_to(request, f"/admin/users/{user_id}", f"Revoked the token {token.name}.")
