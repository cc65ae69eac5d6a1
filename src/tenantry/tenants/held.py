"""What a tenant did not do while it was suspended, done once it is active again.

While a tenant is not ``active`` nothing acts on its behalf in the background:

* the job worker holds its jobs (``tenantry.jobs.held``: kept in ``held_jobs``, not run);
* the payments webhook stores its signed events without applying them
  (``payment_events.held_at`` set; the provider is answered 200 ``held``).

``release_held_work(db, tenant_id)`` is THE function to call right after a tenant is
made active again: ``tenants.lifecycle.reactivate_tenant`` (``tenantry tenant
reactivate``, the operator API) calls it; any other path that sets the status back to
``active`` must too. It defers the held jobs afresh and applies the held payment events
in the order they arrived. It refuses (``TenantNotActive``) while the tenant is
still not active, and is idempotent: what was released is gone from the hold.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from tenantry.db.engine import Database
from tenantry.db.tenant_status import ACTIVE, tenant_status
from tenantry.jobs.held import release_held_jobs
from tenantry.payments.service import apply_held_events


class TenantNotActive(RuntimeError):
    pass


@dataclass(frozen=True)
class Released:
    jobs: int
    payment_events: int


def release_held_work(db: Database, tenant_id: uuid.UUID) -> Released:
    status = tenant_status(db, tenant_id)
    if status != ACTIVE:
        raise TenantNotActive(f"tenant {tenant_id} is {status or 'unknown'}, not active")
    return Released(
        jobs=release_held_jobs(db, tenant_id),
        payment_events=apply_held_events(db, tenant_id),
    )
