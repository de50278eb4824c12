"""Personal values in the audit log, sealed under a key per recipient (crypto-shredding).

The audit log is append-only, so a person's name written into it in clear could never be
erased. Instead every personal value in an entry about a recipient (or about their loans,
decisions, requests) is encrypted with that recipient's own key (AES-256-GCM); the key is
kept in `recipient_keys`, itself encrypted with a key derived from LENDING_SECRET_KEY
(HKDF-SHA256), so that a copy of the database alone reads nothing. Erasure deletes the
recipient's key: the entries stay, complete and unchanged, but what they sealed is gone.

A sealed entry keeps its clear fields as they were and holds, under `"sealed"`, which
recipient's key sealed it, the paths of the sealed values ("name", "after.mobile") and the
ciphertext. Readers open it with `open_changes`; without the key each path reads
"(erased)".
"""

import base64
import json
import os
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import Connection, delete, insert, select, update

from lending.audit.models import RecipientKey

ERASED = "(erased)"
SEALED = "sealed"

# The personal values of each entity that belongs to one recipient; "reason" (a written
# reason given with a change about a person) is sealed for all of them. When the
# notifications outbox lands, its message rows (number, text) are added here the same way.
PERSONAL_FIELDS: dict[str, frozenset[str]] = {
    "recipient": frozenset({"name", "mobile", "reference", "facts"}),
    "eligibility_decision": frozenset({"facts", "override_reason"}),
    "loan": frozenset({"return_notes", "lost_notes", "police_reference"}),
    "waitlist_request": frozenset({"notes", "moved_up_reason"}),
}
ALWAYS_SEALED = frozenset({"reason"})


def _key_encryption_key(secret: str) -> AESGCM:
    if not secret:
        raise RuntimeError("the audit log needs LENDING_SECRET_KEY to seal personal values")
    derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                   info=b"lending recipient keys v1").derive(secret.encode())
    return AESGCM(derived)


def _aad(recipient_id: int) -> bytes:
    return f"recipient:{recipient_id}".encode()


def _wrap(secret: str, recipient_id: int, key: bytes) -> str:
    nonce = os.urandom(12)
    sealed = _key_encryption_key(secret).encrypt(nonce, key, _aad(recipient_id))
    return base64.b64encode(nonce + sealed).decode()


def _unwrap(secret: str, recipient_id: int, wrapped: str) -> bytes:
    raw = base64.b64decode(wrapped)
    try:
        return _key_encryption_key(secret).decrypt(raw[:12], raw[12:], _aad(recipient_id))
    except InvalidTag:
        raise RuntimeError("a recipient key does not open with this LENDING_SECRET_KEY: "
                           "the secret has changed since the key was made") from None


class Keyring:
    """The recipient keys one transaction has used, unwrapped once."""

    def __init__(self, secret: str) -> None:
        self.secret = secret
        self._keys: dict[int, bytes | None] = {}
        # Recipients known, from a bulk load, to have no key (erased).
        self._missing: set[int] = set()

    def load(self, connection: Connection, recipient_ids: set[int]) -> None:
        """Unwraps the keys of these recipients with one query, so that reading a page of
        the log costs the same whatever the number of people on it."""
        wanted = recipient_ids - self._keys.keys() - self._missing
        if not wanted:
            return
        rows = connection.execute(select(RecipientKey.recipient_id, RecipientKey.wrapped_key)
                                  .where(RecipientKey.recipient_id.in_(wanted))).all()
        for recipient_id, wrapped in rows:
            self._keys[recipient_id] = _unwrap(self.secret, recipient_id, wrapped)
        self._missing |= wanted - {recipient_id for recipient_id, _ in rows}

    def key_for(self, connection: Connection, recipient_id: int, create: bool = False
                ) -> bytes | None:
        key = self._keys.get(recipient_id)
        if key is None and (create or recipient_id not in self._missing):
            wrapped = connection.scalar(select(RecipientKey.wrapped_key).where(
                RecipientKey.recipient_id == recipient_id))
            if wrapped is not None:
                key = _unwrap(self.secret, recipient_id, wrapped)
            elif create:
                key = AESGCM.generate_key(bit_length=256)
                connection.execute(insert(RecipientKey).values(
                    recipient_id=recipient_id, wrapped_key=_wrap(self.secret, recipient_id, key),
                    created_at=datetime.now(UTC)))
            if key is not None:
                self._keys[recipient_id] = key
                self._missing.discard(recipient_id)
        return key

    def destroy(self, connection: Connection, recipient_id: int) -> None:
        connection.execute(delete(RecipientKey).where(RecipientKey.recipient_id == recipient_id))
        self._keys.pop(recipient_id, None)
        self._missing.add(recipient_id)


def rewrap_keys(connection: Connection, old_secret: str, new_secret: str) -> int:
    """Seals every recipient key afresh under a new LENDING_SECRET_KEY; the entries they
    open are untouched. Refuses, changing nothing, if a key does not open with the old
    secret."""
    rows = connection.execute(select(RecipientKey.recipient_id, RecipientKey.wrapped_key)
                              ).all()
    for recipient_id, wrapped in rows:
        key = _unwrap(old_secret, recipient_id, wrapped)
        connection.execute(update(RecipientKey).where(
            RecipientKey.recipient_id == recipient_id).values(
            wrapped_key=_wrap(new_secret, recipient_id, key)))
    return len(rows)


def personal_paths(entity: str, changes: dict[str, Any]) -> list[tuple[str, ...]]:
    fields = PERSONAL_FIELDS.get(entity, frozenset()) | ALWAYS_SEALED
    paths: list[tuple[str, ...]] = []
    for key, value in changes.items():
        if key in ("after", "before") and isinstance(value, dict):
            paths.extend((key, inner) for inner in value if inner in fields)
        elif key in fields:
            paths.append((key,))
    return paths


def seal(keyring: Keyring, connection: Connection, entity: str, recipient_id: int,
         changes: dict[str, Any]) -> dict[str, Any]:
    """`changes` with its personal values replaced by one ciphertext under the recipient's
    key (made on first use)."""
    paths = personal_paths(entity, changes)
    if not paths:
        return changes
    key = keyring.key_for(connection, recipient_id, create=True)
    clear = json.loads(json.dumps(changes))
    values = {}
    for path in paths:
        holder = clear
        for part in path[:-1]:
            holder = holder[part]
        values[".".join(path)] = holder.pop(path[-1])
    nonce = os.urandom(12)
    ciphertext = AESGCM(key).encrypt(nonce, json.dumps(values).encode(), _aad(recipient_id))
    clear[SEALED] = {"recipient_id": recipient_id, "paths": sorted(values),
                     "data": base64.b64encode(nonce + ciphertext).decode()}
    return clear


def sealed_for(changes: Any) -> int | None:
    """The recipient whose key opens these changes, if they hold sealed values."""
    sealed = changes.get(SEALED) if isinstance(changes, dict) else None
    return int(sealed["recipient_id"]) if isinstance(sealed, dict) else None


def open_changes(keyring: Keyring, connection: Connection, changes: dict[str, Any]
                 ) -> dict[str, Any]:
    """`changes` as written, its sealed values back in place, or "(erased)" where the
    recipient's key is gone."""
    sealed = changes.get(SEALED) if isinstance(changes, dict) else None
    if not isinstance(sealed, dict):
        return changes
    opened = {key: value for key, value in changes.items() if key != SEALED}
    opened = json.loads(json.dumps(opened))
    recipient_id = int(sealed["recipient_id"])
    key = keyring.key_for(connection, recipient_id)
    values: dict[str, Any] = {}
    if key is not None:
        raw = base64.b64decode(sealed["data"])
        values = json.loads(AESGCM(key).decrypt(raw[:12], raw[12:], _aad(recipient_id)))
    for path in sealed["paths"]:
        *parents, last = path.split(".")
        holder = opened
        for part in parents:
            holder = holder.setdefault(part, {})
        holder[last] = values.get(path, ERASED)
    return opened
