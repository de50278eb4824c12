"""Staff accounts, passwords and tokens."""

import asyncio
import hashlib
import math
import secrets
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

import anyio
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Engine, delete, func, select, update
from sqlmodel import Session

from inventory.models import Location
from inventory.service import Conflict, Invalid, InventoryError, NotFound, get_location
from lending.accounts.models import ROLE_RANK, LoginFailure, Role, Token, TokenKind, User
from lending.accounts.schemas import UserCreate, UserUpdate
from lending.audit.service import record_event
from lending.db import get_row, session_for

_hasher = PasswordHasher()
# Argon2 is deliberately slow and memory-hungry. Sign-ins hash in this small pool of their
# own, and wait for it on the event loop, so a flood of guesses queues here instead of
# taking every worker thread the other requests need.
PASSWORD_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="password-hash")


@cache
def common_passwords() -> frozenset[str]:
    """The 30,000 most common passwords, from the zxcvbn package's lists."""
    from zxcvbn.frequency_lists import FREQUENCY_LISTS
    return frozenset(FREQUENCY_LISTS["passwords"])


def check_password(password: str, email: str) -> None:
    """Refuses a password found in the common-password list (whole, or with digits and
    symbols stripped from its ends), or one that contains the email or its name part."""
    lowered = password.lower()
    email = email.strip().lower()
    local = email.split("@")[0]
    if email in lowered or (len(local) >= 3 and local in lowered):
        raise Invalid("the password must not contain the email address", "password")
    core = lowered.strip("0123456789!@#$%^&*()_+-=.,?~ ")
    if lowered in common_passwords() or core in common_passwords() or len(set(lowered)) < 4:
        raise Invalid("that password is too common (it is on a list of passwords tried "
                      "first by attackers); choose a longer, less usual one", "password")
# How stale last_used_at may be: once a minute is enough to tell a token in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SESSION_LIFETIME = timedelta(hours=12)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_row(session: Session, user: User, location_code: str | None = None
             ) -> dict[str, Any]:
    """`location_code` when the caller has read it already (a list reads them all at once)."""
    if location_code is None and user.location_id:
        location_code = session.get(Location, user.location_id).code
    return {"id": user.id, "email": user.email, "display_name": user.display_name,
            "role": user.role, "location": location_code, "active": user.active}


def create_user(session: Session, data: UserCreate) -> User:
    if session.scalar(select(User.id).where(User.email == data.email)):
        raise Conflict(f"an account for {data.email} already exists", "email")
    location_id = get_location(session, data.location).id if data.location else None
    if data.password:
        check_password(data.password, data.email)
    user = User(
        email=data.email,
        display_name=data.display_name or data.email.split("@")[0],
        role=data.role.value,
        location_id=location_id,
        password_hash=_hasher.hash(data.password) if data.password else None,
        created_at=datetime.now(UTC),
    )
    session.add(user)
    session.commit()
    return user


def get_user(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    if user is None:
        raise NotFound(f"no account has the email {email}", "email")
    return user


def get_user_by_id(session: Session, user_id: int) -> User:
    return get_row(session, User, user_id, "account")


def list_users(session: Session, limit: int = 50, offset: int = 0) -> dict[str, Any]:
    rows = session.execute(
        select(User, Location.code).outerjoin(Location, Location.id == User.location_id)
        .order_by(User.email).limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(User)) or 0
    return {"items": [user_row(session, user, code) for user, code in rows], "total": total,
            "limit": limit, "offset": offset}


def update_user(session: Session, user_id: int, data: UserUpdate,
                keep_secret: str | None = None) -> User:
    """An admin's change to an account. A new password ends all the account's sessions
    and tokens but the one whose secret is `keep_secret` (a user changing their own)."""
    user = get_user_by_id(session, user_id)
    sent = data.model_fields_set
    if "display_name" in sent and data.display_name:
        user.display_name = data.display_name
    if "role" in sent and data.role:
        user.role = data.role.value
    if "location" in sent:
        user.location_id = get_location(session, data.location).id if data.location else None
    if "active" in sent and data.active is not None:
        user.active = data.active
        if not data.active:
            _revoke_all(session, user)
    if "password" in sent and data.password:
        check_password(data.password, user.email)
        user.password_hash = _hasher.hash(data.password)
        # A new password ends every session and token: whoever knew the old one is out.
        # The one kept is the caller's own, when they changed their own password.
        _revoke_all(session, user, keep=keep_secret)
    session.commit()
    return user


class TooManyAttempts(InventoryError):
    status_code = 429

    def __init__(self, retry_after: int, what: str = "sign-ins",
                 field: str = "password") -> None:
        minutes = max(1, math.ceil(retry_after / 60))
        self.wait_text = f"wait {minutes} minute{'s' if minutes > 1 else ''} and try again"
        super().__init__(f"too many failed {what}; {self.wait_text}", field)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


@dataclass(frozen=True)
class LoginLimits:
    """Failures allowed within `window` before sign-ins are refused for a while. A bad
    bearer token counts as a failure from its address, with the failed sign-ins."""

    per_account: int = 5
    per_address: int = 30
    window: timedelta = timedelta(minutes=15)

    @classmethod
    def of(cls, settings: Any) -> "LoginLimits":
        return cls(settings.login_failures_per_account, settings.login_failures_per_address,
                   timedelta(minutes=settings.login_window_minutes))


def _account_key(email: str) -> str:
    return "account:" + hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def _address_key(address: str) -> str:
    return "address:" + address[:70]


def _failures_wait(session: Session, counts: list[tuple[str, int]], window: timedelta,
                   now: datetime) -> int:
    """Seconds until every (key, limit) is under its limit again; 0 when all are now.
    Read from the database, so every instance sees the same count."""
    wait = 0.0
    for key, limit in counts:
        # The limit-th latest failure in the window, if there are that many: one row read
        # from the (key, at) index, however many failures there were.
        oldest = session.scalar(
            select(LoginFailure.at).where(LoginFailure.key == key,
                                          LoginFailure.at > now - window)
            .order_by(LoginFailure.at.desc()).offset(limit - 1).limit(1))
        if oldest is not None:
            wait = max(wait, (oldest + window - now).total_seconds())
    return math.ceil(wait)


def _count_failure(session: Session, keys: list[str], now: datetime) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.at < now - timedelta(days=1)))
    session.add_all([LoginFailure(key=key, at=now) for key in keys])


def login_wait(session: Session, email: str, address: str, limits: LoginLimits,
               now: datetime) -> int:
    """Seconds until this account and address may try again; 0 when they may now."""
    return _failures_wait(session, [(_account_key(email), limits.per_account),
                                    (_address_key(address), limits.per_address)],
                          limits.window, now)


def record_login_failure(session: Session, email: str, address: str, user: User | None,
                         now: datetime) -> None:
    """Counts the failure for the account and the address, and writes it to the audit log
    (the account's id if there is one; never the email typed, which may be a password)."""
    _count_failure(session, [_account_key(email), _address_key(address)], now)
    record_event(session, "user", user.id if user else "unknown", "login_failed",
                 {"address": address})
    session.commit()


def forget_login_failures(session: Session, email: str) -> None:
    session.execute(delete(LoginFailure).where(LoginFailure.key == _account_key(email)))
    session.commit()


def token_wait(session: Session, address: str, limits: LoginLimits, now: datetime) -> int:
    """Seconds until this address may present a bearer token again; 0 when it may now.
    Its failed sign-ins and bad tokens count together, against `limits.per_address`."""
    return _failures_wait(session, [(_address_key(address), limits.per_address)],
                          limits.window, now)


def record_token_failure(session: Session, address: str, now: datetime) -> None:
    """Counts a bearer token that opened nothing against its address, and audits it
    without the token's text (which may be a near miss of a real one)."""
    _count_failure(session, [_address_key(address)], now)
    record_event(session, "token", "unknown", "token_failed", {"address": address})
    session.commit()


def authenticate_bearer(engine: Engine, secret: str, address: str, limits: LoginLimits
                        ) -> tuple[User, Token] | None:
    """The user and token behind a bearer secret, or None (the failure counted and
    audited); TooManyAttempts (429) while the address has failed too often, before the
    secret is even looked up, so that guessing stops whatever the guess."""
    now = datetime.now(UTC)
    with session_for(engine, read_only=True) as session:
        retry_after = token_wait(session, address, limits, now)
        found = None if retry_after else resolve_token(session, secret)
    if retry_after:
        raise TooManyAttempts(retry_after, "bearer tokens from this address",
                              "Authorization")
    if found is None:
        with session_for(engine, actor="unknown") as session:
            record_token_failure(session, address, now)
    return found


def _password_matches(password_hash: str | None, password: str) -> bool:
    if not password_hash:
        _hasher.hash(password)  # the same work either way: no timing tell
        return False
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def sign_in(engine: Engine, email: str, password: str, address: str,
                  limits: LoginLimits) -> User:
    """The account for these credentials, or Invalid (the same whether the email or the
    password is wrong), or TooManyAttempts (429) after repeated failures for the account or
    from the address. The database work runs in worker threads; the hashing in its own
    small pool, waited for on the event loop."""
    email = email.strip().lower()
    now = datetime.now(UTC)

    def wait() -> int:
        with session_for(engine, read_only=True) as session:
            return login_wait(session, email, address, limits, now)

    def candidate() -> User | None:
        with session_for(engine, read_only=True) as session:
            return session.scalar(select(User).where(User.email == email))

    def failed(user: User | None) -> None:
        with session_for(engine, actor=email if user else "unknown",
                         actor_id=user.id if user else None) as session:
            record_login_failure(session, email, address, user, now)

    def succeeded() -> None:
        with session_for(engine, actor=email) as session:
            forget_login_failures(session, email)

    retry_after = await anyio.to_thread.run_sync(wait)
    if retry_after:
        raise TooManyAttempts(retry_after)
    user = await anyio.to_thread.run_sync(candidate)
    usable = user is not None and user.active
    matches = await asyncio.get_running_loop().run_in_executor(
        PASSWORD_HASHING, _password_matches, user.password_hash if usable else None, password)
    if not matches:
        await anyio.to_thread.run_sync(failed, user)
        raise Invalid("that email and password do not match an active account", "password")
    await anyio.to_thread.run_sync(succeeded)
    return user


def change_password(session: Session, user_id: int, current: str, new: str,
                    keep_secret: str | None = None) -> User:
    """A user's own new password, given the one they have now; the new one must differ.
    Every other session and token of theirs ends; the one whose secret is `keep_secret`
    (the session or token they changed it with) stays signed in."""
    user = get_user_by_id(session, user_id)
    if not _password_matches(user.password_hash, current):
        raise Invalid("your current password is not right", "current_password")
    if current == new:
        raise Invalid("the new password must be different from the current one", "password")
    return update_user(session, user.id, UserUpdate(password=new), keep_secret)


def create_token(session: Session, user: User, name: str,
                 kind: TokenKind = TokenKind.api) -> tuple[Token, str]:
    """A new random secret; only its hash is kept, so it is shown to the caller once."""
    if not user.active:
        raise Invalid(f"the account {user.email} is not active", "email")
    secret = ("lnd_" if kind == TokenKind.api else "") + secrets.token_urlsafe(32)
    now = datetime.now(UTC)
    token = Token(user_id=user.id, kind=kind.value, name=name, secret_hash=_digest(secret),
                  created_at=now,
                  expires_at=now + SESSION_LIFETIME if kind == TokenKind.session else None)
    session.add(token)
    session.commit()
    return token, secret


def resolve_token(session: Session, secret: str) -> tuple[User, Token] | None:
    """The active user behind a bearer secret or session cookie, and its token; or None.
    Only reads, so that authenticating a request never waits for a write lock."""
    row = session.execute(
        select(Token, User).join(User, Token.user_id == User.id)
        .where(Token.secret_hash == _digest(secret))).first()
    if row is None:
        return None
    token, user = row
    now = datetime.now(UTC)
    if token.revoked_at or not user.active or (token.expires_at and token.expires_at <= now):
        return None
    return user, token


def needs_touch(token: Token) -> bool:
    """Writing last_used_at on every request would make every read a write."""
    return token.last_used_at is None or (
        datetime.now(UTC) - token.last_used_at > LAST_USED_RESOLUTION)


def touch_token(session: Session, token_id: int) -> None:
    session.execute(update(Token).where(Token.id == token_id).values(
        last_used_at=datetime.now(UTC)))
    session.commit()


def list_tokens(session: Session, user: User) -> list[Token]:
    return list(session.scalars(select(Token).where(
        Token.user_id == user.id, Token.kind == TokenKind.api.value).order_by(Token.id)))


def revoke_token(session: Session, token_id: int, owner: User | None = None) -> Token:
    token = get_row(session, Token, token_id, "token")
    if owner is not None and token.user_id != owner.id:
        raise NotFound(f"no token has the id {token_id}", "id")
    if token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.commit()
    return token


def end_session(session: Session, secret: str) -> None:
    token = session.scalar(select(Token).where(Token.secret_hash == _digest(secret)))
    if token and token.revoked_at is None:
        token.revoked_at = datetime.now(UTC)
        session.commit()


def _revoke_all(session: Session, user: User, keep: str | None = None) -> None:
    """Ends the user's sessions and tokens, all but the one whose secret is `keep`."""
    now = datetime.now(UTC)
    query = select(Token).where(Token.user_id == user.id, Token.revoked_at.is_(None))
    if keep:
        query = query.where(Token.secret_hash != _digest(keep))
    for token in session.scalars(query):
        token.revoked_at = now


def has_role(user: User, role: Role) -> bool:
    return ROLE_RANK[Role(user.role)] >= ROLE_RANK[role]


class Forbidden(InventoryError):
    status_code = 403


def require_manager(actor: User | None, what: str, field: str = "override_reason") -> None:
    if actor is None or not has_role(actor, Role.manager):
        who = actor.email if actor else "this caller"
        raise Forbidden(f"{what} needs the manager role; {who} is "
                        f"{actor.role if actor else 'not signed in'}", field)
