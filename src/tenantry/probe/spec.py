"""The attack surface, read from the OpenAPI document only.

Every operation carries its scope (``x-tenantry-scope``) and, where it needs one, the
roles allowed (``x-tenantry-roles``), the permissions it needs
(``x-tenantry-permissions``) and its body-limit class (``x-tenantry-body-limit``, sizes
in ``info.x-tenantry-body-limits``). Nothing here imports the app: the engine sees
exactly what a remote attacker with the published document would see.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

HTTP_METHODS = ("get", "post", "put", "patch", "delete")
# Order of the sweep: reads first, then writes, deletions last (so a deletion of one
# of A's rows does not starve the probes that follow).
METHOD_ORDER = {"GET": 0, "POST": 1, "PUT": 2, "PATCH": 3, "DELETE": 4}
_PARAM = re.compile(r"\{([^}/]+)\}")

Json = dict[str, Any]


@dataclass(frozen=True)
class Param:
    name: str
    location: str  # path | query
    required: bool
    schema: Json


@dataclass
class Operation:
    method: str
    path: str
    scope: str | None
    roles: tuple[str, ...]
    params: list[Param]
    body_schema: Json | None = None
    body_kind: str | None = None  # json | multipart | form
    body_required: bool = False
    operation_id: str = ""
    tags: tuple[str, ...] = ()
    permissions: tuple[str, ...] = ()
    body_limit: str = "json"
    extra: Json = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def mutating(self) -> bool:
        return self.method != "GET"

    @property
    def path_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "path"]

    @property
    def query_params(self) -> list[Param]:
        return [p for p in self.params if p.location == "query"]

    def allows(self, role: str | None) -> bool:
        """Whether ``role`` is among the published roles (no list: anyone signed in)."""
        return not self.roles or role in self.roles


class Spec:
    """The OpenAPI document with ``$ref`` resolution."""

    def __init__(self, document: Json) -> None:
        self.document = document
        self.components: Json = document.get("components", {}).get("schemas", {})
        self.operations = sorted(
            self._operations(), key=lambda op: (METHOD_ORDER.get(op.method, 9), op.path)
        )
        limits = document.get("info", {}).get("x-tenantry-body-limits") or {}
        self.body_limits: dict[str, int] = {str(k): int(v) for k, v in limits.items()}

    def resolve(self, schema: Json | None) -> Json:
        seen = 0
        while schema and "$ref" in schema and seen < 32:
            name = str(schema["$ref"]).rsplit("/", 1)[-1]
            schema = self.components.get(name, {})
            seen += 1
        return schema or {}

    def _operations(self) -> list[Operation]:
        found: list[Operation] = []
        for path, item in self.document.get("paths", {}).items():
            shared = item.get("parameters", [])
            for method in HTTP_METHODS:
                raw = item.get(method)
                if raw is None:
                    continue
                found.append(self._operation(method.upper(), path, raw, shared))
        return found

    def _operation(self, method: str, path: str, raw: Json, shared: list[Json]) -> Operation:
        params: list[Param] = []
        for p in [*shared, *raw.get("parameters", [])]:
            p = self.resolve(p)
            if p.get("in") not in ("path", "query"):
                continue
            params.append(
                Param(
                    name=p["name"],
                    location=p["in"],
                    required=bool(p.get("required")) or p["in"] == "path",
                    schema=p.get("schema", {}),
                )
            )
        # Path parameters named in the template but not declared (should not happen).
        declared = {p.name for p in params if p.location == "path"}
        for name in _PARAM.findall(path):
            if name not in declared:
                params.append(Param(name, "path", True, {"type": "string"}))
        op = Operation(
            method=method,
            path=path,
            scope=raw.get("x-tenantry-scope"),
            roles=tuple(raw.get("x-tenantry-roles") or ()),
            params=params,
            operation_id=raw.get("operationId", ""),
            tags=tuple(raw.get("tags") or ()),
            permissions=tuple(raw.get("x-tenantry-permissions") or ()),
            body_limit=str(raw.get("x-tenantry-body-limit") or "json"),
        )
        body = raw.get("requestBody")
        if body:
            body = self.resolve(body)
            content: Json = body.get("content", {})
            op.body_required = bool(body.get("required"))
            for media, kind in (
                ("application/json", "json"),
                ("multipart/form-data", "multipart"),
                ("application/x-www-form-urlencoded", "form"),
            ):
                if media in content:
                    op.body_schema = content[media].get("schema", {})
                    op.body_kind = kind
                    break
            else:
                if content:
                    media = next(iter(content))
                    op.body_kind = "raw"
                    op.extra["media_type"] = media
        return op


def fill_path(template: str, values: dict[str, str]) -> str:
    return _PARAM.sub(lambda m: values[m.group(1)], template)


def path_params(template: str) -> list[str]:
    return _PARAM.findall(template)


def static_segments(path: str) -> list[str]:
    return [s for s in path.split("/") if s and not s.startswith("{")]
