"""The HTTP side of accounts: who is calling (bearer token or session cookie), what their
role lets them do, and the admin routes for users and tokens."""

import time
from datetime import UTC, datetime

import anyio
from litestar import Controller, Request, get, patch, post
from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.params import FromPath, JSONBody

from inventory.api import DbSession, Limit, Offset
from inventory.schemas import Page
from lending.accounts import service
from lending.accounts.models import Role, Token, User
from lending.accounts.schemas import (
    PasswordChange,
    TokenCreate,
    TokenCreated,
    TokenRead,
    UserCreate,
    UserRead,
    UserUpdate,
)
from lending.db import session_for

SESSION_COOKIE = "lending_session"


class RecentTokens:
    """Tokens resolved in the last few seconds, so that a busy desk's requests do not each
    look theirs up. A revocation or deactivation made through this instance clears it at
    once; one made elsewhere (another instance, the command line) takes effect within
    `seconds`. Zero turns it off."""

    def __init__(self, seconds: float, size: int = 4096) -> None:
        self.seconds = seconds
        self.size = size
        self._entries: dict[str, tuple[float, User, Token]] = {}

    def get(self, secret: str) -> tuple[User, Token] | None:
        entry = self._entries.get(secret)
        if entry is None or entry[0] < time.monotonic():
            return None
        _, user, token = entry
        if token.expires_at and token.expires_at <= datetime.now(UTC):
            return None
        return user, token

    def put(self, secret: str, user: User, token: Token) -> None:
        if self.seconds <= 0:
            return
        if len(self._entries) >= self.size:
            self._entries.clear()  # simpler than LRU, and a refill costs one query a token
        self._entries[secret] = (time.monotonic() + self.seconds, user, token)

    def forget_all(self) -> None:
        self._entries.clear()


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _secret_of(connection: ASGIConnection) -> tuple[str | None, bool]:
    """The secret presented, and whether it came as a bearer token."""
    header = connection.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip(), True
    cookie = connection.cookies.get(SESSION_COOKIE)
    if cookie and connection.url.path.startswith("/api/") and (
            connection.scope.get("method") not in SAFE_METHODS):
        # The API is outside the forms' CSRF check, so a browser session may only read it:
        # a forged cross-site request can then change nothing.
        raise PermissionDeniedException("changes through the API need a bearer token; a "
                                        "browser session may only read it")
    return cookie, False


def _resolve(engine, secret: str) -> tuple[User, Token] | None:
    # A read-only session takes no lock, so authenticating never waits on a writer. It runs
    # in a worker thread: blocking the event loop on the connection pool could deadlock
    # with requests whose sessions the loop has yet to close.
    with session_for(engine, read_only=True) as session:
        return service.resolve_token(session, secret)


def _touch(engine, token_id: int) -> None:
    with session_for(engine) as session:
        service.touch_token(session, token_id)


class TokenAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        secret, bearer = _secret_of(connection)
        if not secret:
            raise NotAuthorizedException("sign in, or send Authorization: Bearer TOKEN")
        recent: RecentTokens = connection.app.state.recent_tokens
        found = recent.get(secret)
        if found is None:
            if bearer:
                # A bearer token is a guessable thing: looked up only while its address has
                # not failed too often (429 with Retry-After); a miss is counted and
                # audited. A token this instance has just seen work skips the count.
                address = connection.client.host if connection.client else "unknown"
                found = await anyio.to_thread.run_sync(
                    service.authenticate_bearer, connection.app.state.engine, secret,
                    address, service.LoginLimits.of(connection.app.state.settings))
            else:
                found = await anyio.to_thread.run_sync(_resolve, connection.app.state.engine,
                                                       secret)
            if found is None:
                raise NotAuthorizedException("that token or session is not valid (revoked, "
                                             "expired, or the account is inactive)")
            recent.put(secret, *found)
        user, token = found
        if service.needs_touch(token):
            token.last_used_at = datetime.now(UTC)  # so that the cached copy is not stale
            await anyio.to_thread.run_sync(_touch, connection.app.state.engine, token.id)
        return AuthenticationResult(user=user, auth=secret)


def role_guard(connection: ASGIConnection, handler: BaseRouteHandler) -> None:
    """A route names the least role it needs in its `opt`; staff is the default."""
    if handler.opt.get("exclude_from_auth") or connection.scope.get("method") == "OPTIONS":
        # CORS preflights and OPTIONS carry no credentials: the framework's own answer
        # (which methods the route allows) reveals nothing and changes nothing.
        return
    needed = Role(handler.opt.get("role", Role.staff))
    user: User = connection.user
    if not service.has_role(user, needed):
        raise PermissionDeniedException(f"this needs the {needed.value} role; "
                                        f"{user.email} is {user.role}")


class UserController(Controller):
    path = "/users"
    tags = ["accounts"]
    opt = {"role": Role.admin}

    @get("/", sync_to_thread=True)
    def list_users(self, db_session: DbSession, limit: Limit = 50, offset: Offset = 0
                   ) -> Page[UserRead]:
        return service.list_users(db_session, limit=limit, offset=offset)

    @post("/", sync_to_thread=True)
    def create_user(self, db_session: DbSession, data: JSONBody[UserCreate]) -> UserRead:
        user = service.create_user(db_session, data)
        return UserRead(**service.user_row(db_session, user))

    @patch("/{user_id:int}", sync_to_thread=True)
    def update_user(self, db_session: DbSession, request: Request, user_id: FromPath[int],
                    data: JSONBody[UserUpdate]) -> UserRead:
        user = service.update_user(db_session, user_id, data)
        request.app.state.recent_tokens.forget_all()  # a role or active flag may have changed
        return UserRead(**service.user_row(db_session, user))

    @get("/{user_id:int}/tokens", sync_to_thread=True)
    def list_user_tokens(self, db_session: DbSession, user_id: FromPath[int]
                         ) -> list[TokenRead]:
        user = service.get_user_by_id(db_session, user_id)
        return [TokenRead.model_validate(t, from_attributes=True)
                for t in service.list_tokens(db_session, user)]

    @post("/{user_id:int}/tokens", sync_to_thread=True)
    def create_user_token(self, db_session: DbSession, user_id: FromPath[int],
                          data: JSONBody[TokenCreate]) -> TokenCreated:
        user = service.get_user_by_id(db_session, user_id)
        token, secret = service.create_token(db_session, user, data.name)
        return TokenCreated(token=secret, **TokenRead.model_validate(
            token, from_attributes=True).model_dump())

    @post("/tokens/{token_id:int}/revoke", sync_to_thread=True, status_code=200)
    def revoke_token(self, db_session: DbSession, request: Request, token_id: FromPath[int]
                     ) -> TokenRead:
        revoked = service.revoke_token(db_session, token_id)
        request.app.state.recent_tokens.forget_all()
        return TokenRead.model_validate(revoked,
                                        from_attributes=True)


class MeController(Controller):
    path = "/me"
    tags = ["accounts"]

    @get("/", sync_to_thread=True)
    def who_am_i(self, db_session: DbSession, request: Request) -> UserRead:
        return UserRead(**service.user_row(db_session, request.user))

    @post("/password", sync_to_thread=True, status_code=200)
    def change_my_password(self, db_session: DbSession, request: Request,
                           data: JSONBody[PasswordChange]) -> UserRead:
        """The caller's own new password: every other session and token of theirs ends,
        the token this request came with stays."""
        user = service.change_password(db_session, request.user.id, data.current_password,
                                       data.password, keep_secret=request.auth)
        request.app.state.recent_tokens.forget_all()
        return UserRead(**service.user_row(db_session, user))
