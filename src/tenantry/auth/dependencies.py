"""Route dependencies that authenticate and set the tenant context (walls 2 and 3).

``require_tenant`` is the only code that turns a request into a tenant context. In
order it checks: the ``tenant_sig`` signature (present and invalid is refused even
without a session), the session, the signature against the session (same user,
tenant and session version), the host's tenant against the session's, and then —
in ONE statement, the first of the request's own transaction (``tenantry.db.unit``),
whose BEGIN pins the session's tenant and user — that the session row still exists
(not logged out), the user's current session version, the tenant's status and the
membership. Any failure is a distinct 401/403 code and a security event; nothing of
the request's work has run by then, and the unit is rolled back. Revocation is
immediate: nothing of this is cached.

One call into the unit, not two: for a session this process verified before
(``auth.guesses``), the check is not run here in a call of its own but DEFERRED to the
unit (``tenantry.db.unit``): it becomes the first statement of the call that runs the
endpoint, in the same pinned transaction, and the unit runs it before anything else of
the request can happen (any statement, the endpoint, an idempotency claim, an upload,
any error or response leaving the handler). The role is guessed from the last check
meanwhile; a check that finds it changed re-runs the request eagerly. Deferred only
where nothing between here and the endpoint spends anything (``_may_defer``).

It is ``async`` on purpose: FastAPI runs sync dependencies in a worker thread with a
*copy* of the context, so a context variable set there would never reach the
endpoint. Set here, in the request's own task, it reaches every later dependency
and the endpoint (worker threads copy it in).
"""

from __future__ import annotations

import contextvars
import functools
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Any

import psycopg
import structlog
from fastapi import Depends, Request, Response
from fastapi.concurrency import run_in_threadpool
from psycopg import sql
from sqlalchemy import Connection, Select, Uuid, bindparam, null, select
from sqlalchemy.orm import Session
from sqlalchemy.util.concurrency import await_

from tenantry.auth import cookies
from tenantry.auth.guesses import Key, role_guesses
from tenantry.auth.models import Membership, User, UserSession
from tenantry.db.dialect import PreparedRead, Rider, TenantryDialect, riding_on_begin
from tenantry.db.engine import Database
from tenantry.db.loop import on_loop
from tenantry.db.tenant import Tenant
from tenantry.db.unit import RequestUnit, StaleGuess, current_unit, ensure_checked
from tenantry.errors import (
    NoActiveTenant,
    NotAMember,
    NotAuthenticated,
    NotFound,
    RoleRequired,
    SessionRevoked,
    TenantMismatchForbidden,
    TenantryError,
    TenantSigInvalid,
    TenantSigMissing,
    TenantSuspended,
)
from tenantry.isolation import signing
from tenantry.isolation.context import TenantContext, set_context, tenant_context
from tenantry.isolation.scopes import ROLES_ATTR, provides_tenant_context
from tenantry.settings import Settings

_log = structlog.get_logger("tenantry.security")


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def database_of(request: Request) -> Database:
    db: Database = request.app.state.db
    return db


# Dependencies that do no I/O are ``async``: FastAPI runs a sync dependency in a worker
# thread, a hop that costs more than the work.
async def get_settings_dep(request: Request) -> Settings:
    return settings_of(request)


async def get_database(request: Request) -> Database:
    return database_of(request)


@dataclass(frozen=True)
class Access:
    session_version: int
    tenant_status: str | None
    role: str | None
    membership_status: str | None


def _access_statements() -> tuple[Select[Any], Select[Any]]:
    """ONE statement for the whole check: the session row and the live session version,
    the tenant's status and the membership (left joins: a missing tenant or membership
    is a refusal, not a missing row).

    Plain SQL on the tables, run on the session's connection, not through the ORM: the
    ORM's per-statement work cost more than the query. The membership is read with the
    tenant named explicitly — RLS's ``member_self_read`` policy shows a user their
    memberships in *every* tenant, so the pin alone would not do — and the tenant id is
    the one the signed session names (the transaction's pin).
    Built once (bound parameters). The second form checks the session alone."""
    users, sessions = User.__table__, UserSession.__table__
    tenants, members = Tenant.__table__, Membership.__table__
    user_id = bindparam("user_id", type_=Uuid())
    session_id = bindparam("session_id", type_=Uuid())
    tenant_id = bindparam("tenant_id", type_=Uuid())
    session_row = (
        select(users.c.session_version)
        .select_from(users.join(sessions, sessions.c.user_id == users.c.id))
        .where(users.c.id == user_id, sessions.c.id == session_id)
    )
    in_tenant = (
        select(users.c.session_version, tenants.c.status, members.c.role, members.c.status)
        .select_from(
            users.join(sessions, sessions.c.user_id == users.c.id)
            .outerjoin(tenants, tenants.c.id == tenant_id)
            .outerjoin(
                members, (members.c.user_id == users.c.id) & (members.c.tenant_id == tenant_id)
            )
        )
        .where(users.c.id == user_id, sessions.c.id == session_id)
    )
    alone = session_row.add_columns(
        null().label("status"), null().label("role"), null().label("member_status")
    )
    return in_tenant, alone


_ACCESS_IN_TENANT, _ACCESS_ALONE = _access_statements()


def check_access(
    session: Session, login: cookies.SessionData, tenant_id: uuid.UUID | None
) -> Access | None:
    """The user's live session version — ``None`` when the session row is gone (logged
    out) — and the tenant's status and their membership, on ``session``'s connection
    (the request's own: its transaction, begun here if not yet, is pinned to the
    context's tenant and user). If this begins the transaction, the check rides in its
    BEGIN message (``access_rider``): no round trip of its own."""
    if session.in_transaction():
        return _read_access(session.connection(), login, tenant_id)
    rider = access_rider(login, tenant_id)
    with riding_on_begin(rider):
        connection = session.connection()
    return access_of(rider, connection, login, tenant_id)


def _prepared_access(in_tenant: bool) -> PreparedRead:
    """The access statement as a ``PreparedRead`` (the same SQL ``_read_access`` sends,
    with ``$n`` for psycopg's named placeholders)."""
    stmt = _ACCESS_IN_TENANT if in_tenant else _ACCESS_ALONE
    text = str(stmt.compile(dialect=TenantryDialect()))  # type: ignore[no-untyped-call]
    names = _ACCESS_ARGS if in_tenant else _ACCESS_ARGS[:2]
    for n, name in enumerate(names, 1):
        text = text.replace(f"%({name})s", f"${n}")
    name = "tenantry_access" if in_tenant else "tenantry_access_alone"
    return PreparedRead(name, text, ("uuid",) * len(names))


_ACCESS_ARGS = ("user_id", "session_id", "tenant_id")
_ACCESS_READS = {True: _prepared_access(True), False: _prepared_access(False)}


def access_rider(login: cookies.SessionData, tenant_id: uuid.UUID | None) -> Rider:
    """The access check as a read for the transaction's BEGIN message
    (``tenantry.db.dialect.Rider``): one round trip fewer per authenticated request."""
    read = _ACCESS_READS[tenant_id is not None]
    return Rider(read, _execute_access(login.user_id, login.session_id, tenant_id))


@functools.lru_cache(maxsize=8192)
def _execute_access(
    user_id: uuid.UUID, session_id: uuid.UUID, tenant_id: uuid.UUID | None
) -> bytes:
    """``EXECUTE tenantry_access('<user>', '<session>', '<tenant>')``: the ids composed
    with ``sql.Literal`` from parsed ``uuid.UUID`` values (a ``str`` is refused)."""
    ids = (user_id, session_id) if tenant_id is None else (user_id, session_id, tenant_id)
    for value in ids:
        if not isinstance(value, uuid.UUID):
            raise TypeError(f"an access id must be a uuid.UUID, not {type(value).__name__}")
    return _ACCESS_READS[tenant_id is not None].execute(
        *(sql.Literal(str(value)).as_bytes(None) for value in ids)
    )


def access_of(
    rider: Rider,
    connection: Connection | None,
    login: cookies.SessionData,
    tenant_id: uuid.UUID | None,
) -> Access | None:
    """The access check's answer from the rider's rows (text format), or — when no BEGIN
    carried it — from the statement run now on ``connection``."""
    result = rider.result
    if result is None:
        if connection is None:  # pragma: no cover - a held transaction always has it
            raise RuntimeError("the access check did not ride in BEGIN and has no connection")
        return _read_access(connection, login, tenant_id)
    if result.ntuples == 0:
        return None
    version = result.get_value(0, 0)
    if version is None:  # pragma: no cover - NOT NULL; refused as a revoked session
        return None
    status, role, member_status = (result.get_value(0, col) for col in (1, 2, 3))
    return Access(
        int(version),
        None if status is None else status.decode(),
        None if role is None else role.decode(),
        None if member_status is None else member_status.decode(),
    )


_RAW_SQL: dict[tuple[str, bool], str] = {}


def _access_sql(connection: Connection, in_tenant: bool) -> str:
    """The access statement compiled once per dialect (the same SQL Core would send)."""
    key = (connection.dialect.name, in_tenant)
    sql = _RAW_SQL.get(key)
    if sql is None:
        stmt = _ACCESS_IN_TENANT if in_tenant else _ACCESS_ALONE
        sql = _RAW_SQL[key] = str(stmt.compile(dialect=connection.dialect))
    return sql


def _read_access(
    connection: Connection, login: cookies.SessionData, tenant_id: uuid.UUID | None
) -> Access | None:
    params: dict[str, Any] = {"user_id": login.user_id, "session_id": login.session_id}
    if tenant_id is not None:
        params["tenant_id"] = tenant_id
    if on_loop():
        row = _read_on_driver(connection, _access_sql(connection, tenant_id is not None), params)
    else:
        stmt = _ACCESS_ALONE if tenant_id is None else _ACCESS_IN_TENANT
        row = connection.execute(stmt, params).first()
    if row is None:
        return None
    return Access(row[0], row[1], row[2], row[3])


def _read_on_driver(connection: Connection, sql: str, params: dict[str, Any]) -> Any:
    """The access statement on the psycopg connection under ``connection``, in its
    (pinned) transaction: every authenticated request runs it, and SQLAlchemy's
    execution around it cost more than the statement (client CPU 141-157 us against
    86-96, bench/README session 8). Engine events do not see it: tests count it from
    the protocol (tests/integration/test_quotas.py). A connection the error left broken
    is invalidated, as SQLAlchemy does for a disconnect, so the pool never hands it out
    again."""
    raw = connection.connection.driver_connection
    assert raw is not None
    try:
        cursor = await_(raw.execute(sql, params))
        return await_(cursor.fetchone())
    except psycopg.Error:
        if raw.broken or raw.closed:
            connection.invalidate()
        raise


def load_access(
    db: Database, session: cookies.SessionData, tenant_id: uuid.UUID | None
) -> Access | None:
    """``check_access`` in a unit of work of its own (callers outside a request's)."""
    ctx = TenantContext(tenant_id=tenant_id, user_id=session.user_id)
    with tenant_context(ctx), db.session() as s:
        return check_access(s, session, tenant_id)


def _refuse(request: Request, error: TenantryError, **fields: Any) -> TenantryError:
    # The security log feeds metrics and the operator view (tenantry.observability):
    # name the caller's tenant and user from the signed session when the caller did not.
    if not ({"tenant", "session_tenant"} & fields.keys() and "user" in fields):
        session = cookies.read_session(settings_of(request), request)
        if session is not None:
            if not ({"tenant", "session_tenant"} & fields.keys()):
                fields["session_tenant"] = session.tenant_id
            fields.setdefault("user", session.user_id)
    _log.warning(
        "security_event",
        code=error.code,
        request_id=getattr(request.state, "request_id", None),
        path=request.url.path,
        client=request.client.host if request.client else None,
        **{k: str(v) for k, v in fields.items() if v is not None},
    )
    return error


def _bind(request: Request, ctx: TenantContext) -> Mapping[str, contextvars.Token[Any]]:
    set_context(ctx)
    request.state.user_id = ctx.user_id
    request.state.tenant_id = ctx.tenant_id
    return structlog.contextvars.bind_contextvars(
        tenant_id=str(ctx.tenant_id) if ctx.tenant_id else None, user_id=str(ctx.user_id)
    )


def _passes(login: cookies.SessionData, access: Access | None) -> bool:
    return (
        access is not None
        and access.session_version == login.session_version
        and access.tenant_status == "active"
        and access.role is not None
        and access.membership_status == "active"
    )


def _verify(request: Request, login: cookies.SessionData, access: Access | None) -> str:
    """The member's role, or the refusal (a security event) the check stands for."""
    if access is None or access.session_version != login.session_version:
        raise _refuse(request, SessionRevoked(), user=login.user_id)
    if access.tenant_status != "active":
        raise _refuse(request, TenantSuspended(), tenant=login.tenant_id)
    if access.role is None or access.membership_status != "active":
        raise _refuse(request, NotAMember(), tenant=login.tenant_id, user=login.user_id)
    return access.role


def _may_defer(request: Request) -> bool:
    """Deferring is safe only where nothing between ``require_tenant`` and the endpoint
    spends anything on the caller's behalf before the check: a multipart body may be
    streamed to disk, or hold files that a re-run (``StaleGuess``) could not read again.
    What does spend runs the check first or after it: ``enforce_quota`` hands its count
    to the unit (``RequestUnit.after_check``) or runs the check first; an idempotency
    claim and an upload run ``ensure_checked`` first themselves."""
    return not request.headers.get("content-type", "").startswith("multipart/")


_UNSET = object()


class _DeferredAccess:
    """``require_tenant``'s check, run by the unit as the first statement of the
    request's pinned transaction (``tenantry.db.unit.DeferredCheck``)."""

    __slots__ = ("_rider", "_state", "_tokens", "guess", "key", "login", "request")

    def __init__(self, request: Request, login: cookies.SessionData, key: Key, guess: str) -> None:
        self.request, self.login, self.key, self.guess = request, login, key, guess
        self._rider: Rider | None = None
        # What binding the request to the tenant replaces, for ``undo``.
        self._state = {name: getattr(request.state, name, _UNSET) for name in _BOUND}
        self._tokens: Mapping[str, contextvars.Token[Any]] = {}

    def bound(self, tokens: Mapping[str, contextvars.Token[Any]]) -> None:
        self._tokens = tokens

    def rider(self) -> Rider:
        """The check as a read for the BEGIN message of the transaction it runs in."""
        self._rider = access_rider(self.login, self.login.tenant_id)
        return self._rider

    def run(self, connection: Connection | None) -> None:
        if self._rider is None:
            if connection is None:  # pragma: no cover - a held transaction has a rider
                raise RuntimeError("the access check has neither a rider nor a connection")
            access = _read_access(connection, self.login, self.login.tenant_id)
        else:
            access = access_of(self._rider, connection, self.login, self.login.tenant_id)
        if not _passes(self.login, access):
            # Logged as the eager check logs it: before the request is bound to the
            # tenant (this thread's copy of the context only).
            structlog.contextvars.unbind_contextvars(*_BOUND)
        role = _verify(self.request, self.login, access)
        if role != self.guess:
            role_guesses.forget(self.key)
            raise StaleGuess(f"role {role!r}, guessed {self.guess!r}")

    def undo(self) -> None:
        set_context(None)  # refused: no tenant context for the rest of the request
        for name, value in self._state.items():
            if value is _UNSET:
                self.request.state._state.pop(name, None)
            else:
                setattr(self.request.state, name, value)
        structlog.contextvars.reset_contextvars(**self._tokens)


_BOUND = ("tenant_id", "user_id")


@provides_tenant_context
async def require_tenant(request: Request, response: Response) -> TenantContext:
    unit = current_unit()
    if isinstance(unit.verified, TenantContext):  # this run verified it already
        return unit.verified
    ctx = await _require_tenant(request, response, unit)
    unit.verified = ctx
    return ctx


async def _require_tenant(request: Request, response: Response, unit: RequestUnit) -> TenantContext:
    settings = settings_of(request)
    sig = cookies.read_sig(settings, request)
    claim: signing.TenantClaim | None = None
    if sig is not None:
        try:
            claim = signing.verify(
                settings.signing_keys, sig, max_age_s=settings.tenant_sig_max_age_s
            )
        except signing.SignatureError as exc:
            raise _refuse(request, TenantSigInvalid(), reason=str(exc)) from exc
    session = cookies.read_session(settings, request)
    if session is None:
        raise NotAuthenticated()
    if session.tenant_id is None:
        raise NoActiveTenant()
    if claim is None:
        raise _refuse(request, TenantSigMissing(), user=session.user_id)
    if claim.user_id != session.user_id or claim.tenant_id != session.tenant_id:
        raise _refuse(
            request,
            TenantMismatchForbidden(),
            session_tenant=session.tenant_id,
            sig_tenant=claim.tenant_id,
            user=session.user_id,
        )
    if claim.session_version != session.session_version:
        raise _refuse(request, TenantSigInvalid(), reason="session version differs")
    host_tenant = getattr(request.state, "host_tenant", None)
    if host_tenant is not None and host_tenant.id != session.tenant_id:
        raise _refuse(
            request,
            TenantMismatchForbidden(),
            session_tenant=session.tenant_id,
            host_tenant=host_tenant.id,
        )
    # The check is the first statement of the request's own transaction, whose BEGIN
    # pins the tenant and user the signed session names (the context set here); the
    # role is known once it passed — or guessed, and the check deferred (module doc).
    request_id = getattr(request.state, "request_id", None)
    key: Key = (session.session_id, session.tenant_id, session.session_version)
    guess = role_guesses.get(key) if unit.speculate and unit.can_defer else None
    if guess is not None and _may_defer(request):
        ctx = TenantContext(tenant_id=session.tenant_id, user_id=session.user_id,
                            role=guess, request_id=request_id, scope="tenant")  # fmt: skip
        check = _DeferredAccess(request, session, key, guess)
        unit.defer(check)
        check.bound(_bind(request, ctx))
        cookies.refresh_seen(settings, response, session)
        return ctx
    # (Only the context variable: the request is attributed to the tenant once passed.)
    set_context(TenantContext(tenant_id=session.tenant_id, user_id=session.user_id,
                              request_id=request_id, scope="tenant"))  # fmt: skip
    try:
        access = await unit.call(check_access, unit.session, session, session.tenant_id)
        role = _verify(request, session, access)
    except BaseException:
        set_context(None)  # refused: no tenant context for the rest of the request
        raise
    role_guesses.remember(key, role)
    ctx = TenantContext(
        tenant_id=session.tenant_id,
        user_id=session.user_id,
        role=role,
        request_id=request_id,
        scope="tenant",
    )
    _bind(request, ctx)
    cookies.refresh_seen(settings, response, session)
    return ctx


async def require_host_tenant(request: Request) -> TenantContext:
    """Public per-tenant routes (catalogue, posts, contact): the tenant is the host's.

    Anonymous: the context carries the tenant and no user, so the guard and RLS scope
    every read to the host's tenant.
    """
    host_tenant = getattr(request.state, "host_tenant", None)
    if host_tenant is None:
        raise NotFound("Use the tenant's own host (<slug>.<base-domain>) for this endpoint.")
    if host_tenant.status != "active":
        raise TenantSuspended()
    ctx = TenantContext(
        tenant_id=host_tenant.id,
        request_id=getattr(request.state, "request_id", None),
        scope="public",
    )
    set_context(ctx)
    request.state.tenant_id = ctx.tenant_id
    structlog.contextvars.bind_contextvars(tenant_id=str(ctx.tenant_id))
    return ctx


@dataclass(frozen=True)
class SignedInUser:
    user_id: uuid.UUID
    session: cookies.SessionData


async def require_user(request: Request, response: Response) -> SignedInUser:
    """A signed-in user whose session is still valid; no tenant required."""
    settings = settings_of(request)
    session = cookies.read_session(settings, request)
    if session is None:
        raise NotAuthenticated()
    access = await run_in_threadpool(load_access, database_of(request), session, None)
    if access is None or access.session_version != session.session_version:
        raise _refuse(request, SessionRevoked(), user=session.user_id)
    _bind(
        request,
        TenantContext(
            tenant_id=None,
            user_id=session.user_id,
            request_id=getattr(request.state, "request_id", None),
            scope="public",
        ),
    )
    cookies.refresh_seen(settings, response, session)
    return SignedInUser(session.user_id, session)


async def optional_user(request: Request, response: Response) -> SignedInUser | None:
    """The signed-in user when the request carries a live session, else ``None`` (for
    endpoints that serve both, such as accepting an invitation)."""
    if cookies.read_session(settings_of(request), request) is None:
        return None
    try:
        return await require_user(request, response)
    except (NotAuthenticated, SessionRevoked):
        return None


class RequireRole:
    """``Depends(RequireRole("owner", "admin"))``: the member's role must be one of these."""

    def __init__(self, *roles: str) -> None:
        self.roles = roles
        setattr(self, ROLES_ATTR, roles)

    async def __call__(
        self, request: Request, ctx: Annotated[TenantContext, Depends(require_tenant)]
    ) -> TenantContext:
        if ctx.role not in self.roles:
            # A deferred check first: a revoked session's refusal is its own event, and
            # a guessed role may be stale (then the request runs again, checked first).
            await ensure_checked()
            raise _refuse(request, RoleRequired(), role=ctx.role, needs=",".join(self.roles))
        return ctx


async def db_session() -> Session:
    """The request's one session (``tenantry.db.unit``): services flush; the endpoint's
    wrapper commits once, right after the endpoint returns and before the response is
    sent, so a client never gets a 2xx for a write that then fails to commit, and its
    next request always sees its own write."""
    return current_unit().session


CurrentTenant = Annotated[TenantContext, Depends(require_tenant)]
CurrentUser = Annotated[SignedInUser, Depends(require_user)]
MaybeUser = Annotated[SignedInUser | None, Depends(optional_user)]
HostTenant = Annotated[TenantContext, Depends(require_host_tenant)]
TenantSession = Annotated[Session, Depends(db_session)]
SettingsDep = Annotated[Settings, Depends(get_settings_dep)]
DatabaseDep = Annotated[Database, Depends(get_database)]


Dependency = Callable[..., Any]
