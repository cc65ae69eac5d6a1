"""Password hashing with argon2id (argon2-cffi's defaults follow RFC 9106).

Checking a password never reads a stored hash. The database hands out an account's
*setting* — ``$argon2id$v=19$m=…,t=…,p=…$<salt>$``, everything but the digest —
(``account_lookup``); the app hashes the typed password with exactly that setting
(``candidate``) and the database says whether the result equals the stored hash
(``account_password_matches``). See migration ``20261130_0012``.
"""

from __future__ import annotations

import base64
import functools
import re
from functools import lru_cache

from argon2 import PasswordHasher, Type
from argon2.low_level import hash_secret

from tenantry.db.loop import off_loop

_hasher = PasswordHasher()
_SETTING = re.compile(
    r"^\$argon2(?P<type>id|i|d)\$v=(?P<v>\d+)\$m=(?P<m>\d+),t=(?P<t>\d+),p=(?P<p>\d+)"
    r"\$(?P<salt>[A-Za-z0-9+/]+)\$$"
)
_TYPES = {"id": Type.ID, "i": Type.I, "d": Type.D}
DIGEST_BYTES = 32  # argon2-cffi's default hash_len; every hash we store uses it


# argon2 takes tens of milliseconds of CPU by design: never on the event loop (off_loop).


def hash_password(password: str) -> str:
    return off_loop(_hasher.hash, password)


@lru_cache(maxsize=1)
def dummy_setting() -> str:
    """A setting with today's parameters, for accounts that do not exist: the same
    work is done whether or not the e-mail is known."""
    full = off_loop(_hasher.hash, "not-a-real-password")
    return full[: full.rindex("$") + 1]


def candidate(setting: str | None, password: str) -> str | None:
    """``password`` hashed with an account's setting (salt and parameters), in the
    stored format — or ``None`` when the setting is not one we can use (after doing the
    work with the dummy setting anyway)."""
    match = _SETTING.match(setting or "")
    if match is None:
        candidate(dummy_setting(), password)
        return None
    salt = base64.b64decode(match["salt"] + "=" * (-len(match["salt"]) % 4))
    encoded = off_loop(
        functools.partial(
            hash_secret,
            password.encode(),
            salt,
            time_cost=int(match["t"]),
            memory_cost=int(match["m"]),
            parallelism=int(match["p"]),
            hash_len=DIGEST_BYTES,
            type=_TYPES[match["type"]],
            version=int(match["v"]),
        )
    )
    return encoded.decode()
