"""What a tenant's data looks like from outside: ids and unique strings, by resource.

Harvesting walks JSON (API responses, or rows as JSON from the database adapter) and
files every uuid under a *resource* name: the ``id`` of an object listed at
``/api/admin/bookings`` is a ``booking``; a ``service_id`` field is a ``service``; a
``client_id`` is a ``user``. A path parameter such as ``{booking_id}`` — or ``{id}``
after ``/bookings/`` — asks the bank for a ``booking``.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

UUID_RE = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")

# Every reference to a person is a user id (memberships are keyed by user).
USER_ALIASES = frozenset(
    {
        "user",
        "client",
        "assignee",
        "author",
        "sender",
        "uploaded_by",
        "member",
        "team",
        "team_member",
        "staff",
        "owner",
        "membership",
        "recipient",
        "created_by",
        "approved_by",
        "actor",
    }
)
# Wrappers that carry no resource meaning of their own.
TRANSPARENT_KEYS = frozenset({"items", "data", "results", "rows", "page"})


_PEOPLE = ("user", "member", "staff", "client", "owner", "assignee", "author", "sender",
           "recipient", "person", "people", "team", "_by", "consultant", "actor")  # fmt: skip


def is_people(resource: str) -> bool:
    """Does this resource name people (who may belong to several tenants)?"""
    return any(resource.endswith(p) or resource.startswith(p) for p in _PEOPLE)


def singular(word: str) -> str:
    word = word.replace("-", "_").lower()
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "xes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us")):
        return word[:-1]
    return word


def canonical(resource: str) -> str:
    name = singular(resource)
    return "user" if name in USER_ALIASES else name


def resource_of_field(name: str) -> str | None:
    """``service_id`` → ``service``; ``assignee_ids`` → ``user``; else ``None``."""
    lowered = name.lower()
    for suffix in ("_ids", "_id", "ids", "id"):
        if lowered.endswith(suffix) and len(lowered) > len(suffix):
            return canonical(lowered[: -len(suffix)].rstrip("_"))
    return None


def is_uuid(value: Any) -> bool:
    if not isinstance(value, str) or len(value) != 36:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


@dataclass
class Bank:
    """Harvested values of one tenant (or one client), by (resource, field)."""

    values: dict[tuple[str, str], list[str]] = field(default_factory=dict)
    # Every uuid seen anywhere, and ids of objects (not mere references).
    uuids: set[str] = field(default_factory=set)
    object_ids: set[str] = field(default_factory=set)
    strings: set[str] = field(default_factory=set)
    # Values seen per field name (``permissions`` → ["bookings.read", ...]): examples
    # for fields whose valid values the schema does not spell out.
    examples: dict[str, list[Any]] = field(default_factory=dict)

    def add(self, resource: str, fld: str, value: str) -> None:
        key = (canonical(resource), fld)
        bucket = self.values.setdefault(key, [])
        if value not in bucket:
            bucket.append(value)
        if is_uuid(value):
            self.uuids.add(value.lower())

    def merge(self, other: Bank) -> None:
        for (res, fld), vals in other.values.items():
            for v in vals:
                self.add(res, fld, v)
        self.uuids |= other.uuids
        self.object_ids |= other.object_ids
        self.strings |= other.strings
        for name, values in other.examples.items():
            for v in values:
                self._example(name, v)

    def _example(self, name: str, value: Any) -> None:
        bucket = self.examples.setdefault(name, [])
        if value not in bucket and len(bucket) < 5:
            bucket.append(value)

    def people(self) -> set[str]:
        """Every id filed under a resource that names people."""
        return {v.lower() for (res, _), vals in self.values.items() if is_people(res) for v in vals}

    def resources(self) -> set[str]:
        return {res for res, _ in self.values}

    def pick(
        self, resource: str | None, fld: str = "id", *, exclude: Iterable[str] = ()
    ) -> list[str]:
        """Values for a slot: exact resource first, then a related name
        (``message`` ~ ``chat_message``), else nothing."""
        banned = {e.lower() for e in exclude}
        if resource is None:
            return []
        res = canonical(resource)
        keys = [(res, fld)]
        keys += [
            k
            for k in self.values
            if k[1] == fld
            and k[0] != res
            and (k[0].endswith("_" + res) or res.endswith("_" + k[0]))
        ]
        out: list[str] = []
        for k in keys:
            for v in self.values.get(k, []):
                if v.lower() not in banned and v not in out:
                    out.append(v)
        return out

    def any_ids(self, *, exclude: Iterable[str] = ()) -> list[str]:
        banned = {e.lower() for e in exclude}
        return sorted(v for v in self.object_ids if v not in banned)

    # ------------------------------------------------------------------ harvesting

    def harvest(self, data: Any, resource: str | None) -> None:
        """File every value of ``data`` (a decoded JSON body) under ``resource``."""
        self._examples(data)
        for res, fld, value, is_object_id in _walk(data, resource):
            if res is not None:
                self.add(res, fld, value)
            elif is_uuid(value):
                self.uuids.add(value.lower())
            if is_object_id:
                self.object_ids.add(value.lower())

    def _examples(self, data: Any) -> None:
        if isinstance(data, list):
            for item in data:
                self._examples(item)
        elif isinstance(data, dict):
            for key, value in data.items():
                if key == "id" or key.endswith("_id") or key.endswith("_ids"):
                    continue
                if isinstance(value, str) and len(value) <= 200:
                    self._example(key, value)
                elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
                    self._example(key, list(value))
                else:
                    self._examples(value)

    def harvest_strings(self, data: Any, needles: Iterable[str]) -> None:
        """Keep string values that contain one of ``needles`` (slug, tenant name...)."""
        wanted = [n.lower() for n in needles if n]
        for value in iter_strings(data):
            low = value.lower()
            if len(value) >= 4 and any(n in low for n in wanted):
                self.strings.add(value)


def _walk(data: Any, resource: str | None) -> Iterator[tuple[str | None, str, str, bool]]:
    if isinstance(data, list):
        for item in data:
            yield from _walk(item, resource)
        return
    if not isinstance(data, dict):
        if isinstance(data, str) and is_uuid(data):
            yield None, "id", data, False
        return
    for key, value in data.items():
        if isinstance(value, dict | list):
            if key in TRANSPARENT_KEYS:
                child = resource
            elif key.endswith("_ids") or key.endswith("_id"):
                child = resource_of_field(key)
            else:
                child = key
            yield from _walk(value, child)
            continue
        if not isinstance(value, str):
            continue
        if key == "id":
            yield resource, "id", value, is_uuid(value)
        elif key in ("slug", "number", "key") and resource is not None:
            yield resource, key, value, False
        elif key.endswith("_id") or key.endswith("_ids"):
            yield resource_of_field(key), "id", value, False
        elif is_uuid(value):
            yield None, "id", value, False


def iter_strings(data: Any) -> Iterator[str]:
    if isinstance(data, str):
        yield data
    elif isinstance(data, dict):
        for k, v in data.items():
            yield k
            yield from iter_strings(v)
    elif isinstance(data, list):
        for v in data:
            yield from iter_strings(v)


def owned_ids(data: Any, owner: str) -> set[str]:
    """Ids of the objects in ``data`` that point at ``owner`` (``client_id``, ``sender_id``,
    ``uploaded_by_id``...): that person's own records. Objects nested in them (the
    service a booking is for) are not counted — they may well be shared."""
    owner = owner.lower()
    found: set[str] = set()
    if isinstance(data, list):
        for item in data:
            found |= owned_ids(item, owner)
    elif isinstance(data, dict):
        points = any(
            key != "id"
            and key.endswith("_id")
            and isinstance(value, str)
            and value.lower() == owner
            for key, value in data.items()
        )
        if points and isinstance(data.get("id"), str):
            found.add(data["id"].lower())
        for value in data.values():
            if isinstance(value, dict | list):
                found |= owned_ids(value, owner)
    return found
