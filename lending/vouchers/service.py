"""Data vouchers: imported as stock, given by the policy, delivered by text, expired on time.

A voucher's code is money. It is stored only encrypted (AES-GCM, key derived from the
service's secret with HKDF and a purpose label), beside a keyed hash of the normalised code
(HMAC-SHA256, another derived key) that makes a code already held a bad row without ever
storing the code in clear. The clear code goes in exactly two places: the text queued to the
recipient, and the one answer to staff who hand it over on paper (that reveal is audited).
It is never in a list, a log line, an audit entry or an error message.
"""

import csv
import hmac
import io
import math
import os
import re
from collections.abc import Callable
from datetime import UTC, date, datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any
from zoneinfo import ZoneInfo

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import bindparam, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from eligibility import DATA, Policy
from inventory.bulk import cycle_collection_paused, insert_rows
from inventory.models import Location
from inventory.service import Conflict, ImportRejected, Invalid, list_locations
from lending.accounts.models import User
from lending.accounts.service import require_manager
from lending.audit.service import record_read
from lending.decisions.service import (
    Ineligible,
    decision_record,
    eligibility_of,
    lock_recipient,
    standing_override,
)
from lending.vouchers.models import Voucher, VoucherStatus
from lending.vouchers.schemas import VoucherIssue
from notifications.service import queue_message
from notifications.texts import MAX_CODE, Kind, render_voucher

IMPORT_COLUMNS = ("location", "network", "code", "data_gb", "expires_on")
MAX_GB = 1000
_CODE_CHARACTERS = re.compile(r"[A-Z0-9]+")
_SEPARATORS = re.compile(r"[\s\-]+")
# Expanding IN lists are cut to this many values (SQLite allows 32,766 per statement).
_CHUNK = 5000


# --- the codes -------------------------------------------------------------------------------

def normalise_code(raw: str) -> str:
    """A code as printed may carry spaces, dashes and lower case: none of them matter."""
    return _SEPARATORS.sub("", raw).upper()


class CodeBox:
    """Encrypts, decrypts and fingerprints voucher codes with keys derived from the service's
    secret (`LENDING_SECRET_KEY`). Changing that secret makes held codes unreadable: rotate
    it only with the vouchers re-imported."""

    def __init__(self, secret: str) -> None:
        if not secret:
            raise ValueError("voucher codes need the service's secret key")
        self._aead = AESGCM(self._derive(secret, b"lending voucher codes: encryption v1"))
        self._mac_key = self._derive(secret, b"lending voucher codes: uniqueness v1")

    @staticmethod
    def _derive(secret: str, purpose: bytes) -> bytes:
        return HKDF(algorithm=hashes.SHA256(), length=32, salt=None,
                    info=purpose).derive(secret.encode())

    def digest(self, code: str) -> str:
        return self.digest_normalised(normalise_code(code))

    def digest_normalised(self, code: str) -> str:
        return hmac.digest(self._mac_key, code.encode(), "sha256").hex()

    def encrypt(self, code: str) -> bytes:
        return self.encrypt_normalised([normalise_code(code)])[0]

    def encrypt_normalised(self, codes: list[str]) -> list[bytes]:
        """Each code sealed under a fresh random nonce (drawn in one call for the batch)."""
        nonces = os.urandom(12 * len(codes))
        seal = self._aead.encrypt
        return [nonce + seal(nonce, code.encode(), None) for nonce, code in zip(
            (nonces[i:i + 12] for i in range(0, len(nonces), 12)), codes, strict=True)]

    def decrypt(self, sealed: bytes) -> str:
        return self._aead.decrypt(bytes(sealed[:12]), bytes(sealed[12:]), None).decode()


@lru_cache(maxsize=4)
def code_box(secret: str) -> CodeBox:
    """The CodeBox for the service's secret, built once."""
    return CodeBox(secret)


# --- import ----------------------------------------------------------------------------------

def _read_csv(text: str) -> tuple[list[str], list[list[str]]]:
    if "\x00" in text:
        line = text.count("\n", 0, text.index("\x00")) + 1
        raise ImportRejected([{"line": line, "field": "file",
                               "message": "the file holds a NUL character: it is not text"}])
    reader = csv.reader(io.StringIO(text.lstrip("\ufeff")))
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        return header, list(reader)
    except csv.Error as error:
        raise ImportRejected([{"line": reader.line_num or 1, "field": "file",
                               "message": f"the file cannot be read as CSV: {error}"}]
                             ) from error


def _row_values(line: int, cells: dict[str, str], locations: dict[str, int], today: date,
                problems: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One row checked field by field; every problem is added, never the code itself."""
    found: list[dict[str, Any]] = []

    def bad(field: str, message: str) -> None:
        found.append({"line": line, "field": field, "message": message})

    location = cells.get("location", "").strip().upper()
    if location not in locations:
        bad("location", f"no location has the code {location!r}" if location
            else "the office code is missing")
    network = " ".join(cells.get("network", "").split())
    if not network or len(network) > 40:
        bad("network", "the network is missing: enter its name, like EE" if not network
            else "the network is too long: use at most 40 characters")
    code = normalise_code(cells.get("code", ""))
    if not code:
        bad("code", "the code is missing")
    elif not _CODE_CHARACTERS.fullmatch(code) or not 4 <= len(code) <= MAX_CODE:
        bad("code", f"the code must be 4 to {MAX_CODE} letters and digits (spaces and "
                    "dashes are ignored)")
    gb = None
    try:
        gb = float(cells.get("data_gb", "").strip())
        if not math.isfinite(gb) or not 0 < gb <= MAX_GB:
            raise ValueError
    except ValueError:
        bad("data_gb", f"the data must be a number of gigabytes above 0 and at most "
                       f"{MAX_GB:g}, like 20")
    expires_on = None
    raw_date = cells.get("expires_on", "").strip()
    try:
        expires_on = date.fromisoformat(raw_date)
        if len(raw_date) != 10:
            raise ValueError
        if expires_on < today:
            bad("expires_on", f"{expires_on.isoformat()} has passed: the voucher has expired")
    except ValueError:
        bad("expires_on", "the expiry date must be a date written year-month-day, like "
                          f"2026-03-27, not {raw_date!r}" if raw_date
            else "the expiry date is missing")
    problems.extend(found)
    good_code = not any(problem["field"] == "code" for problem in found)
    return {"location_id": locations.get(location), "network": network,
            "code": code if good_code else None, "data_gb": gb, "expires_on": expires_on,
            "ok": not found}


def _codes_held(session: Session, digests: list[str]) -> set[str]:
    statement = select(Voucher.code_digest).where(
        Voucher.code_digest.in_(bindparam("digests", expanding=True)))
    held: set[str] = set()
    for start in range(0, len(digests), _CHUNK):
        held.update(session.scalars(statement, {"digests": digests[start:start + _CHUNK]}))
    return held


@cycle_collection_paused()
def import_vouchers(session: Session, text: str, codes: CodeBox, today: date,
                    progress: Callable[[int, int], None] | None = None,
                    now: datetime | None = None) -> int:
    """Imports every row of a CSV file (`location, network, code, data_gb, expires_on`) or
    none; every bad row is named by its line and field. A code repeated in the file, or
    already held (whatever its status), is a bad row. Returns how many were imported."""
    now = now or datetime.now(UTC)
    header, rows_read = _read_csv(text)
    unknown = [name for name in header if name not in IMPORT_COLUMNS]
    missing = [name for name in IMPORT_COLUMNS if name not in header]
    if unknown or missing:
        problem = (f"unknown column(s) {', '.join(unknown)}" if unknown
                   else f"missing column(s) {', '.join(missing)}")
        raise ImportRejected([{"line": 1, "field": "header", "message":
                               f"{problem}; expected columns: {', '.join(IMPORT_COLUMNS)}"}])
    locations = {location.code: location.id for location in list_locations(session)}
    problems: list[dict[str, Any]] = []
    checked: list[tuple[int, dict[str, Any]]] = []
    # Lines are numbered as a spreadsheet shows them; blank rows are skipped.
    for index, values in enumerate(rows_read):
        if not any(value.strip() for value in values):
            continue
        line = index + 2
        if len(values) > len(header):
            problems.append({"line": line, "field": "row", "message": "more values than columns"})
            continue
        checked.append((line, _row_values(line, dict(zip(header, values, strict=False)),
                                          locations, today, problems)))
    total = len(checked) + sum(1 for p in problems if p["field"] == "row")
    if not total:
        problems.append({"line": 1, "field": "file", "message": "the file has no rows"})
    if progress:
        progress(total // 2, total)

    first_line_of: dict[str, int] = {}
    digest_of = codes.digest_normalised
    for line, row in checked:
        if row["code"] is None:
            continue
        row["code_digest"] = digest = digest_of(row["code"])
        if digest in first_line_of:
            problems.append({"line": line, "field": "code", "message":
                             f"the same code as line {first_line_of[digest]}"})
        else:
            first_line_of[digest] = line
    for digest in _codes_held(session, list(first_line_of)):
        problems.append({"line": first_line_of[digest], "field": "code",
                         "message": "a voucher with this code is already held"})
    if problems:
        raise ImportRejected(sorted(problems, key=itemgetter("line")))

    checked = [(line, row) for line, row in checked if row["ok"]]
    # A network is spelt as it was first imported ("EE", not "ee"), so stock groups as one.
    spelling = {name.lower(): name for name in session.scalars(
        select(Voucher.network).distinct())}
    for _, row in checked:
        row["network"] = spelling.setdefault(row["network"].lower(), row["network"])
    actor = session.info.get("actor", "system")
    columns = ("location_id", "network", "data_gb", "expires_on", "code_ciphertext",
               "code_digest", "status", "imported_at", "imported_by")
    available = VoucherStatus.available.value
    sealed = codes.encrypt_normalised([row.pop("code") for _, row in checked])
    records = [(row["location_id"], row["network"], row["data_gb"], row["expires_on"],
                code, row["code_digest"], available, now, actor)
               for (_, row), code in zip(checked, sealed, strict=True)]
    newest_before = session.scalar(select(func.max(Voucher.id))) or 0
    insert_rows(session.connection(), Voucher.__table__, columns, records)
    # The import is audited as one entry naming every voucher it made, with what the file
    # held but the codes: a bulk write of the same rows again would double its cost.
    ids = list(session.scalars(select(Voucher.id).where(
        Voucher.id > newest_before, Voucher.imported_at == now,
        Voucher.imported_by == actor).order_by(Voucher.id)))
    by_network: dict[str, int] = {}
    for record in records:
        by_network[record[1]] = by_network.get(record[1], 0) + 1
    session.info.setdefault("audit_bulk", []).append((
        "voucher", f"{ids[0]}-{ids[-1]}", "import",
        {"count": len(records), "by_network": by_network,
         "gb": round(sum(record[2] for record in records), 3),
         "locations": sorted({record[0] for record in records}), "ids": ids}))
    try:
        session.commit()
    except IntegrityError as error:
        session.rollback()
        raise Conflict("a voucher in the file was imported by someone else a moment ago; "
                       "nothing was imported", "code") from error
    if progress:
        progress(total, total)
    return len(records)


# --- stock -----------------------------------------------------------------------------------

def voucher_stock(session: Session, location: str | None = None, network: str | None = None,
                  status: str | None = None) -> dict[str, Any]:
    """Counts and gigabytes by network and status: never a code."""
    conditions = []
    if location:
        conditions.append(Location.code == location.strip().upper())
    if network:
        conditions.append(func.lower(Voucher.network) == network.strip().lower())
    if status:
        conditions.append(Voucher.status == VoucherStatus(status).value)
    rows = session.execute(
        select(Voucher.network, Voucher.status, func.count(), func.sum(Voucher.data_gb),
               func.min(Voucher.expires_on))
        .join(Location, Location.id == Voucher.location_id).where(*conditions)
        .group_by(Voucher.network, Voucher.status).order_by(Voucher.network, Voucher.status)
    ).all()
    by_network: dict[str, dict[str, Any]] = {}
    for name, state, count, gb, soonest in rows:
        entry = by_network.setdefault(name, {"network": name, "available": 0, "issued": 0,
                                             "expired": 0, "available_gb": 0.0,
                                             "issued_gb": 0.0, "expired_gb": 0.0,
                                             "next_expiry": None})
        entry[state] = count
        entry[f"{state}_gb"] = round(float(gb or 0), 3)
        if state == VoucherStatus.available:
            entry["next_expiry"] = soonest
    networks = list(by_network.values())
    return {"networks": networks,
            "total": {key: sum(n[key] for n in networks) for key in (
                "available", "issued", "expired")},
            "total_gb": {key: round(sum(n[f"{key}_gb"] for n in networks), 3)
                         for key in ("available", "issued", "expired")}}


def vouchers_of(session: Session, recipient_id: int) -> list[dict[str, Any]]:
    """The vouchers given to a recipient, newest first: never their codes."""
    rows = session.execute(
        select(Voucher.id, Voucher.network, Voucher.data_gb, Voucher.expires_on,
               Voucher.issued_at, Voucher.issued_by, Voucher.delivery)
        .where(Voucher.recipient_id == recipient_id).order_by(Voucher.issued_at.desc())
        .limit(200)).all()
    return [dict(row._mapping) for row in rows]


def vouchers_given_to(session: Session, recipient_id: int, limit: int = 500, offset: int = 0
                      ) -> list[dict[str, Any]]:
    """The vouchers given to a recipient, oldest first, with their codes: for their own
    subject-access export, the one place a code is shown again after the text or slip that
    gave it. The codes open with the service's secret, which `lending.db.session_for` puts
    in the session."""
    codes = code_box(session.info["secret_key"])
    given = session.scalars(
        select(Voucher).where(Voucher.recipient_id == recipient_id)
        .order_by(Voucher.issued_at, Voucher.id).limit(limit).offset(offset)).all()
    return [{**voucher_row(voucher), "code": codes.decrypt(voucher.code_ciphertext)}
            for voucher in given]


def voucher_row(voucher: Voucher) -> dict[str, Any]:
    return {"id": voucher.id, "network": voucher.network, "data_gb": voucher.data_gb,
            "expires_on": voucher.expires_on, "issued_at": voucher.issued_at,
            "delivery": voucher.delivery}


# --- giving data -----------------------------------------------------------------------------

_CLAIM = (select(Voucher)
          .where(Voucher.location_id == bindparam("location_id"),
                 Voucher.status == VoucherStatus.available.value,
                 Voucher.expires_on >= bindparam("today"))
          .order_by(Voucher.expires_on, Voucher.id).limit(1)
          .with_for_update(skip_locked=True))
_CLAIM_OF_NETWORK = _CLAIM.where(func.lower(Voucher.network) == bindparam("network"))


def _refusal(decision) -> str:
    reasons = "; ".join(r.message for r in decision.reasons
                        if r.code not in ("need_shown", "checks_passed",
                                          "restriction_allows_data"))
    if not decision.overridable:
        return f"not eligible for data, and this cannot be overridden: {reasons}"
    if decision.outcome == "needs_review":
        return f"data needs a manager's review first: {reasons}"
    return f"not eligible for data: {reasons}"


def _keep_decision_and_refuse(session: Session, record, error: Exception) -> None:
    session.add(record)
    session.commit()
    raise error


def issue_voucher(session: Session, recipient_id: int, data: VoucherIssue, policy: Policy,
                  zone: ZoneInfo, codes: CodeBox, actor: User | None = None,
                  now: datetime | None = None) -> tuple[Voucher, str | None]:
    """Gives a recipient the available voucher (of the network asked for, or any) that
    expires soonest at their office, if the policy's `[data]` rules allow it; a manager may
    override an overridable refusal with a written reason, here or ahead of time.

    The code goes to the recipient by text, queued in the same transaction under the key
    `voucher:{id}:code` (so exactly once); with `send_sms` false it is returned, to be shown
    once to staff for a printed slip, and that reveal is audited. Returns (voucher, code
    when revealed, else None). Refusals: 422 (policy, or no number to text), 409 (none
    left); a refusal by the policy is stored as a decision."""
    now = now or datetime.now(UTC)
    today = now.astimezone(zone).date()
    if data.override_reason:
        require_manager(actor, "overriding eligibility")
    recipient, home = lock_recipient(session, recipient_id, "recipient_id")
    if data.send_sms and (recipient.sms_opt_out or not recipient.mobile):
        why = ("has opted out of texts" if recipient.sms_opt_out and recipient.mobile
               else "has no mobile number")
        raise Invalid(f"the recipient {why}: give the code on a printed slip instead "
                      "(send_sms: false)", "send_sms")
    decision, circumstances = eligibility_of(session, recipient, DATA, policy, today, zone)
    record = decision_record(session, recipient, DATA, decision, circumstances)
    if decision.outcome != "eligible":
        refusal = Ineligible(decision, _refusal(decision))
        if not decision.overridable:
            _keep_decision_and_refuse(session, record, refusal)
        if data.override_reason:
            record.override_reason = data.override_reason
            record.overridden_by = actor.email if actor else None
        else:
            ahead = standing_override(session, recipient, DATA, decision)
            # An override lets one voucher through: a voucher given since has used it (a
            # voucher is no loan for the override to point at).
            if ahead is None or session.scalar(select(Voucher.id).where(
                    Voucher.recipient_id == recipient.id,
                    Voucher.issued_at >= ahead.decided_at).limit(1)) is not None:
                _keep_decision_and_refuse(session, record, refusal)
            record.override_reason = ahead.override_reason
            record.overridden_by = ahead.overridden_by
    params: dict[str, Any] = {"location_id": home.id, "today": today}
    statement = _CLAIM
    if data.network:
        statement = _CLAIM_OF_NETWORK
        params["network"] = data.network.strip().lower()
    voucher = session.scalars(statement, params).first()
    if voucher is None:
        session.rollback()
        which = f"{data.network} " if data.network else ""
        raise Conflict(f"no {which}data voucher is left at {home.code}", "network")
    session.add(record)
    session.flush()
    voucher.status = VoucherStatus.issued.value
    voucher.recipient_id = recipient.id
    voucher.issued_at = now
    voucher.issued_by = session.info.get("actor", "system")
    voucher.delivery = "sms" if data.send_sms else "slip"
    voucher.decision_id = record.id
    code = codes.decrypt(voucher.code_ciphertext)
    if data.send_sms:
        queue_message(session, key=f"voucher:{voucher.id}:code", to=recipient.mobile,
                      language=recipient.language, kind=Kind.voucher.value,
                      body=render_voucher(recipient.language, network=voucher.network,
                                          gb=voucher.data_gb, code=code,
                                          on=voucher.expires_on),
                      recipient_id=recipient.id, now=now)
        revealed = None
    else:
        record_read(session, "voucher", voucher.id, {"what": "code shown to staff",
                                                     "recipient_id": recipient.id})
        revealed = code
    session.commit()
    return voucher, revealed


# --- expiry ----------------------------------------------------------------------------------

def expire_vouchers(session: Session, today: date, now: datetime | None = None) -> int:
    """Available vouchers past their expiry date leave the stock: how many. Safe to run from
    several schedulers at once (rows another run holds are skipped, and only rows still
    available change). Audited as one entry naming the vouchers expired."""
    now = now or datetime.now(UTC)
    ids = list(session.scalars(
        select(Voucher.id).where(Voucher.status == VoucherStatus.available.value,
                                 Voucher.expires_on < today)
        .order_by(Voucher.id).with_for_update(skip_locked=True)))
    if not ids:
        session.rollback()
        return 0
    session.execute(
        update(Voucher).where(Voucher.id.in_(ids),
                              Voucher.status == VoucherStatus.available.value)
        .values(status=VoucherStatus.expired.value, expired_at=now)
        .execution_options(synchronize_session=False))
    session.info.setdefault("audit_bulk", []).append((
        "voucher", f"{ids[0]}-{ids[-1]}", "status",
        {"status": VoucherStatus.expired.value, "count": len(ids), "ids": ids}))
    session.commit()
    return len(ids)
