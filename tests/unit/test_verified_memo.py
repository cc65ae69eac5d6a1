"""The verified-token memo (``signing.VerifiedMemo``): the session cookie and
``tenant_sig`` are MAC-checked and parsed once per distinct token, but every refusal a
fresh check would give still happens — time limits on every use, a removed key, a
tampered token."""

import time
import uuid

import pytest

from tenantry.auth import cookies
from tenantry.isolation import signing
from tenantry.settings import Settings

K1, K2 = "memo-key-one-0123456789", "memo-key-two-0123456789"


def _settings(tmp_path, keys):
    return Settings(data_dir=tmp_path, secret_keys=keys, log_json=False)


def _session(now):
    return cookies.SessionData(
        session_id=uuid.uuid4(),
        user_id=uuid.uuid4(),
        session_version=3,
        issued_at=int(now) - 10,
        seen_at=int(now) - 10,
        tenant_id=uuid.uuid4(),
        tenant_slug="acme",
    )


def test_a_remembered_session_still_times_out(tmp_path):
    settings = _settings(tmp_path, K1)
    now = time.time()
    data = _session(now)
    token = cookies.encode_session(settings, data)
    assert cookies.decode_session(settings, token, now=now) == data  # remembered now
    idle = now + settings.session_idle_timeout_s + 60
    assert cookies.decode_session(settings, token, now=idle) is None
    fresh_seen = cookies.encode_session(
        settings, cookies.SessionData(**{**data.__dict__, "seen_at": int(now) + 10**6})
    )
    absolute = now + settings.session_absolute_timeout_s + 60
    assert cookies.decode_session(settings, fresh_seen, now=now) is not None
    assert cookies.decode_session(settings, fresh_seen, now=absolute) is None
    assert cookies.decode_session(settings, token, now=now) == data  # and still valid


def test_a_remembered_session_is_refused_once_its_key_is_removed(tmp_path):
    old = _settings(tmp_path, K2)
    token = cookies.encode_session(old, _session(time.time()))
    both = _settings(tmp_path, f"{K1},{K2}")
    assert cookies.decode_session(both, token) is not None  # remembered under K1,K2
    assert cookies.decode_session(_settings(tmp_path, K1), token) is None


def test_a_tampered_session_cookie_is_refused_after_the_genuine_one_was_remembered(tmp_path):
    settings = _settings(tmp_path, K1)
    token = cookies.encode_session(settings, _session(time.time()))
    assert cookies.decode_session(settings, token) is not None
    payload, _, mac = token.rpartition(".")
    for forged in (
        f"{payload}.{'A' * len(mac)}",
        f"{payload[:-1]}{'B' if payload[-1] != 'B' else 'C'}.{mac}",
        token + "x",
        token[:-1],
    ):
        for _ in range(2):  # a refusal is not remembered: refused every time
            assert cookies.decode_session(settings, forged) is None


def test_a_remembered_tenant_sig_still_expires_and_is_refused_in_the_future():
    now = time.time()
    token = signing.sign([K1.encode()], tenant_id=uuid.uuid4(), user_id=uuid.uuid4(),
                         session_version=1, issued_at=int(now))  # fmt: skip
    assert signing.verify([K1.encode()], token, max_age_s=60, now=now)  # remembered
    with pytest.raises(signing.SignatureError, match="expired"):
        signing.verify([K1.encode()], token, max_age_s=60, now=now + 61)
    with pytest.raises(signing.SignatureError, match="future"):
        signing.verify([K1.encode()], token, max_age_s=60, now=now - 3600)


def test_a_remembered_tenant_sig_is_refused_once_its_key_is_removed():
    token = signing.sign([K2.encode()], tenant_id=uuid.uuid4(), user_id=uuid.uuid4(),
                         session_version=1)  # fmt: skip
    assert signing.verify([K1.encode(), K2.encode()], token, max_age_s=60)
    with pytest.raises(signing.SignatureError, match="bad signature"):
        signing.verify([K1.encode()], token, max_age_s=60)


def test_the_memo_is_bounded():
    memo: signing.VerifiedMemo[int] = signing.VerifiedMemo(size=3)
    for i in range(10):
        memo.put(i, i)
    assert memo.get(9) == 9
    assert sum(memo.get(i) is not None for i in range(10)) <= 3
