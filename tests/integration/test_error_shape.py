"""Values the database refuses become a 422 in the error shape, never a 500."""

from tests.helpers import login


def test_a_nul_character_in_any_body_is_a_422_and_nothing_is_stored(client, tenant_a):
    # Bodies on the kit's Input refuse NUL while validating (validation_error); the
    # database's refusal (invalid_value) is the net under anything that gets through.
    login(client, tenant_a["owner"])
    r = client.post(
        "/api/admin/services",
        json={
            "slug": "nul-test",
            "name": "bad\u0000name",
            "price_cents": 100,
            "duration_minutes": 30,
        },
    )
    assert r.status_code == 422, r.text
    assert r.json()["error"]["code"] == "validation_error"
    listed = client.get("/api/admin/services").json()["items"]
    assert all(s["slug"] != "nul-test" for s in listed)


def test_a_nul_character_in_a_query_is_not_a_500(client, tenant_a):
    login(client, tenant_a["owner"])
    r = client.get("/api/admin/users", params={"q": "a\u0000b"})
    assert r.status_code == 422 and r.json()["error"]["code"] == "invalid_value", r.text
