"""Talking to the app: one ``httpx.Client`` (a Starlette ``TestClient`` in-process, a
plain client over the network), explicit cookies per request, identities that log in.

The client's own cookie jar is emptied after every request: every probe says exactly
which cookies it carries, so one identity's cookies can never ride along on another's
probe by accident.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

SESSION_COOKIE = "tenantry_session"
SIG_COOKIE = "tenant_sig"


@dataclass(frozen=True)
class Credentials:
    """Who to sign in as; ``label`` names the identity in reports (``a.owner``)."""

    label: str
    email: str
    password: str
    tenant: str  # slug


@dataclass
class Actor:
    """A signed-in identity: its cookies and what the server said about it."""

    creds: Credentials
    cookies: dict[str, str] = field(default_factory=dict)
    user_id: str = ""
    tenant_id: str = ""
    tenant_slug: str = ""
    role: str | None = None

    @property
    def label(self) -> str:
        return self.creds.label

    def cookie(self, suffix: str) -> tuple[str, str] | None:
        for name, value in self.cookies.items():
            if name.endswith(suffix):
                return name, value
        return None

    @property
    def sig(self) -> str:
        found = self.cookie(SIG_COOKIE)
        return found[1] if found else ""

    def with_cookie(self, suffix: str, value: str | None) -> dict[str, str]:
        """This actor's cookies with one replaced (or removed when ``value`` is None)."""
        out = dict(self.cookies)
        found = self.cookie(suffix)
        name = found[0] if found else suffix
        if value is None:
            out.pop(name, None)
        else:
            out[name] = value
        return out


class LoginFailed(RuntimeError):
    pass


@dataclass
class Sent:
    """A request as sent and its response, trimmed to what the oracle needs."""

    method: str
    url: str
    status: int
    code: str | None
    body: Any
    text: str
    headers: dict[str, str]
    echo: str  # everything the request carried, for "did we send this ourselves?"


class Transport:
    def __init__(self, client: httpx.Client, *, base_domain: str = "localhost") -> None:
        self.client = client
        self.base_domain = base_domain
        self.sent = 0

    def tenant_host(self, slug: str) -> str:
        return f"{slug}.{self.base_domain}"

    def request(
        self,
        method: str,
        path: str,
        *,
        cookies: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        files: dict[str, Any] | None = None,
        data: dict[str, Any] | None = None,
        content: bytes | Iterator[bytes] | None = None,
    ) -> Sent:
        hdrs = dict(headers or {})
        if cookies:
            hdrs["cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        kwargs: dict[str, Any] = {"headers": hdrs, "params": params}
        if files is not None or data is not None:
            kwargs["files"] = files
            kwargs["data"] = data
        elif content is not None:
            kwargs["content"] = content
        elif json_body is not None:
            kwargs["json"] = json_body
        self.client.cookies.clear()
        try:
            response = self.client.request(method, path, **kwargs)
        finally:
            self.client.cookies.clear()
            self.sent += 1
        body: Any = None
        try:
            body = response.json()
        except (json.JSONDecodeError, UnicodeDecodeError, ValueError):
            body = None
        code = None
        if isinstance(body, dict) and isinstance(body.get("error"), dict):
            code = body["error"].get("code")
        echo = " ".join(
            [
                path,
                json.dumps(params, default=str) if params else "",
                json.dumps(json_body, default=str) if json_body is not None else "",
                json.dumps(data, default=str) if data else "",
                json.dumps(hdrs, default=str),
            ]
        )
        return Sent(
            method=method,
            url=str(response.request.url),
            status=response.status_code,
            code=code,
            body=body,
            text=response.text if body is None else "",
            headers={k.lower(): v for k, v in response.headers.items()},
            echo=echo,
        )

    def login(self, creds: Credentials, *, host: str | None = None) -> Actor:
        headers = {"host": host} if host else None
        self.client.cookies.clear()
        payload = {"email": creds.email, "password": creds.password}
        if creds.tenant:  # "" : an account signed in without naming a tenant (an operator)
            payload["tenant"] = creds.tenant
        response = self.client.post("/api/auth/login", json=payload, headers=headers)
        self.client.cookies.clear()
        self.sent += 1
        if response.status_code != 200:
            raise LoginFailed(
                f"{creds.label} ({creds.email} → {creds.tenant}): "
                f"{response.status_code} {response.text[:200]}"
            )
        body = response.json()
        actor = Actor(creds)
        for name, value in response.cookies.items():
            actor.cookies[name] = value
        actor.user_id = str(uuid.UUID(str(body["user"]["id"])))
        active = body.get("active_tenant") or {}
        actor.tenant_id = str(active.get("id", ""))
        actor.tenant_slug = str(active.get("slug", ""))
        actor.role = body.get("role")
        if actor.cookie(SESSION_COOKIE) is None:
            raise LoginFailed(f"{creds.label}: the server set no session cookie")
        if not creds.tenant:
            return actor
        if actor.tenant_slug != creds.tenant:
            raise LoginFailed(f"{creds.label}: signed in to {actor.tenant_slug!r}")
        if actor.cookie(SIG_COOKIE) is None:
            raise LoginFailed(f"{creds.label}: the server set no tenant_sig cookie")
        return actor
