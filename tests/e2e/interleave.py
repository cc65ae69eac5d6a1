"""Interleaved requests from many tenants against a running server (``server_app`` of
``test_concurrency``), some abandoned by the client midway; shared by the PgBouncer and
Citus tests. Every answer is checked with ``test_concurrency._check``."""

from __future__ import annotations

import asyncio
import random
import uuid
from dataclasses import dataclass

import httpx

from tests.e2e.test_concurrency import Outcome, Tenant, _login


@dataclass(frozen=True)
class Plan:
    per_tenant: int = 20
    slow_ms: int = 250  # the abandoned requests sleep this long inside their transaction
    abandon_after_s: float = 0.08
    abandon_every: int = 8
    concurrency: int = 12
    seed: int = 21
    whoami: str = "/api/e2e/whoami"  # with query parameters of its own, if any


async def _one(
    client: httpx.AsyncClient,
    sem: asyncio.Semaphore,
    t: Tenant,
    path: str,
    abandon_after: float | None,
) -> Outcome:
    out = Outcome(t, f"il-{t.slug}-{uuid.uuid4().hex[:12]}", path)
    headers = {
        "x-request-id": out.request_id,
        "cookie": "; ".join(f"{k}={v}" for k, v in t.cookies.items()),
    }
    async with sem:
        try:
            if abandon_after is not None:
                r = await asyncio.wait_for(client.get(path, headers=headers), abandon_after)
            else:
                r = await client.get(path, headers=headers)
        except (httpx.TimeoutException, TimeoutError):
            out.abandoned = True
            return out
    out.status, out.body = r.status_code, r.json()
    return out


async def _run(base: str, tenants: list[Tenant], plan: Plan) -> tuple[list[Outcome], list[Outcome]]:
    rng = random.Random(plan.seed)
    sem = asyncio.Semaphore(plan.concurrency)
    async with httpx.AsyncClient(base_url=base, timeout=60) as client:
        for t in tenants:
            await _login(client, t)
        calls: list[tuple[Tenant, str, float | None]] = []
        for t in tenants:
            for n in range(plan.per_tenant):
                if n % plan.abandon_every == plan.abandon_every - 1:
                    slow = (
                        f"{plan.whoami}{'&' if '?' in plan.whoami else '?'}sleep_ms={plan.slow_ms}"
                    )
                    calls.append((t, slow, plan.abandon_after_s))
                else:
                    calls.append((t, plan.whoami if n % 3 else "/api/tenant/current", None))
        rng.shuffle(calls)
        first = await asyncio.gather(*(_one(client, sem, t, p, a) for t, p, a in calls))
        await asyncio.sleep(plan.slow_ms / 1000 + 0.5)  # the abandoned ones finish server-side
        again = [(t, plan.whoami) for t in tenants for _ in range(3)]
        rng.shuffle(again)
        second = await asyncio.gather(*(_one(client, sem, t, p, None) for t, p in again))
    return list(first), list(second)


def run_interleaved(
    base: str, tenants: list[Tenant], plan: Plan
) -> tuple[list[Outcome], list[Outcome]]:
    """(abandoned, answered) outcomes: the answered ones include a second round run after
    the abandoned requests had finished on the server."""
    first, second = asyncio.run(_run(base, tenants, plan))
    return [o for o in first if o.abandoned], [o for o in first if not o.abandoned] + second
