"""Staff accounts, passwords and tokens."""

import hashlib
import secrets
from datetime import UTC, datetime, timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from sqlalchemy import func, select, update
from sqlmodel import Session

from inventory.models import Location
from inventory.service import Conflict, Invalid, InventoryError, NotFound, get_location
from lending.accounts.models import ROLE_RANK, Role, Token, TokenKind, User
from lending.accounts.schemas import UserCreate, UserUpdate
from lending.db import get_row

_hasher = PasswordHasher()
# How stale last_used_at may be: once a minute is enough to tell a token in use.
LAST_USED_RESOLUTION = timedelta(minutes=1)
SESSION_LIFETIME = timedelta(hours=12)


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def user_row(session: Session, user: User) -> dict[str, Any]:
    location = session.get(Location, user.location_id) if user.location_id else None
    return {"id": user.id, "email": user.email, "display_name": user.display_name,
            "role": user.role, "location": location.code if location else None,
            "active": user.active}


def create_user(session: Session, data: UserCreate) -> User:
    if session.scalar(select(User.id).where(User.email == data.email)):
        raise Conflict(f"an account for {data.email} already exists", "email")
    location_id = get_location(session, data.location).id if data.location else None
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
    users = session.scalars(select(User).order_by(User.email).limit(limit).offset(offset)).all()
    total = session.scalar(select(func.count()).select_from(User)) or 0
    return {"items": [user_row(session, user) for user in users], "total": total}


def update_user(session: Session, user_id: int, data: UserUpdate) -> User:
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
        user.password_hash = _hasher.hash(data.password)
    session.commit()
    return user


def authenticate(session: Session, email: str, password: str) -> User:
    """The account for these credentials; the same error whether the email or the password
    is wrong, so that a login form does not reveal who has an account."""
    user = session.scalar(select(User).where(User.email == email.strip().lower()))
    refused = Invalid("that email and password do not match an active account", "password")
    if user is None or not user.active or not user.password_hash:
        _hasher.hash(password)  # the same work either way: no timing tell
        raise refused
    try:
        _hasher.verify(user.password_hash, password)
    except VerificationError:
        raise refused from None
    return user


def change_password(session: Session, user_id: int, current: str, new: str) -> User:
    """A user's own new password, given the one they have now; the new one must differ."""
    user = get_user_by_id(session, user_id)
    try:
        authenticate(session, user.email, current)
    except Invalid:
        raise Invalid("your current password is not right", "current_password") from None
    if current == new:
        raise Invalid("the new password must be different from the current one", "password")
    return update_user(session, user.id, UserUpdate(password=new))


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


def _revoke_all(session: Session, user: User) -> None:
    now = datetime.now(UTC)
    for token in session.scalars(select(Token).where(Token.user_id == user.id,
                                                     Token.revoked_at.is_(None))):
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
