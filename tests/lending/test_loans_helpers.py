"""Helpers shared by the recipient, loan and waitlist tests (no tests of its own).

Everything goes through the public surface: HTTP via the `client` fixture, or the
service functions with a session.
"""

import itertools
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from eligibility import load_policy
from lending.demo import with_luhn

API = "/api/v1"
POLICY = load_policy()
LONDON = ZoneInfo("Europe/London")
# Answers that show need for every kind under the default policy.
NEEDY = {"has_suitable_device": False, "has_home_internet": False, "can_afford_data": False,
         "referred_by_practitioner": True}

_numbers = itertools.count(1)


def make_device(client, headers, kind: str = "laptop", location: str = "LDN", **extra) -> str:
    n = next(_numbers)
    fields = {"kind": kind, "make": "Make", "model": f"Model {kind}", "location": location}
    if kind == "sim":
        fields["iccid"] = with_luhn(f"894410{n:012d}")
        fields["msisdn"] = f"+4474{n:08d}"
    fields.update(extra)
    response = client.post(f"{API}/devices", json=fields, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["asset_tag"]


def make_recipient(client, headers, location: str = "LDN", **fields) -> int:
    body = {"name": f"Person {next(_numbers)}", "location": location, "facts": dict(NEEDY)}
    body.update(fields)
    response = client.post(f"{API}/recipients", json=body, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()["id"]


def issue(client, headers, tag: str, recipient_id: int, **extra):
    return client.post(f"{API}/loans", json={"asset_tag": tag, "recipient_id": recipient_id,
                                             **extra}, headers=headers)


def wipe(client, headers, tag: str):
    return client.post(f"{API}/devices/{tag}/wipe", json={
        "method": "factory_reset", "account_lock_removed": True}, headers=headers)


def device_status(client, headers, tag: str) -> str:
    return client.get(f"{API}/devices/{tag}", headers=headers).json()["status"]


def at(text: str) -> datetime:
    """An aware UTC datetime from 'YYYY-MM-DD HH:MM' read as London time."""
    return datetime.fromisoformat(text).replace(tzinfo=LONDON).astimezone(UTC)
