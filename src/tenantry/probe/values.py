"""Plausible request values built from JSON schemas, and the slots a foreign id can go in.

A probe is only worth something if the request is otherwise valid: a body rejected with
422 never reaches the code that would look up the foreign id. So bodies are built to
pass validation — fresh unique strings (no duplicate-slug 409s between a probe and its
control), a future weekday morning for date-times with a matching end, A's own ids in
every reference — and each uuid-shaped field is then a *slot* for B's ids.
"""

from __future__ import annotations

import random
import re
import secrets
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tenantry.probe.bank import canonical, resource_of_field

Json = dict[str, Any]
# (slot path in the body, resource asked for, field asked for)
IdPicker = Callable[[str | None, str], str | None]

TENANT_FIELDS = {"tenant", "tenant_slug"}
# Person fields whose name says which kind of member fits them.
PEOPLE_ROLES = {
    "client": "client",
    "customer": "client",
    "assignee": "staff",
    "staff": "staff",
    "technician": "staff",
    "author": "staff",
    "approver": "admin",
    "approved_by": "admin",
}
TENANT_ID_FIELDS = {"tenant_id"}
_END_NAMES = re.compile(r"(^|_)(end|ends|until|to|finish|finishes)(_|$)")


@dataclass(frozen=True)
class Style:
    """How a body is built: every property or only the required ones, dates ahead or
    past, optional fields added or dropped by name, values forced by name."""

    full: bool = True
    past: bool = False
    add: frozenset[str] = frozenset()
    drop: frozenset[str] = frozenset()
    overrides: tuple[tuple[str, Any], ...] = ()

    @property
    def label(self) -> str:
        out = ("full" if self.full else "minimal") + ("-past" if self.past else "")
        if self.add:
            out += " +" + ",".join(sorted(self.add))
        if self.drop:
            out += " -" + ",".join(sorted(self.drop))
        if self.overrides:
            out += " with example " + ",".join(k for k, _ in self.overrides)
        return out

    def override(self, name: str) -> tuple[bool, Any]:
        for key, value in self.overrides:
            if key == name:
                return True, value
        return False, None


STYLES = (Style(True, False), Style(False, False), Style(True, True), Style(False, True))


def variants(optional: list[str]) -> list[Style]:
    """Styles to try after full and minimal both failed validation: one optional field
    added to the minimal body, or dropped from the full one (validators such as "exactly
    one of booking_id and service_request_id"), then the same with past dates."""
    out = [Style(False, add=frozenset({f})) for f in optional]
    out += [Style(True, drop=frozenset({f})) for f in optional]
    return [*out, Style(True, True), Style(False, True)]


@dataclass
class Builder:
    resolve: Callable[[Json | None], Json]
    pick_id: IdPicker
    style: Style = field(default_factory=Style)
    rng: random.Random = field(default_factory=random.Random)
    anchor: datetime = field(init=False)

    def __post_init__(self) -> None:
        self.anchor = self._anchor()

    def _anchor(self) -> datetime:
        today = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        if self.style.past:
            day = today - timedelta(days=self.rng.randint(2, 20))
        else:
            day = today + timedelta(days=self.rng.randint(3, 45))
        while day.weekday() >= 5:
            day += timedelta(days=1)
        return day.replace(hour=self.rng.randint(9, 14))

    # ------------------------------------------------------------------ values

    def value(self, schema: Json | None, name: str = "", resource: str | None = None) -> Any:
        forced, value = self.style.override(name)
        if forced:
            return value
        schema = self.resolve(schema)
        if "const" in schema:
            return schema["const"]
        if schema.get("enum"):
            return schema["enum"][0]
        for combo in ("anyOf", "oneOf"):
            if combo in schema:
                options = [self.resolve(s) for s in schema[combo]]
                usable = [s for s in options if s.get("type") != "null"] or options
                return self.value(usable[0], name, resource)
        if "allOf" in schema:
            merged: Json = {}
            for part in schema["allOf"]:
                merged.update(self.resolve(part))
            return self.value(merged, name, resource)
        kind = schema.get("type")
        if isinstance(kind, list):
            kind = next((k for k in kind if k != "null"), "string")
        if kind == "object" or "properties" in schema:
            return self.object(schema, resource)
        if kind == "array":
            count = max(1, int(schema.get("minItems", 1)))
            return [self.value(schema.get("items", {}), singular_name(name), resource)] * count
        if kind == "integer":
            return self.number(schema, name, integer=True)
        if kind == "number":
            return self.number(schema, name, integer=False)
        if kind == "boolean":
            return bool(schema.get("default", True))
        if kind == "null":
            return None
        return self.string(schema, name, resource)

    def object(self, schema: Json, resource: str | None) -> Json:
        props: Json = schema.get("properties", {})
        required = set(schema.get("required", []))
        out: Json = {}
        for name, sub in props.items():
            sub_resolved = self.resolve(sub)
            if name not in required and name in self.style.drop:
                continue
            if name not in required and not self.style.full and name not in self.style.add:
                continue
            if name not in required and sub_resolved.get("readOnly"):
                continue
            if (name in TENANT_FIELDS or name in TENANT_ID_FIELDS) and name not in required:
                continue  # never name a tenant in a body unless the API insists
            out[name] = self.value(sub, name, resource)
        if not props and isinstance(schema.get("additionalProperties"), dict):
            return {}
        return out

    def number(self, schema: Json, name: str, *, integer: bool) -> int | float:
        if "default" in schema and schema["default"] is not None:
            return schema["default"]  # type: ignore[no-any-return]
        low = schema.get("minimum", schema.get("exclusiveMinimum"))
        high = schema.get("maximum", schema.get("exclusiveMaximum"))
        wanted: float = 1
        lname = name.lower()
        if "cents" in lname or "amount" in lname or "price" in lname:
            wanted = 2500
        elif "minutes" in lname:
            wanted = 60
        elif "hours" in lname or "days" in lname:
            wanted = 24
        elif lname in ("limit", "per_page", "page_size"):
            wanted = 50
        elif lname in ("offset", "position", "skip"):
            wanted = 0
        if low is not None:
            wanted = max(wanted, low + (1 if "exclusiveMinimum" in schema else 0))
        if high is not None:
            wanted = min(wanted, high - (1 if "exclusiveMaximum" in schema else 0))
        return int(wanted) if integer else float(wanted)

    def string(self, schema: Json, name: str, resource: str | None) -> str:
        fmt = schema.get("format", "")
        lname = name.lower()
        if lname in TENANT_FIELDS or lname in TENANT_ID_FIELDS:
            own = self.pick_id("tenant", "id" if lname in TENANT_ID_FIELDS else "slug")
            if own is not None:
                return own
        if fmt == "uuid" or resource_of_field(lname) is not None:
            wanted = resource_of_field(lname) or resource
            # People keep their role in the name (``assignee_id``, ``client_id``): the
            # picker may prefer a member with a fitting role.
            role = PEOPLE_ROLES.get(person_of_field(lname) or "")
            picked = self.pick_id(f"user:{role}", "id") if role else None
            picked = picked or self.pick_id(wanted, "id")
            if picked is not None or fmt == "uuid":
                return picked or str(uuid.uuid4())
        if fmt == "date-time":
            moment = self.anchor + (timedelta(hours=1) if _END_NAMES.search(lname) else timedelta())
            return moment.isoformat()
        if fmt == "date":
            day: date = self.anchor.date()
            return (day + timedelta(days=1) if _END_NAMES.search(lname) else day).isoformat()
        if fmt == "time":
            return "11:00:00" if _END_NAMES.search(lname) else "10:00:00"
        if fmt == "email" or lname.endswith("email") or lname == "reply_to":
            return f"probe-{secrets.token_hex(4)}@example.test"
        if fmt in ("uri", "url") or lname.endswith("url"):
            return f"https://example.test/{secrets.token_hex(4)}"
        if fmt == "binary" or "contentMediaType" in schema:
            return "probe"
        if "default" in schema and isinstance(schema["default"], str):
            return schema["default"]
        candidates = self._string_candidates(lname)
        return fit_string(candidates, schema)

    def _string_candidates(self, lname: str) -> list[str]:
        tag = secrets.token_hex(4)
        if lname == "currency":
            return ["USD"]
        if lname in ("timezone", "tz"):
            return ["UTC"]
        if "phone" in lname:
            return ["+15555550100"]
        if lname in ("color", "colour"):
            return ["#336699"]
        if lname in ("channel",):
            return ["email"]
        return [
            f"probe-{tag}",
            f"Probe {tag}",
            tag,
            f"probe{tag}",
            str(int(tag, 16)),
            f"probe-{tag}@example.test",
        ]


def person_of_field(name: str) -> str | None:
    """``assignee_id`` → ``assignee`` (the name before the id suffix), else ``None``."""
    for suffix in ("_ids", "_id"):
        if name.endswith(suffix) and len(name) > len(suffix):
            return name[: -len(suffix)]
    return None


def singular_name(name: str) -> str:
    return canonical(name) if name else name


def fit_string(candidates: list[str], schema: Json) -> str:
    """The first candidate that fits the schema's pattern and lengths."""
    pattern = schema.get("pattern")
    low = int(schema.get("minLength", 0))
    high = int(schema.get("maxLength", 10_000))
    for cand in candidates:
        text = cand
        if len(text) < low:
            text = text + "x" * (low - len(text))
        text = text[:high]
        if pattern is None or re.search(pattern, text):
            return text
    if pattern is not None:
        generated = _from_regex(pattern, low, high)
        if generated is not None:
            return generated
    return ("probe" * (1 + low // 5))[: max(low, min(high, 12))]


def _from_regex(pattern: str, low: int, high: int) -> str | None:
    try:
        import warnings

        from hypothesis import strategies as st
        from hypothesis.errors import NonInteractiveExampleWarning
    except ImportError:  # pragma: no cover - hypothesis is a dev dependency
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NonInteractiveExampleWarning)
        for _ in range(20):
            try:
                text: str = st.from_regex(pattern, fullmatch=True).example()
            except Exception:
                return None
            if low <= len(text) <= high:
                return text
    return None


# ---------------------------------------------------------------------- slots


@dataclass(frozen=True)
class Slot:
    """A place in a request that names a record: a path or query parameter, or a body
    field (``where`` is the key path into the body)."""

    location: str  # path | query | body
    name: str
    resource: str | None
    fld: str = "id"
    where: tuple[str | int, ...] = ()
    kind: str = "id"  # id | tenant_slug | tenant_id
    many: bool = False

    @property
    def label(self) -> str:
        if self.location == "body":
            return "body:" + ".".join(str(p) for p in self.where)
        return f"{self.location}:{self.name}"


def body_slots(
    schema: Json | None, body: Any, resolve: Callable[[Json | None], Json]
) -> list[Slot]:
    return list(_body_slots(resolve(schema), body, (), resolve, None))


def _body_slots(
    schema: Json,
    body: Any,
    where: tuple[str | int, ...],
    resolve: Callable[[Json | None], Json],
    resource: str | None,
) -> Iterator[Slot]:
    schema = _flatten(schema, resolve)
    if isinstance(body, dict):
        props: Json = schema.get("properties", {})
        for key, value in body.items():
            sub = _flatten(resolve(props.get(key, {})), resolve)
            at = (*where, key)
            if key in TENANT_FIELDS:
                yield Slot("body", key, "tenant", "slug", at, kind="tenant_slug")
                continue
            if key in TENANT_ID_FIELDS:
                yield Slot("body", key, "tenant", "id", at, kind="tenant_id")
                continue
            if isinstance(value, list):
                items = _flatten(resolve(sub.get("items", {})), resolve)
                if value and isinstance(value[0], str) and _uuidish(items, key):
                    yield Slot("body", key, resource_of_field(key) or resource, "id", at, many=True)
                elif value and isinstance(value[0], dict):
                    yield from _body_slots(items, value[0], (*at, 0), resolve, canonical(key))
                continue
            if isinstance(value, dict):
                yield from _body_slots(sub, value, at, resolve, canonical(key))
                continue
            if isinstance(value, str) and _uuidish(sub, key):
                yield Slot("body", key, resource_of_field(key) or resource, "id", at)


def _flatten(schema: Json, resolve: Callable[[Json | None], Json]) -> Json:
    for combo in ("anyOf", "oneOf"):
        if combo in schema:
            options = [resolve(s) for s in schema[combo]]
            usable = [s for s in options if s.get("type") != "null"]
            if usable:
                return _flatten(usable[0], resolve)
    if "allOf" in schema:
        merged: Json = {}
        for part in schema["allOf"]:
            merged.update(resolve(part))
        return merged
    return schema


def _uuidish(schema: Json, name: str) -> bool:
    return schema.get("format") == "uuid" or resource_of_field(name) is not None


def param_is_slot(schema: Json, name: str, resolve: Callable[[Json | None], Json]) -> bool:
    flat = _flatten(resolve(schema), resolve)
    if flat.get("type") == "array":
        flat = _flatten(resolve(flat.get("items", {})), resolve)
    return flat.get("format") == "uuid" or (
        flat.get("type", "string") == "string" and resource_of_field(name) is not None
    )


def set_in(body: Any, where: tuple[str | int, ...], value: Any) -> Any:
    """A copy of ``body`` with the value at ``where`` replaced."""
    if not where:
        return value
    head, rest = where[0], where[1:]
    if isinstance(body, dict):
        copy = dict(body)
        copy[head] = set_in(body.get(head), rest, value)
        return copy
    if isinstance(body, list):
        items = list(body)
        assert isinstance(head, int)
        items[head] = set_in(items[head], rest, value)
        return items
    return body
