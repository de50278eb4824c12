"""The query budget of every page, pinned at two sizes of data: a page that queried once
per row shown (an N+1) would cost more at 30 rows than at 2, and fail here. Pages are
fetched by Litestar's test client, signed in through the login form; no browser needed."""

import re

from litestar.testing import TestClient

from tests.conftest import add_user
from tests.lending.test_loans_helpers import NEEDY
from tests.query_count import app_trusting_tokens, queries_for

PASSWORD = "correct horse battery"
# Statements per page, whatever the number of rows, on SQLite and PostgreSQL alike.
BUDGETS = {
    "home": 7, "devices": 3, "devices found": 3, "new device": 1, "import": 0,
    # the lists: + the offices, for the filter and the names in the rows
    "recipients": 4, "recipients found": 4, "new recipient": 1, "loans": 4,
    "returned loans": 4, "overdue loans": 4, "audit": 3, "labels": 1,
    "device": 5, "device, recipients found": 8, "move a device": 1, "issue": 7,
    # recipient: + the data vouchers given, + their texts and replies
    "recipient": 9, "loan": 3, "lost": 2, "messages": 4,
}


def _sign_in(client: TestClient, email: str) -> None:
    form = client.get("/login").text
    token = re.search(r'name="_csrf_token" value="([^"]+)"', form).group(1)
    response = client.post("/login", data={"email": email, "password": PASSWORD, "next": "/",
                                           "_csrf_token": token}, follow_redirects=False)
    assert response.status_code == 303, response.text


class Desk:
    """Grows the stock, people and loans through the API. One recipient borrows the same
    phone again and again, so that their page, the phone's and the loan lists all grow."""

    def __init__(self, client: TestClient, headers: dict[str, str]) -> None:
        self.client, self.headers = client, headers
        self.rows = 0
        self.post("/locations", {"code": "LDN", "name": "London"})
        self.regular = self.post("/recipients", {"name": "Regular", "location": "LDN",
                                                 "facts": dict(NEEDY)})["id"]
        self.phone = self.post("/devices", {"kind": "phone", "make": "Make", "model": "Kept",
                                            "location": "LDN"})["asset_tag"]
        self.last_loan = 0

    def post(self, path: str, body: dict, status: int = 201) -> dict:
        response = self.client.post(f"/api/v1{path}", json=body, headers=self.headers)
        assert response.status_code == status, response.text
        return response.json()

    def grow_to(self, rows: int) -> None:
        for n in range(self.rows, rows):
            tag = self.post("/devices", {"kind": "laptop", "make": "Make", "model": f"M{n}",
                                         "location": "LDN"})["asset_tag"]
            person = self.post("/recipients", {"name": f"Person {n}", "location": "LDN",
                                               "facts": dict(NEEDY)})["id"]
            self.post("/loans", {"asset_tag": tag, "recipient_id": person})
            self.last_loan = self.post("/loans", {"asset_tag": self.phone,
                                                  "recipient_id": self.regular})["id"]
            self.post(f"/loans/{self.last_loan}/return", {"condition": "A"}, status=200)
            self.post(f"/devices/{self.phone}/wipe", {"method": "factory_reset",
                                                      "account_lock_removed": True}, status=200)
        self.rows = rows

    def pages(self) -> dict[str, str]:
        """Every page, by a name that stays the same whatever the ids."""
        phone, regular, loan = self.phone, self.regular, self.last_loan
        return {"home": "/", "devices": "/devices", "devices found": "/devices?q=Make&kind=laptop",
                "new device": "/devices/new", "import": "/devices/import",
                "recipients": "/recipients",
                "recipients found": "/recipients?q=Person&status=all&location=LDN",
                "new recipient": "/recipients/new",
                "loans": "/loans", "returned loans": "/loans?status=returned&sort=recipient",
                "overdue loans": "/loans?status=overdue&location=LDN&kind=laptop&late=1-7"
                                 "&sort=due",
                "audit": "/audit?entity=device&actor=desk@example.org",
                "labels": "/labels", "device": f"/d/{phone}",
                "device, recipients found": f"/d/{phone}?recipient_q=Person",
                "move a device": f"/d/{phone}/status?to=in_repair",
                "issue": f"/d/{phone}/issue?recipient_id={regular}",
                "recipient": f"/recipients/{regular}", "loan": f"/loans/{loan}",
                "lost": f"/loans/{loan}/lost", "messages": "/messages"}


def test_every_page_costs_the_same_queries_at_2_and_30_rows(settings, engine):
    headers = add_user(engine, "desk@example.org", "manager", password=PASSWORD)
    with TestClient(app=app_trusting_tokens(settings, engine)) as client:
        desk = Desk(client, headers)
        _sign_in(client, "desk@example.org")
        costs = []
        for rows in (2, 30):
            desk.grow_to(rows)
            client.get("/")  # the session is now looked up and touched
            costs.append({name: queries_for(client, engine, page)
                          for name, page in desk.pages().items()})
    small, large = costs
    assert small == large == BUDGETS
