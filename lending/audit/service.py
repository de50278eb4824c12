"""Writes the audit log for every change, in the same transaction as the change.

One listener sees every flush of every session, so no service can forget to audit: it
records creations, updates (changed fields only, before and after) and deletions, and the
bulk writes a service announces in `session.info["audit_bulk"]`. The actor comes from
`session.info["actor"]`, set where the session is made; a written reason a service was
given (`audit_reason`) goes into every entry of that transaction. `lending.db` imports this
module, so the listeners are in place wherever a session is made.
"""

import re
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from itertools import compress, repeat
from operator import is_not
from typing import Any

from sqlalchemy import event, func, insert, inspect, select
from sqlalchemy.orm import Session as OrmSession
from sqlmodel import Session

from inventory.bulk import insert_rows
from lending.audit.models import AuditEntry
from lending.audit.schemas import AuditQuery
from lending.audit.sealing import (
    Keyring,
    open_changes,
    personal_paths,
    rewrap_keys,
    seal,
    sealed_for,
)

# Never copied into the log: a hash is still a secret.
SECRET_FIELDS = frozenset({"password_hash", "secret_hash", "code_ciphertext", "code_digest"})
# Touched on every request; logging it would drown the log.
QUIET_FIELDS = frozenset({"last_used_at"})


def entity_name(model: type) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", model.__name__).lower()


# Values JSON holds as they are: the common case, answered without the checks below.
_NATIVE = frozenset({str, int, float, bool, type(None)})


def plain(value: Any) -> Any:
    """A value as JSON can hold it."""
    if type(value) in _NATIVE:
        return value
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _shown(field: str, value: Any) -> Any:
    return "(changed)" if field in SECRET_FIELDS else plain(value)


def keyring_of(session: OrmSession) -> Keyring:
    """The recipient keys this transaction has opened. The secret that opens them is put in
    `session.info` by `lending.db.session_for`, where every session is made."""
    keyring = session.info.get("keyring")
    if keyring is None:
        secret = session.info.get("secret_key")
        if not secret:
            raise RuntimeError("sessions are made by lending.db.session_for, which hands the "
                               "audit log the secret that seals personal values")
        keyring = session.info["keyring"] = Keyring(secret)
    return keyring


def _recipient_of(entity: str, entity_id: Any, obj: Any = None) -> int | None:
    """Whose personal data an entry is about, if anyone's."""
    if entity == "recipient":
        return int(entity_id) if str(entity_id).isdigit() else None
    recipient_id = getattr(obj, "recipient_id", None) if obj is not None else None
    return int(recipient_id) if recipient_id is not None else None


def _sealed(session: OrmSession, entity: str, entity_id: Any, changes: dict[str, Any],
            recipient_id: int | None = None) -> dict[str, Any]:
    """The changes with any personal values sealed under their recipient's key."""
    if recipient_id is None:
        recipient_id = _recipient_of(entity, entity_id)
    # Only an entry with personal values needs the key (and so a connection).
    if recipient_id is not None and personal_paths(entity, changes):
        return seal(keyring_of(session), session.connection(), entity, recipient_id, changes)
    return changes


def _entry(session: OrmSession, entity: str, entity_id: Any, action: str,
           changes: dict[str, Any], recipient_id: int | None = None) -> dict[str, Any]:
    changes = _sealed(session, entity, entity_id, changes, recipient_id)
    return {
        "at": datetime.now(UTC),
        "actor": session.info.get("actor", "system"),
        "actor_id": session.info.get("actor_id"),
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "changes": changes,
    }


def audit_reason(session: Session, reason: str) -> None:
    """The written reason for this transaction's changes, kept in each of their entries."""
    session.info["audit_reason"] = reason


def _with_reason(session: OrmSession, changes: dict[str, Any]) -> dict[str, Any]:
    reason = session.info.get("audit_reason")
    return {**changes, "reason": reason} if reason else changes


def _changes_of(state) -> dict[str, list[Any]]:
    changes = {}
    for attribute in state.mapper.column_attrs:
        key = attribute.key
        if key in QUIET_FIELDS:
            continue
        history = state.attrs[key].history
        if not history.has_changes():
            continue
        before = history.deleted[0] if history.deleted else None
        after = history.added[0] if history.added else None
        if before != after:
            changes[key] = [_shown(key, before), _shown(key, after)]
    return changes


def _columns_of(obj: Any) -> dict[str, Any]:
    state = inspect(obj)
    return {attr.key: _shown(attr.key, getattr(obj, attr.key))
            for attr in state.mapper.column_attrs
            if attr.key not in QUIET_FIELDS and getattr(obj, attr.key) is not None}


def _primary_key(obj: Any) -> Any:
    return inspect(obj).mapper.primary_key_from_instance(obj)[0]


@event.listens_for(OrmSession, "after_flush")
def _record_flush(session: OrmSession, _context) -> None:
    rows = []
    for obj in session.new:
        if isinstance(obj, AuditEntry):
            continue
        entity, entity_id = entity_name(type(obj)), _primary_key(obj)
        rows.append(_entry(session, entity, entity_id, "create",
                           _with_reason(session, {"after": _columns_of(obj)}),
                           _recipient_of(entity, entity_id, obj)))
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) or not session.is_modified(obj):
            continue
        changes = _changes_of(inspect(obj))
        if changes:
            action = "status" if "status" in changes else "update"
            entity, entity_id = entity_name(type(obj)), _primary_key(obj)
            rows.append(_entry(session, entity, entity_id, action,
                               _with_reason(session, changes),
                               _recipient_of(entity, entity_id, obj)))
    for obj in session.deleted:
        entity, entity_id = entity_name(type(obj)), _primary_key(obj)
        rows.append(_entry(session, entity, entity_id, "delete",
                           _with_reason(session, {"before": _columns_of(obj)}),
                           _recipient_of(entity, entity_id, obj)))
    if rows:
        session.connection().execute(insert(AuditEntry), rows)


# The order of the values of each bulk entry.
_BULK_COLUMNS = ("at", "actor", "actor_id", "action", "entity", "entity_id", "changes")


@event.listens_for(OrmSession, "before_commit")
def _record_bulk(session: OrmSession) -> None:
    announced = session.info.pop("audit_bulk", None)
    if announced:
        # A bulk write announces thousands of rows: who and when are worked out once, and
        # every entry goes in with one executemany (personal values sealed, as anywhere).
        common = _entry(session, "", "", "", {})
        at, actor, actor_id = common["at"], common["actor"], common["actor_id"]
        rows = []
        append, native, nothing = rows.append, _NATIVE, repeat(None)
        for entity, entity_id, action, values in announced:
            # The values that are not None, picked and checked in C: a bulk write announces
            # thousands of rows of a few dozen values each.
            after = dict(compress(values.items(), map(is_not, values.values(), nothing)))
            if not native.issuperset(map(type, after.values())):
                after = {key: plain(value) for key, value in after.items()}
            changes = {"after": after}
            recipient_id = values.get("recipient_id")
            # Only an entry about a person can hold personal values to seal.
            if recipient_id is not None or entity == "recipient":
                changes = _sealed(session, entity, entity_id, changes, recipient_id)
            append((at, actor, actor_id, action, entity, str(entity_id), changes))
        insert_rows(session.connection(), AuditEntry.__table__, _BULK_COLUMNS, rows)


@event.listens_for(OrmSession, "after_commit")
def _forget_reason(session: OrmSession) -> None:
    session.info.pop("audit_reason", None)
    session.info.pop("keyring", None)


@event.listens_for(OrmSession, "after_rollback")
def _forget_bulk(session: OrmSession) -> None:
    session.info.pop("audit_bulk", None)
    session.info.pop("audit_reason", None)
    session.info.pop("keyring", None)


def record_read(session: Session, entity: str, entity_id: Any,
                changes: dict[str, Any] | None = None) -> None:
    """Reading personal data is logged too (UK GDPR accountability).

    The read's own transaction ends first, so that the entry is written in a transaction
    of its own that starts with the write: on SQLite a read transaction that later writes
    could be refused the lock, and a read must not have waited for it up front.
    """
    session.commit()
    session.add(AuditEntry(**_entry(session, entity, entity_id, "read", changes or {})))
    session.commit()


def reseal_recipient_keys(session: Session, old_secret: str) -> int:
    """After LENDING_SECRET_KEY has changed: every recipient key, sealed under the old
    secret, is sealed under the session's (new) one, in one transaction. Returns how many."""
    count = rewrap_keys(session.connection(), old_secret, keyring_of(session).secret)
    session.add(AuditEntry(**_entry(session, "recipient_key", "all", "reseal",
                                    {"keys": count})))
    session.commit()
    return count


def record_event(session: Session, entity: str, entity_id: Any, action: str,
                 changes: dict[str, Any]) -> None:
    """An entry for something that is not a row change (an erasure, an export), written
    in the caller's transaction."""
    session.add(AuditEntry(**_entry(session, entity, entity_id, action, changes)))


def record_list_read(session: Session, what: str, recipient_ids: Any) -> None:
    """One entry for a list or search that showed recipients: which ones, by id only."""
    ids = sorted({int(i) for i in recipient_ids if i is not None})
    record_read(session, "recipient", "list", {"what": what, "recipient_ids": ids})


def list_entries(session: Session, query: AuditQuery) -> dict[str, Any]:
    conditions = []
    if query.entity:
        conditions.append(AuditEntry.entity == query.entity)
    if query.entity_id:
        conditions.append(AuditEntry.entity_id == query.entity_id)
    if query.actor:
        conditions.append(AuditEntry.actor == query.actor.strip().lower())
    if query.since:
        conditions.append(AuditEntry.at >= query.since)
    if query.until:
        conditions.append(AuditEntry.at < query.until)
    total = session.scalar(select(func.count()).select_from(AuditEntry).where(*conditions))
    entries = session.scalars(
        select(AuditEntry).where(*conditions).order_by(AuditEntry.id.desc())
        .limit(query.limit).offset(query.offset)).all()
    # The log holds recipients' details too: reading it is itself a logged read.
    readable = readable_entries(session, entries)
    record_list_read(session, "audit", (
        int(entry.entity_id) for entry in entries
        if entry.entity == "recipient" and entry.entity_id.isdigit()))
    return {"items": readable, "total": total or 0, "limit": query.limit,
            "offset": query.offset}


def readable_entries(session: Session, entries: Any) -> list[dict[str, Any]]:
    """Entries as plain dicts, with what they sealed opened, or "(erased)" where the
    recipient's key has been destroyed. The rows themselves are never touched."""
    keyring, connection = keyring_of(session), session.connection()
    entries = list(entries)
    keyring.load(connection, {recipient_id for entry in entries
                              if (recipient_id := sealed_for(entry.changes)) is not None})
    return [{"id": entry.id, "at": entry.at, "actor": entry.actor, "actor_id": entry.actor_id,
             "action": entry.action, "entity": entry.entity, "entity_id": entry.entity_id,
             "changes": open_changes(keyring, connection, entry.changes)}
            for entry in entries]


def history_of(session: Session, entity: str, entity_id: Any, limit: int = 100
               ) -> list[dict[str, Any]]:
    return readable_entries(session, session.scalars(
        select(AuditEntry).where(AuditEntry.entity == entity,
                                 AuditEntry.entity_id == str(entity_id))
        .order_by(AuditEntry.id.desc()).limit(limit)))
