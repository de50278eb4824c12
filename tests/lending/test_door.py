"""At the door: sign-in throttling, bounded password hashing, password rules, headers."""

import re

import pytest
from litestar.testing import TestClient

from lending.app import create_app
from tests.conftest import add_user

PASSWORD = "correct horse battery"
API = "/api/v1"


def csrf_token(client) -> str:
    page = client.get("/login")
    return re.search(r'name="_csrf_token" value="([^"]+)"', page.text).group(1)


def sign_in(client, email: str, password: str):
    return client.post("/login", data={"email": email, "password": password, "next": "/",
                                        "_csrf_token": csrf_token(client)},
                       follow_redirects=False)


def test_repeated_failures_for_an_account_are_refused_for_a_while(client, engine, manager):
    add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    for _ in range(5):
        assert sign_in(client, "desk@example.org", "wrong password!").status_code == 400
    refused = sign_in(client, "desk@example.org", PASSWORD)  # even the right one, for now
    assert refused.status_code == 429
    assert 800 < int(refused.headers["retry-after"]) <= 900
    assert "Too many failed sign-ins. Wait 15 minutes and try again." in refused.text
    # Another account from the same address is not held up by this one's failures.
    add_user(engine, "other@example.org", "staff", password=PASSWORD)
    assert sign_in(client, "other@example.org", PASSWORD).status_code in (302, 303)
    # Each failure is in the audit log, with the account's id but never what was typed.
    failures = client.get(f"{API}/audit", params={"entity": "user"},
                          headers=manager).json()["items"]
    failed = [e for e in failures if e["action"] == "login_failed"]
    assert len(failed) == 5 and all("wrong password" not in str(e) for e in failed)
    assert failed[0]["changes"] == {"address": "testclient"}


def test_repeated_failures_from_an_address_are_refused(settings, engine):
    settings.login_failures_per_address = 3
    add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    with TestClient(create_app(settings, engine)) as client:
        for n in range(3):
            assert sign_in(client, f"guess{n}@example.org", "whatever it is").status_code == 400
        assert sign_in(client, "desk@example.org", PASSWORD).status_code == 429
        # The count lives in the database: another instance refuses too.
        with TestClient(create_app(settings, engine)) as other:
            assert sign_in(other, "desk@example.org", PASSWORD).status_code == 429


def test_a_successful_sign_in_clears_the_account_count(client, engine):
    add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    for _ in range(4):
        sign_in(client, "desk@example.org", "wrong password!")
    assert sign_in(client, "desk@example.org", PASSWORD).status_code in (302, 303)
    for _ in range(4):
        assert sign_in(client, "desk@example.org", "wrong password!").status_code == 400


@pytest.mark.parametrize("password, why", [
    ("password1234", "too common"), ("Password123!", "too common"),
    ("qwertyuiop123", "too common"), ("new.person@example.org!", "email"),
    ("my new.person password", "email"), ("aaaaaaaaaaaaaaa", "too common")])
def test_common_passwords_and_ones_with_the_email_are_refused(client, admin, password, why):
    response = client.post(f"{API}/users", json={
        "email": "new.person@example.org", "role": "staff", "password": password},
        headers=admin)
    assert response.status_code == 422, response.text
    assert why in response.json()["detail"]
    assert response.json()["errors"][0]["field"] == "password"


def test_an_admin_reset_ends_every_session_and_token(client, admin, engine):
    bearer = add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    assert sign_in(client, "desk@example.org", PASSWORD).status_code in (302, 303)
    assert client.get("/").status_code == 200  # the browser session works
    user_id = client.get(f"{API}/me", headers=bearer).json()["id"]
    changed = client.patch(f"{API}/users/{user_id}", json={"password": "a fresh long secret"},
                           headers=admin)
    assert changed.status_code == 200, changed.text
    assert client.get(f"{API}/me", headers=bearer).status_code == 401
    assert client.get("/", follow_redirects=False).status_code in (302, 303, 401)
    assert sign_in(client, "desk@example.org", "a fresh long secret").status_code in (302, 303)


def test_changing_your_own_password_ends_only_your_other_sessions(app, client, engine):
    kept = add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    with TestClient(app) as browser:
        assert sign_in(browser, "desk@example.org", PASSWORD).status_code in (302, 303)
        assert browser.get("/").status_code == 200
        user_id = client.get(f"{API}/me", headers=kept).json()["id"]
        second = client.post(f"{API}/users/{user_id}/tokens", json={"name": "second"},
                             headers=add_user(engine, "root@example.org", "admin"))
        other = {"Authorization": f"Bearer {second.json()['token']}"}
        assert client.get(f"{API}/me", headers=other).status_code == 200
        wrong = client.post(f"{API}/me/password", headers=kept, json={
            "current_password": "not it at all", "password": "a fresh long secret"})
        assert wrong.status_code == 422
        assert wrong.json()["errors"][0]["field"] == "current_password"
        changed = client.post(f"{API}/me/password", headers=kept, json={
            "current_password": PASSWORD, "password": "a fresh long secret"})
        assert changed.status_code == 200, changed.text
        assert changed.json()["email"] == "desk@example.org"
        # The token it was changed with still works; the other token and the browser don't.
        assert client.get(f"{API}/me", headers=kept).status_code == 200
        assert client.get(f"{API}/me", headers=other).status_code == 401
        assert browser.get("/", follow_redirects=False).status_code in (302, 303, 401)
        assert sign_in(browser, "desk@example.org", "a fresh long secret").status_code in (
            302, 303)


def test_a_new_password_is_checked_like_any_other(client, engine):
    kept = add_user(engine, "desk@example.org", "staff", password=PASSWORD)
    for body, field in (({"current_password": PASSWORD, "password": "short"}, "password"),
                        ({"current_password": PASSWORD, "password": "password1234"},
                         "password"),
                        ({"current_password": PASSWORD, "password": PASSWORD}, "password"),
                        ({"password": "a fresh long secret"}, "current_password")):
        answer = client.post(f"{API}/me/password", headers=kept, json=body)
        assert answer.status_code in (400, 422), answer.text
        assert field in str(answer.json()["errors"]), answer.text
    assert client.get(f"{API}/me", headers=kept).status_code == 200


def test_repeated_bad_bearer_tokens_from_an_address_are_refused(settings, engine, manager):
    settings.login_failures_per_address = 3
    with TestClient(create_app(settings, engine)) as client:
        for n in range(3):
            guess = {"Authorization": f"Bearer lnd_guess-number-{n}"}
            answer = client.get(f"{API}/devices", headers=guess)
            assert answer.status_code == 401, answer.text
        refused = client.get(f"{API}/devices", headers={"Authorization": "Bearer lnd_next"})
        assert refused.status_code == 429
        assert 800 < int(refused.headers["retry-after"]) <= 900
        assert refused.json()["errors"][0]["field"] == "Authorization"
        assert "too many failed bearer tokens" in refused.json()["detail"]
        # Even a right token is not looked up from that address until the window passes:
        # guessing stops whatever the guess.
        assert client.get(f"{API}/devices", headers=manager).status_code == 429
        # The count lives in the database: another instance refuses too, and so does the
        # sign-in page (one count per address).
        with TestClient(create_app(settings, engine)) as other:
            assert other.get(f"{API}/devices", headers=manager).status_code == 429
            assert sign_in(other, "manager@example.org", PASSWORD).status_code == 429
    # Each failure is audited by address, never with the token's text.
    settings.login_failures_per_address = 30
    with TestClient(create_app(settings, engine)) as fresh:
        entries = fresh.get(f"{API}/audit", params={"entity": "token"},
                            headers=manager).json()["items"]
    failed = [e for e in entries if e["action"] == "token_failed"]
    assert len(failed) == 3
    assert all("guess-number" not in str(e) for e in failed)
    assert failed[0]["changes"] == {"address": "testclient"}


def test_a_missing_or_expired_session_is_not_counted_as_a_guess(settings, engine, manager):
    settings.login_failures_per_address = 2
    with TestClient(create_app(settings, engine)) as client:
        for _ in range(4):
            assert client.get(f"{API}/devices").status_code == 401
            client.cookies.set("lending_session", "an-old-cookie")
            assert client.get(f"{API}/devices").status_code == 401
            client.cookies.clear()
        assert client.get(f"{API}/devices", headers=manager).status_code == 200
