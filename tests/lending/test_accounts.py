"""Staff accounts, tokens and roles."""

from sqlalchemy import select

from lending.accounts.models import Token, User
from tests.conftest import add_user


def test_no_token_or_a_bad_one_is_401(client, office):
    missing = client.get("/api/v1/devices")
    assert missing.status_code == 401
    assert missing.headers["content-type"].startswith("application/problem+json")
    assert missing.headers["www-authenticate"] == "Bearer"
    assert client.get("/api/v1/devices", headers={
        "Authorization": "Bearer lnd_not-a-token"}).status_code == 401


def test_roles_gate_the_routes(client, staff, manager, admin):
    forbidden = client.post("/api/v1/locations", json={"code": "X", "name": "X"}, headers=staff)
    assert forbidden.status_code == 403
    assert "manager" in forbidden.json()["detail"]
    assert client.get("/api/v1/audit", headers=staff).status_code == 403
    assert client.get("/api/v1/audit", headers=manager).status_code == 200
    assert client.get("/api/v1/users", headers=manager).status_code == 403
    assert client.get("/api/v1/users", headers=admin).status_code == 200


def test_admins_manage_users_and_tokens(client, admin, engine):
    created = client.post("/api/v1/users", json={
        "email": "New.Person@Example.org", "role": "staff", "password": "a long password!"},
        headers=admin)
    assert created.status_code == 201, created.text
    user = created.json()
    assert user["email"] == "new.person@example.org"
    duplicate = client.post("/api/v1/users", json={"email": "new.person@example.org"},
                            headers=admin)
    assert duplicate.status_code == 409 and duplicate.json()["errors"][0]["field"] == "email"
    bad = client.post("/api/v1/users", json={"email": "not-an-email"}, headers=admin)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "email"

    issued = client.post(f"/api/v1/users/{user['id']}/tokens", json={"name": "scanner"},
                         headers=admin).json()
    bearer = {"Authorization": f"Bearer {issued['token']}"}
    assert client.get("/api/v1/me", headers=bearer).json()["email"] == "new.person@example.org"
    listed = client.get(f"/api/v1/users/{user['id']}/tokens", headers=admin).json()
    assert listed[0]["name"] == "scanner" and listed[0]["last_used_at"] is not None
    assert "token" not in listed[0]

    revoked = client.post(f"/api/v1/users/tokens/{issued['id']}/revoke", headers=admin)
    assert revoked.status_code == 200 and revoked.json()["revoked_at"]
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_deactivating_a_user_shuts_out_their_tokens(client, admin, engine):
    bearer = add_user(engine, "leaver@example.org", "staff")
    with engine.connect() as connection:
        user_id = connection.scalar(select(User.id).where(User.email == "leaver@example.org"))
    assert client.patch(f"/api/v1/users/{user_id}", json={"active": False},
                        headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=bearer).status_code == 401


def test_secrets_are_kept_only_as_hashes(engine):
    bearer = add_user(engine, "hash@example.org", "staff", password="a long password!")
    secret = bearer["Authorization"].removeprefix("Bearer ")
    with engine.connect() as connection:
        user = connection.execute(select(User).where(User.email == "hash@example.org")).one()
        hashes = connection.scalars(select(Token.secret_hash)).all()
    assert user.password_hash.startswith("$argon2id$")
    assert "a long password!" not in user.password_hash
    assert secret not in hashes and len(hashes[0]) == 64


def test_a_revoked_token_is_refused_at_once_even_when_just_used(client, admin, engine):
    bearer = add_user(engine, "quick@example.org", "staff")
    assert client.get("/api/v1/me", headers=bearer).status_code == 200  # now remembered
    with engine.connect() as connection:
        token_id = connection.scalar(select(Token.id).join(User).where(
            User.email == "quick@example.org"))
    assert client.post(f"/api/v1/users/tokens/{token_id}/revoke",
                       headers=admin).status_code == 200
    assert client.get("/api/v1/me", headers=bearer).status_code == 401
