"""tenant_sig: HMAC over tenant, user, session version and issue time; keys rotate."""

import time
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tenantry.isolation import signing

K1, K2 = b"key-one-0123456789", b"key-two-0123456789"
T, U = uuid.uuid4(), uuid.uuid4()


def make(keys=(K1,), **kw):
    return signing.sign(
        list(keys),
        tenant_id=kw.get("t", T),
        user_id=kw.get("u", U),
        session_version=kw.get("v", 1),
        issued_at=kw.get("iat"),
    )


def test_a_fresh_signature_verifies_and_returns_its_claim():
    claim = signing.verify([K1], make(), max_age_s=60)
    assert (claim.tenant_id, claim.user_id, claim.session_version) == (T, U, 1)


def test_every_configured_key_verifies_so_keys_can_rotate():
    old = make(keys=(K2,))
    assert signing.verify([K1, K2], old, max_age_s=60).tenant_id == T


def test_a_signature_by_a_removed_key_is_refused():
    old = make(keys=(K2,))
    with pytest.raises(signing.SignatureError):
        signing.verify([K1], old, max_age_s=60)


def test_an_expired_signature_is_refused():
    token = make(iat=int(time.time()) - 120)
    with pytest.raises(signing.SignatureError, match="expired"):
        signing.verify([K1], token, max_age_s=60)


def test_a_signature_issued_in_the_future_is_refused():
    token = make(iat=int(time.time()) + 3600)
    with pytest.raises(signing.SignatureError):
        signing.verify([K1], token, max_age_s=7200)


@pytest.mark.parametrize("field", range(1, 6))
def test_changing_any_field_breaks_the_signature(field):
    parts = make().split(".")
    replacement = {
        1: str(uuid.uuid4()),
        2: str(uuid.uuid4()),
        3: "2",
        4: str(int(parts[4]) - 1),
        5: "A" * len(parts[5]),
    }[field]
    parts[field] = replacement
    with pytest.raises(signing.SignatureError):
        signing.verify([K1], ".".join(parts), max_age_s=3600)


def test_another_spelling_of_the_same_uuid_names_the_same_tenant_and_no_other():
    parts = make().split(".")
    parts[1] = parts[1].upper()
    assert signing.verify([K1], ".".join(parts), max_age_s=3600).tenant_id == T


@given(st.text(max_size=300))
def test_arbitrary_input_never_verifies_and_never_crashes(token):
    with pytest.raises(signing.SignatureError):
        signing.verify([K1], token, max_age_s=3600)


@given(
    st.binary(min_size=1, max_size=64),
    st.uuids(),
    st.uuids(),
    st.integers(min_value=0, max_value=2**31),
    st.integers(min_value=0, max_value=300),
)
def test_round_trip_for_any_key_and_claim(key, t, u, v, age):
    now = time.time()
    token = signing.sign([key], tenant_id=t, user_id=u, session_version=v, issued_at=int(now) - age)
    claim = signing.verify([key], token, max_age_s=400, now=now)
    assert (claim.tenant_id, claim.user_id, claim.session_version) == (t, u, v)
    with pytest.raises(signing.SignatureError):
        signing.verify([key + b"x"], token, max_age_s=400, now=now)
