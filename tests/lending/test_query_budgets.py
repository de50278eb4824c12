"""The query budget of every list endpoint, pinned at two sizes of data: a list that
queried once per row (an N+1) would cost more at 30 rows than at 2, and fail here."""

from litestar.testing import TestClient

from tests.lending.test_loans_helpers import API, NEEDY
from tests.query_count import app_trusting_tokens, queries_for

# Statements per request, whatever the number of rows: (SQLite, PostgreSQL) alike.
BUDGETS = {
    "/locations": 1,
    "/devices": 2,
    "/users": 2,
    # Lists that name people also write one audit entry of who was shown.
    # ... and the audit log opens the page's sealed values with one look-up of their keys.
    "/audit": 4,
    "/recipients": 3,
    "/loans": 3,
    "/waitlist?status=waiting": 3,
}


class Stock:
    """Grows every listed thing to a given number of rows, through the API."""

    def __init__(self, client, admin) -> None:
        self.client, self.admin = client, admin
        self.rows = 0

    def post(self, path: str, body: dict) -> dict:
        response = self.client.post(f"{API}{path}", json=body, headers=self.admin)
        assert response.status_code == 201, response.text
        return response.json()

    def grow_to(self, rows: int) -> None:
        for n in range(self.rows, rows):
            # Everything in its own office, so that a lookup per row could not hide in the
            # session's identity map.
            office = self.post("/locations", {"code": f"L{n:02d}", "name": f"Office {n}"})
            self.post("/users", {"email": f"user{n}@example.org", "location": office["code"]})
            tag = self.post("/devices", {"kind": "laptop", "make": "Make", "model": "M",
                                         "location": office["code"]})["asset_tag"]
            person = self.post("/recipients", {"name": f"Person {n}",
                                               "location": office["code"],
                                               "facts": dict(NEEDY)})
            self.post("/loans", {"asset_tag": tag, "recipient_id": person["id"]})
            # No office has a tablet: each person waits for one.
            self.post("/waitlist", {"recipient_id": person["id"], "kind": "tablet"})
        self.rows = rows


def _costs(client, engine, admin) -> dict[str, int]:
    client.get(f"{API}/me", headers=admin)  # the token is now looked up and touched
    return {path: queries_for(client, engine, f"{API}{path}", headers=admin)
            for path in BUDGETS}


def test_every_list_costs_the_same_queries_at_2_and_30_rows(settings, engine, admin):
    costs = []
    with TestClient(app=app_trusting_tokens(settings, engine)) as client:
        stock = Stock(client, admin)
        for rows in (2, 30):
            stock.grow_to(rows)
            costs.append(_costs(client, engine, admin))
    small, large = costs
    assert small == large == BUDGETS
