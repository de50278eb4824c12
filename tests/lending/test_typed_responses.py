"""Every JSON answer under /api/v1 is described by the OpenAPI document, and the answers
match what it describes: each is validated against its declared model, whose `extra="forbid"`
catches a field the model does not name."""

from pydantic import BaseModel, TypeAdapter

from inventory.schemas import DeviceRead, LocationRead, Page
from lending.accounts.schemas import TokenRead, UserRead
from lending.audit.schemas import AuditEntryRead
from lending.decisions.schemas import EligibilityOutcome
from lending.details import DeviceView, RecipientDetail
from lending.loans.schemas import IssuedLoan, LoanRead
from lending.recipients.schemas import RecipientSummary
from lending.waitlist.schemas import OffersExpired, WaitlistRequestRead
from tests.lending.test_loans_helpers import API, issue, make_device, make_recipient


def _resolve(document: dict, schema: dict) -> dict:
    while "$ref" in schema:
        schema = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_json_answer_has_a_schema_with_properties(client):
    document = client.get("/schema/openapi.json").json()
    undescribed = []
    for path, operations in document["paths"].items():
        if not path.startswith(API):
            continue
        for method, operation in operations.items():
            for status, response in operation.get("responses", {}).items():
                if not status.startswith("2") or status == "204":
                    continue
                content = response.get("content", {})
                if not content:
                    undescribed.append(f"{method.upper()} {path} {status}: no content")
                json_body = content.get("application/json")
                if json_body is None:
                    continue  # a PDF, an image: described by its media type
                schema = json_body.get("schema")
                if not schema:
                    undescribed.append(f"{method.upper()} {path} {status}: no schema")
                    continue
                schema = _resolve(document, schema)
                if schema.get("type") == "array":
                    schema = _resolve(document, schema.get("items", {}))
                if not schema.get("properties"):
                    undescribed.append(f"{method.upper()} {path} {status}: an object "
                                       "without properties")
    assert undescribed == []


def _valid(model: type[BaseModel], response) -> BaseModel:
    assert response.status_code in (200, 201), response.text
    return model.model_validate(response.json())


def test_answers_match_their_declared_models(client, manager, admin, office):
    phone = make_device(client, manager, "phone")
    sim = make_device(client, manager, "sim")
    laptop = make_device(client, manager, "laptop")
    rid = make_recipient(client, manager, mobile="07911 123456")
    issued = _valid(IssuedLoan, issue(client, manager, phone, rid, sim_tag=sim))
    assert issued.sim_loan is not None
    laptop_loan = _valid(LoanRead, issue(client, manager, laptop, make_recipient(
        client, manager)))
    waiter = make_recipient(client, manager)
    waiting = _valid(WaitlistRequestRead, client.post(f"{API}/waitlist", json={
        "recipient_id": waiter, "kind": "laptop"}, headers=manager))
    _valid(LoanRead, client.post(f"{API}/loans/{laptop_loan.id}/return",
                                 json={"condition": "A"}, headers=manager))
    _valid(OffersExpired, client.post(f"{API}/waitlist/expire-offers", headers=manager))
    me = client.get(f"{API}/me", headers=admin).json()

    lists = {
        "/locations": Page[LocationRead],
        "/devices": Page[DeviceRead],
        "/users": Page[UserRead],
        "/audit": Page[AuditEntryRead],
        "/recipients": Page[RecipientSummary],
        "/loans": Page[LoanRead],
        "/waitlist?status=waiting": Page[WaitlistRequestRead],
    }
    for path, model in lists.items():
        page = _valid(model, client.get(f"{API}{path}", headers=admin))
        assert page.items, path  # so that the items were checked too
    details = {
        f"/devices/{phone}": DeviceView,
        f"/devices/{laptop}": DeviceView,
        f"/recipients/{rid}": RecipientDetail,
        f"/recipients/{waiter}": RecipientDetail,
        f"/recipients/{rid}/eligibility?kind=tablet": EligibilityOutcome,
        f"/loans/{issued.id}": LoanRead,
        f"/waitlist/{waiting.id}": WaitlistRequestRead,
        "/me": UserRead,
        f"/users/{me['id']}/tokens": list[TokenRead],
    }
    for path, model in details.items():
        response = client.get(f"{API}{path}", headers=admin)
        assert response.status_code == 200, (path, response.text)
        TypeAdapter(model).validate_python(response.json())
    borrower, waiter = (RecipientDetail.model_validate(client.get(
        f"{API}/recipients/{person}", headers=manager).json()) for person in (rid, waiter))
    assert borrower.loans and borrower.decisions and waiter.requests
    assert DeviceView.model_validate(
        client.get(f"{API}/devices/{phone}", headers=manager).json()).loan is not None

