"""``/api/operator/...``: the platform operator's system-scope API.

Every route needs a signed-in operator (``is_superadmin``) and a stated ``reason``
(query parameter for reads, body for changes); a missing or empty reason is ``400
reason_required`` and nothing is read. Every access is written to the platform audit
log before any data is read (``GET /api/operator/audit-log`` or ``tenantry audit log``).
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Annotated

from fastapi import Query
from fastapi.concurrency import run_in_threadpool

from tenantry.auth.dependencies import DatabaseDep, SettingsDep
from tenantry.db.engine import Database
from tenantry.http_errors import ErrorResponse
from tenantry.isolation.scopes import scoped_router
from tenantry.operator import service
from tenantry.operator.dependencies import CurrentOperator, Operator, StatedReason
from tenantry.operator.schemas import (
    AuditEntryOut,
    AuditLogOut,
    CreatedTenantOut,
    CreateTenantIn,
    MemberChangeOut,
    MemberRoleIn,
    OwnerInvitationOut,
    ReasonIn,
    StatusOut,
    TableRows,
    TenantDetail,
    TenantList,
)
from tenantry.tenants.lifecycle import TenantRef, create_tenant, reactivate_tenant, suspend_tenant
from tenantry.tenants.members import change_member

router = scoped_router(
    "system",
    prefix="/api/operator",
    tags=["operator"],
    error_model=ErrorResponse,
    error_codes=(400, 401, 403, 404, 422),
)


@router.get("/tenants")
async def list_tenants(
    operator: CurrentOperator, reason: StatedReason, db: DatabaseDep, settings: SettingsDep
) -> TenantList:
    """Every tenant with its status and size (rows across tenant tables, stored files)."""
    items = await run_in_threadpool(
        lambda: service.list_tenants(
            db, actor=operator.actor(), reason=reason, upload_dir=settings.upload_dir
        )
    )
    return TenantList(items=items)


@router.post("/tenants", status_code=201)
async def create(
    body: CreateTenantIn, operator: CurrentOperator, db: DatabaseDep
) -> CreatedTenantOut:
    """Provision a tenant in one transaction (settings, default permissions) and mail
    its owner an invitation link: the owner joins by accepting it (an existing account
    signed in, or a new one choosing its password). No password is created or returned.
    `invalid_slug` (422) and `slug_taken` (409, look-alikes too) explain a refused slug."""
    from tenantry.tenants.audit_log import require_reason

    reason = require_reason(body.reason)
    created = await run_in_threadpool(
        lambda: create_tenant(
            db,
            slug=body.slug,
            name=body.name,
            owner_email=body.owner_email,
            owner_name=body.owner_name,
            actor=operator.actor(),
            reason=reason,
        )
    )
    return CreatedTenantOut(
        id=created.tenant.id,
        slug=created.tenant.slug,
        name=created.tenant.name,
        owner_id=created.owner_id,
        owner_is_new=created.owner_is_new,
        owner_invitation=(
            OwnerInvitationOut(**dataclasses.asdict(created.owner_invitation))
            if created.owner_invitation
            else None
        ),
    )


@router.get("/tenants/{slug}")
async def tenant_detail(
    slug: str,
    operator: CurrentOperator,
    reason: StatedReason,
    db: DatabaseDep,
    settings: SettingsDep,
) -> TenantDetail:
    """One tenant: status, size and its row count in every tenant table."""
    summary, tables = await run_in_threadpool(
        lambda: service.tenant_detail(
            db, slug=slug, actor=operator.actor(), reason=reason, upload_dir=settings.upload_dir
        )
    )
    return TenantDetail(tenant=summary, tables=tables)


@router.get("/tenants/{slug}/tables/{table}")
async def read_rows(
    slug: str,
    table: str,
    operator: CurrentOperator,
    reason: StatedReason,
    db: DatabaseDep,
    limit: Annotated[int, Query(ge=1, le=service.MAX_ROWS)] = 50,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> TableRows:
    """Rows of one of the tenant's tables, in key order (support). Audited with the
    table and page."""
    rows = await run_in_threadpool(
        lambda: service.read_rows(
            db, slug=slug, table=table, actor=operator.actor(), reason=reason,
            limit=limit, offset=offset,
        )
    )  # fmt: skip
    return TableRows(tenant=slug, table=table, offset=offset, limit=limit, rows=rows)


@router.post("/tenants/{slug}/suspend")
async def suspend(
    slug: str, body: ReasonIn, operator: CurrentOperator, db: DatabaseDep
) -> StatusOut:
    """Suspend: the tenant's members get `403 tenant_suspended` from their next request."""
    return await _set_status(suspend_tenant, "suspended", db, slug, body, operator)


@router.post("/tenants/{slug}/reactivate")
async def reactivate(
    slug: str, body: ReasonIn, operator: CurrentOperator, db: DatabaseDep
) -> StatusOut:
    """Reactivate a suspended tenant."""
    return await _set_status(reactivate_tenant, "active", db, slug, body, operator)


async def _set_status(
    change: Callable[..., TenantRef],
    status: str,
    db: Database,
    slug: str,
    body: ReasonIn,
    operator: Operator,
) -> StatusOut:
    """Run a lifecycle change (suspend, reactivate) as the operator, with their reason."""
    ref = await run_in_threadpool(
        lambda: change(db, slug=slug, reason=body.reason, actor=operator.actor())
    )
    return StatusOut(slug=ref.slug, status=status)


@router.post("/tenants/{slug}/members/{user_id}/role")
async def change_member_role(
    slug: str, user_id: uuid.UUID, body: MemberRoleIn, operator: CurrentOperator, db: DatabaseDep
) -> MemberChangeOut:
    """Change a member's role (422 `unknown_role`, 409 `last_owner`); in force from the
    member's next request."""
    change = await run_in_threadpool(
        lambda: change_member(
            db, slug=slug, user_id=user_id, role=body.role, actor=operator.actor(),
            reason=body.reason,
        )
    )  # fmt: skip
    return MemberChangeOut.model_validate(change)


@router.post("/tenants/{slug}/members/{user_id}/remove")
async def remove_member(
    slug: str, user_id: uuid.UUID, body: ReasonIn, operator: CurrentOperator, db: DatabaseDep
) -> MemberChangeOut:
    """Remove a member (409 `last_owner`); refused from the member's next request on."""
    change = await run_in_threadpool(
        lambda: change_member(
            db, slug=slug, user_id=user_id, remove=True, actor=operator.actor(),
            reason=body.reason,
        )
    )  # fmt: skip
    return MemberChangeOut.model_validate(change)


@router.get("/audit-log")
async def audit_log(
    operator: CurrentOperator,
    reason: StatedReason,
    db: DatabaseDep,
    tenant: Annotated[str | None, Query(description="Only this tenant's slug.")] = None,
    action: Annotated[str | None, Query(description="Only this action.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditLogOut:
    """The platform audit log, newest first (reading it is itself recorded)."""
    entries = await run_in_threadpool(
        lambda: service.read_audit_log(
            db, actor=operator.actor(), reason=reason, slug=tenant, action=action, limit=limit
        )
    )
    return AuditLogOut(
        items=[
            AuditEntryOut(
                id=e.id, at=e.at, actor=e.actor, action=e.action, tenant_id=e.target_tenant_id,
                tenant=e.target_slug, reason=e.reason, details=e.details, request_id=e.request_id,
            )
            for e in entries
        ]
    )  # fmt: skip
