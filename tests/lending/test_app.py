"""The service's edges: health, OpenAPI, and errors as problem+json."""

from litestar.testing import TestClient

from lending.app import create_app
from lending.db import make_engine
from lending.settings import Settings


def test_health_answers_ok_when_the_database_answers(client):
    response = client.get("/health")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_health_is_503_when_the_database_does_not_answer(tmp_path):
    url = f"sqlite:///{tmp_path}/missing/dir/lending.db"
    settings = Settings(database_url=url, secret_key="x", _env_file=None)
    with TestClient(create_app(settings, make_engine(url))) as client:
        response = client.get("/health")
    assert response.status_code == 503


def test_openapi_names_every_operation_once(client):
    document = client.get("/schema/openapi.json").json()
    ids = [operation["operationId"] for path in document["paths"].values()
           for operation in path.values() if isinstance(operation, dict)]
    assert len(ids) == len(set(ids))
    assert "listDevices" in ids and "createDevice" in ids


def test_unknown_routes_and_methods_are_problem_json(client, staff):
    missing = client.get("/api/v1/nowhere", headers=staff)
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
    wrong_method = client.delete("/api/v1/devices", headers=staff)
    assert wrong_method.status_code == 405
    assert wrong_method.json()["detail"] == "DELETE is not allowed on /api/v1/devices"


def test_a_browser_session_may_read_the_api_but_not_change_it(client, engine, office):
    from lending.accounts.models import TokenKind
    from lending.accounts.service import create_token, get_user
    from lending.db import session_for
    from tests.conftest import add_user

    add_user(engine, "desk@example.org", "staff")
    with session_for(engine) as session:
        _, cookie = create_token(session, get_user(session, "desk@example.org"), "browser",
                                 TokenKind.session)
    client.cookies.set("lending_session", cookie)
    assert client.get("/api/v1/devices").status_code == 200
    forged = client.post("/api/v1/devices", json={
        "kind": "laptop", "make": "Dell", "model": "L", "location": office})
    assert forged.status_code == 403
    assert "bearer token" in forged.json()["detail"]
    assert client.get("/api/v1/devices").json()["total"] == 0


def test_a_person_gets_an_error_page_and_a_client_gets_problem_json(client):
    page = client.get("/no/such/page", headers={"accept": "text/html"})
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "nothing at this address" in page.text
    api = client.get("/api/v1/no/such/thing", headers={"accept": "text/html"})
    assert api.headers["content-type"].startswith("application/problem+json")
