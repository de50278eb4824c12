"""The permission matrix: every route the app serves, asked by nobody, staff, a manager and
an admin, answers as this table says. The table is checked against the app's own route
list, so a route added without a line here fails the build."""

import re

import pytest

from tests.conftest import add_user

# METHOD path: the least role that may use it ("public": no sign-in at all; "provider": no
# staff sign-in either, but only the SMS provider's own credentials get in, so every staff
# role is refused like anyone else).
MATRIX = """
GET /api/v1/vouchers staff
GET /recipients/{recipient_id:int}/data staff
POST /api/v1/devices/{asset_tag:str}/plan staff
POST /api/v1/recipients/{recipient_id:int}/declarations manager
POST /api/v1/recipients/{recipient_id:int}/vouchers staff
POST /api/v1/vouchers/import staff
POST /recipients/{recipient_id:int}/data staff
GET /api/v1/notifications staff
POST /api/v1/notifications/callbacks/notify provider
POST /api/v1/notifications/callbacks/twilio provider
POST /api/v1/notifications/inbound/notify provider
POST /api/v1/notifications/inbound/twilio provider
GET /account/password staff
GET /admin/users admin
GET /admin/users/{user_id:int} admin
GET /audit manager
GET /d/{asset_tag:str}/agreement.pdf staff
GET /d/{asset_tag:str}/edit staff
GET /devices/import/template.csv staff
GET /recipients/{recipient_id:int}/edit staff
GET /scan/camera staff
GET /messages manager
GET /waitlist manager
POST /account/password staff
POST /admin/users admin
POST /admin/users/{user_id:int} admin
POST /admin/users/{user_id:int}/tokens admin
POST /admin/users/{user_id:int}/tokens/{token_id:int}/revoke admin
POST /d/{asset_tag:str}/edit staff
POST /recipients/{recipient_id:int}/edit staff
POST /messages/replies/read manager
POST /waitlist/{request_id:int} manager
GET /api/v1/reports manager
GET /api/v1/reports/{name:str} manager
GET /api/v1/reports/stock manager
GET /api/v1/reports/stock.csv manager
GET /api/v1/reports/stock.pdf manager
GET /api/v1/stocktakes staff
GET /api/v1/stocktakes/{stocktake_id:int} staff
GET /reports manager
GET /stocktakes staff
GET /stocktakes/{stocktake_id:int} staff
GET /stocktakes/{stocktake_id:int}/camera staff
POST /api/v1/stocktakes staff
POST /api/v1/stocktakes/{stocktake_id:int}/close staff
POST /api/v1/stocktakes/{stocktake_id:int}/missing/{asset_tag:str} manager
POST /api/v1/stocktakes/{stocktake_id:int}/scans staff
POST /stocktakes staff
POST /stocktakes/{stocktake_id:int}/close staff
POST /stocktakes/{stocktake_id:int}/missing/{asset_tag:str} manager
POST /stocktakes/{stocktake_id:int}/camera staff
POST /stocktakes/{stocktake_id:int}/scan staff
GET / staff
GET /api/v1/audit manager
GET /api/v1/devices staff
GET /api/v1/devices/{asset_tag:str} staff
GET /api/v1/devices/{asset_tag:str}/qr.png staff
GET /api/v1/devices/{asset_tag:str}/qr.svg staff
GET /api/v1/labels/alignment/{template:str} staff
GET /api/v1/loans staff
GET /api/v1/loans/{loan_id:int} staff
GET /api/v1/loans/{loan_id:int}/agreement.pdf staff
GET /api/v1/locations staff
GET /api/v1/me staff
POST /api/v1/me/password staff
GET /api/v1/recipients staff
GET /api/v1/recipients/{recipient_id:int} staff
GET /api/v1/recipients/{recipient_id:int}/eligibility staff
GET /api/v1/recipients/{recipient_id:int}/export manager
GET /api/v1/recipients/{recipient_id:int}/export.pdf manager
GET /api/v1/users admin
GET /api/v1/users/{user_id:int}/tokens admin
GET /api/v1/waitlist staff
GET /api/v1/waitlist/{request_id:int} staff
GET /d/{asset_tag:str} staff
GET /d/{asset_tag:str}/issue staff
GET /d/{asset_tag:str}/status staff
GET /devices staff
GET /devices/import staff
GET /devices/new staff
GET /health public
GET /labels staff
GET /lend staff
GET /loans staff
GET /loans/{loan_id:int} staff
GET /loans/{loan_id:int}/lost staff
GET /login public
GET /recipients staff
GET /recipients/new staff
GET /recipients/{recipient_id:int} staff
GET /scan staff
GET /schema public
GET /schema/oauth2-redirect.html public
GET /schema/openapi.json public
GET /schema/swagger public
GET /schema/{path:str} public
GET /static/swagger/{file_path:path} public
GET /static/{file_path:path} public
PATCH /api/v1/devices/{asset_tag:str} staff
PATCH /api/v1/recipients/{recipient_id:int} staff
PATCH /api/v1/users/{user_id:int} admin
POST /api/v1/devices staff
POST /api/v1/devices/import staff
POST /api/v1/devices/{asset_tag:str}/status staff
POST /api/v1/devices/{asset_tag:str}/wipe staff
POST /api/v1/labels staff
POST /api/v1/loans staff
POST /api/v1/loans/{loan_id:int}/found staff
POST /api/v1/loans/{loan_id:int}/lost staff
POST /api/v1/loans/{loan_id:int}/more-time staff
POST /api/v1/loans/{loan_id:int}/renew staff
POST /api/v1/loans/{loan_id:int}/return staff
POST /api/v1/locations manager
POST /api/v1/recipients staff
POST /api/v1/recipients/{recipient_id:int}/overrides manager
POST /api/v1/users admin
POST /api/v1/users/tokens/{token_id:int}/revoke admin
POST /api/v1/users/{user_id:int}/tokens admin
POST /api/v1/waitlist staff
POST /api/v1/waitlist/expire-offers staff
POST /api/v1/waitlist/{request_id:int}/cancel staff
POST /api/v1/waitlist/{request_id:int}/move-up manager
POST /d/{asset_tag:str}/issue staff
POST /d/{asset_tag:str}/status staff
POST /d/{asset_tag:str}/wipe staff
POST /devices/import staff
POST /devices/new staff
POST /labels staff
POST /loans/{loan_id:int}/lost staff
POST /loans/{loan_id:int}/more-time staff
POST /loans/{loan_id:int}/renew staff
POST /loans/{loan_id:int}/return staff
POST /login public
POST /logout public
POST /recipients/new staff
POST /recipients/{recipient_id:int}/declarations manager
POST /recipients/{recipient_id:int}/override manager
"""
RANK = {"public": 0, "staff": 1, "manager": 2, "admin": 3, "provider": 4}
CALLERS = ["none", "staff", "manager", "admin"]
# Path parameters no row has: an allowed caller gets past the guard to a 404 or 422, and
# nothing is changed (no token revoked, no account edited) on the way.
SAMPLE = {"int": "999999", "str": "NOPE-1", "path": "style.css"}


def _served_routes(app) -> set[tuple[str, str]]:
    served = set()
    for route in app.routes:
        for handler in getattr(route, "route_handlers", []):
            for method in handler.http_methods:
                if method not in ("OPTIONS", "HEAD"):  # answered by the framework
                    served.add((method, route.path))
    return served


def _matrix() -> dict[tuple[str, str], str]:
    rows = [line.split() for line in MATRIX.strip().splitlines()]
    return {(method, path): role for method, path, role in rows}


def test_every_route_has_a_line_in_the_matrix(app):
    served, matrix = _served_routes(app), _matrix()
    unruled, stale = sorted(served - set(matrix)), sorted(set(matrix) - served)
    assert not unruled, f"routes with no rule in MATRIX: {unruled}"
    assert not stale, f"rules for routes not served: {stale}"


def _concrete(path: str) -> str:
    path = path.replace("{template:str}", "avery-l7160")
    return re.sub(r"\{\w+:(\w+)\}", lambda m: SAMPLE[m.group(1)], path)


def test_every_route_answers_each_role_as_the_matrix_says(app, client, engine):
    headers = {"none": {}, **{role: add_user(engine, f"{role}@example.org", role)
                               for role in ("staff", "manager", "admin")}}
    client.get("/login")
    csrf = client.cookies.get("lending_csrf")
    wrong = []
    for (method, path), least in sorted(_matrix().items()):
        url = _concrete(path)
        for caller in CALLERS:
            kwargs = {"headers": headers[caller], "follow_redirects": False}
            if method != "GET":
                if path.startswith("/api/"):
                    kwargs["json"] = {}
                else:
                    kwargs["data"] = {"_csrf_token": csrf}
            client.cookies.delete("lending_session")
            status = client.request(method, url, **kwargs).status_code
            allowed = RANK[least] <= RANK.get(caller, 0)
            if least == "provider":
                ok = status in (401, 403)
            elif allowed:
                ok = status not in (401, 403)
            elif caller == "none":
                ok = status in (401, 302, 303)
            else:
                ok = status == 403
            if not ok:
                wrong.append(f"{method} {path} as {caller}: {status} (least role {least})")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("path", ["/login", "/health"])
def test_public_routes_need_no_sign_in(client, path):
    assert client.get(path).status_code == 200
