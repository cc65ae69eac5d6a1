"""Tenantry on a two-node Citus 13 cluster: distributed, rebalanced, attacked, loaded.

A coordinator and one worker (``tests/citus_cluster.py``: Debian's PostgreSQL 15 with
Citus, two ``initdb`` folders). The database is migrated on the coordinator, the worker
added, ``tenantry citus distribute`` makes every tenant table distributed by
``tenant_id`` (``tenants`` and ``users`` reference tables), the shards are rebalanced
over both nodes and the demo loaded, with acme's and globex's shard groups on different
nodes. Then, against the cluster:

* every tenant reads all of its own rows, on either node, as the app role under RLS
  (the transaction's ``SET LOCAL`` reaches the worker) — while a ``set_config`` pin,
  which Citus does not propagate, shows the worker's tenant nothing (the control);
* ``tenantry probe`` runs the HTTP isolation attack (acme against globex) against a
  Tenantry served on the coordinator: zero leaks;
* tenants spread over both nodes send interleaved requests, some abandoned midway:
  every answer is the caller's alone (context, pinned setting, RLS-visible tenants,
  rows).

Skipped with the reason when PostgreSQL 15 or Citus is not installed; ``.ci/run``
builds Citus first, so CI runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import create_engine, text

from tenantry.areas import tenant_owned_tables
from tenantry.audit.citus import citus_plan
from tenantry.db.bootstrap import DatabaseUrls, ensure_database, resolve_urls
from tenantry.db.engine import Database
from tenantry.isolation.context import TenantContext, tenant_context
from tenantry.services.models import Service
from tenantry.settings import Settings
from tenantry.tenants.lifecycle import add_member, provision_tenant
from tests.citus_cluster import Cluster, citus_cluster, citus_missing, server_log
from tests.e2e.interleave import Plan, run_interleaved
from tests.e2e.test_concurrency import Tenant, _check, tenantry_server
from tests.helpers import TEST_KEYS
from tests.isolation.world import new_user

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

DATABASE = "tenantry_citus"
SHARDS = 4
# Declared-global tables that distributed ones refer to: a copy on every node.
REFERENCE_TABLES = {"tenants", "users", "user_sessions", "account_tokens"}
DEMO_PASSWORD = "citus-demo-password"
# The attack on the cluster covers the route families whose rows live in distributed
# tables (every way of naming B's rows there); the whole route table is attacked on a
# single node by tests/isolation and by .ci/run's probe.
PROBED = ("/api/admin/bookings", "/api/admin/service-requests", "/api/admin/invoices",
          "/api/portal/")  # fmt: skip


@dataclass(frozen=True)
class Deployment:
    cluster: Cluster
    urls: DatabaseUrls
    settings: Settings
    env: dict[str, str]

    def node_of(self, tenant_id: uuid.UUID) -> int:
        """The port of the node holding ``tenant_id``'s shard group."""
        with self.cluster.coordinator.connect(DATABASE) as conn:
            row = conn.execute(
                "select n.nodeport from pg_dist_placement p join pg_dist_node n using (groupid)"
                " where p.shardid = get_shard_id_for_distribution_column('bookings', %s::uuid)",
                (str(tenant_id),),
            ).fetchone()
        assert row is not None
        return int(row[0])


def _cli(env: dict[str, str], *args: str) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "tenantry.ops.cli", *args],
        env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"tenantry {' '.join(args)}:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def _tenant_id(deployment: Deployment, slug: str) -> uuid.UUID:
    with deployment.cluster.coordinator.connect(DATABASE) as conn:
        row = conn.execute("select id from tenants where slug = %s", (slug,)).fetchone()
    assert row is not None, slug
    return uuid.UUID(str(row[0]))


def _shard_of(deployment: Deployment, tenant_id: uuid.UUID) -> int:
    with deployment.cluster.coordinator.connect(DATABASE) as conn:
        row = conn.execute(
            "select get_shard_id_for_distribution_column('bookings', %s::uuid)", (str(tenant_id),)
        ).fetchone()
    assert row is not None
    return int(row[0])


def _move_apart(deployment: Deployment, a: uuid.UUID, b: uuid.UUID) -> None:
    """Put b's shard group on the node a's is not on: split b into a shard group of its
    own first if the two hash into the same one (Citus's tenant isolation), then move it."""
    coordinator, worker = deployment.cluster.coordinator, deployment.cluster.worker
    with coordinator.connect(DATABASE) as conn:
        if _shard_of(deployment, a) == _shard_of(deployment, b):
            conn.execute(
                "select isolate_tenant_to_new_shard('bookings', %s::uuid, 'CASCADE',"
                " shard_transfer_mode => 'block_writes')",
                (str(b),),
            )
        if deployment.node_of(a) != deployment.node_of(b):
            return
        source = deployment.node_of(b)
        target = worker.port if source == coordinator.port else coordinator.port
        conn.execute(
            "select citus_move_shard_placement(%s, '127.0.0.1', %s, '127.0.0.1', %s,"
            " shard_transfer_mode => 'block_writes')",
            (_shard_of(deployment, b), source, target),
        )


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory) -> Any:
    reason = citus_missing()
    if reason:
        pytest.skip(reason)
    with citus_cluster() as cluster:
        try:
            yield _deploy(cluster, tmp_path_factory.mktemp("citus-tenantry"))
        except BaseException:
            print(server_log(cluster.coordinator))
            print(server_log(cluster.worker))
            raise


def _deploy(cluster: Cluster, data_dir: Path) -> Deployment:
    admin = cluster.coordinator.admin_url().render_as_string(hide_password=False)
    settings = Settings(data_dir=data_dir, database_name=DATABASE, database_url=admin,
                        secret_keys=TEST_KEYS)  # fmt: skip
    env = {
        **{k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"},
        "DATABASE_URL": admin,
        "TENANTRY_DATA_DIR": str(data_dir),
        "TENANTRY_DATABASE_NAME": DATABASE,
        "TENANTRY_SECRET_KEYS": TEST_KEYS,
        "TENANTRY_DEMO_PASSWORD": DEMO_PASSWORD,
        "TENANTRY_LOG_JSON": "false",
        "TENANTRY_LOG_LEVEL": "WARNING",
    }
    urls = resolve_urls(settings)
    ensure_database(urls)
    with cluster.coordinator.connect(DATABASE) as conn:
        conn.execute("create extension if not exists citus")
    _cli(env, "migrate")
    with cluster.worker.connect() as conn:
        conn.execute(f'create database "{DATABASE}"')
    with cluster.worker.connect(DATABASE) as conn:
        conn.execute("create extension citus")
    with cluster.coordinator.connect(DATABASE) as conn:
        conn.execute(
            "select citus_set_coordinator_host('127.0.0.1', %s)", (cluster.coordinator.port,)
        )
        conn.execute("select citus_add_node('127.0.0.1', %s)", (cluster.worker.port,))
    out = _cli(env, "citus", "distribute", "--shard-count", str(SHARDS))
    # Every tenant-owned table of the app's registry, and the declared-global tables
    # a distributed table refers to.
    tenant_tables = len(tenant_owned_tables())
    expected = f"{tenant_tables} table(s) distributed, {len(REFERENCE_TABLES)} reference table(s)"
    assert expected in out, out
    again = _cli(env, "citus", "distribute", "--shard-count", str(SHARDS))  # idempotent
    assert "0 table(s) distributed" in again, again
    with cluster.coordinator.connect(DATABASE) as conn:
        # The coordinator took no shards so far; let it hold half of them.
        conn.execute(
            "select citus_set_node_property('127.0.0.1', %s, 'shouldhaveshards', true)",
            (cluster.coordinator.port,),
        )
        conn.execute("select rebalance_table_shards(shard_transfer_mode => 'block_writes')")
    _cli(env, "demo-data")
    deployed = Deployment(cluster, urls, settings, env)
    _move_apart(deployed, _tenant_id(deployed, "acme"), _tenant_id(deployed, "globex"))
    return deployed


def test_tenant_tables_are_distributed_colocated_and_spread_over_both_nodes(deployment):
    coordinator, worker = deployment.cluster.coordinator, deployment.cluster.worker
    with coordinator.connect(DATABASE) as conn:
        kinds = dict(
            conn.execute(
                "select logicalrelid::regclass::text, partmethod from pg_dist_partition"
            ).fetchall()
        )
        colocations = conn.execute(
            "select count(distinct colocationid) from pg_dist_partition where partmethod = 'h'"
        ).fetchone()
        nodes = {
            port
            for (port,) in conn.execute(
                "select distinct n.nodeport from pg_dist_placement p"
                " join pg_dist_node n using (groupid) join pg_dist_shard s using (shardid)"
                " where s.logicalrelid = 'bookings'::regclass"
            ).fetchall()
        }
    plan = _plan(deployment)
    assert {t for t, kind in kinds.items() if kind == "h"} == set(plan["distributed"])
    assert set(plan["distributed"]) == set(tenant_owned_tables())
    assert {t for t, kind in kinds.items() if kind == "n"} == REFERENCE_TABLES
    assert colocations == (1,)
    assert nodes == {coordinator.port, worker.port}
    acme, globex = _tenant_id(deployment, "acme"), _tenant_id(deployment, "globex")
    assert deployment.node_of(acme) != deployment.node_of(globex)


def _plan(deployment: Deployment) -> dict[str, list[str]]:
    engine = create_engine(deployment.urls.migrator)
    try:
        with engine.connect() as conn:
            return citus_plan(conn)
    finally:
        engine.dispose()


def _tenant_tables(deployment: Deployment) -> list[str]:
    return _plan(deployment)["distributed"]


def test_every_tenant_reads_all_its_own_rows_on_either_node(deployment):
    database = Database(deployment.urls, pool_size=2)
    tables = _tenant_tables(deployment)
    try:
        for slug in ("acme", "globex"):
            tenant = _tenant_id(deployment, slug)
            with deployment.cluster.coordinator.connect(DATABASE) as admin:
                expected = {
                    t: admin.execute(
                        f'select count(*) from "{t}" where tenant_id = %s', (str(tenant),)
                    ).fetchone()[0]
                    for t in tables
                }
            with tenant_context(TenantContext(tenant_id=tenant)), database.session() as s:
                seen = {t: s.scalar(text(f'select count(*) from "{t}"')) for t in tables}
            assert seen == expected, slug
            assert expected["bookings"] > 0 and expected["services"] > 0
    finally:
        database.dispose()


def test_a_set_config_pin_is_not_seen_on_the_worker_the_control(deployment):
    """What the pin in BEGIN avoids: set_config is not propagated, so the tenant whose
    shards live on the worker reads nothing there."""
    worker = deployment.cluster.worker
    on_worker = next(
        t for t in (_tenant_id(deployment, s) for s in ("acme", "globex"))
        if deployment.node_of(t) == worker.port
    )  # fmt: skip
    app = psycopg.connect(
        host="127.0.0.1", port=deployment.cluster.coordinator.port, dbname=DATABASE,
        user=deployment.urls.app_role, password=deployment.urls.app.password or "",
    )  # fmt: skip
    try:
        app.execute("select set_config('app.current_tenant_id', %s, true)", (str(on_worker),))
        assert app.execute("select count(*) from bookings").fetchone() == (0,)
        app.rollback()
        app.execute(f"set local app.current_tenant_id = '{on_worker}'")
        assert app.execute("select count(*) from bookings").fetchone()[0] > 0
        app.rollback()
    finally:
        app.close()


@pytest.fixture(scope="module")
def served(deployment, tmp_path_factory) -> Any:
    log = tmp_path_factory.mktemp("citus-server") / "stdout.jsonl"
    extra = {k: v for k, v in deployment.env.items() if k.startswith("TENANTRY_") or
             k == "DATABASE_URL"}  # fmt: skip
    extra["TENANTRY_LOG_JSON"] = "true"
    with tenantry_server(deployment.settings, deployment.urls, log, **extra) as (base, _):
        yield base


def test_the_http_attack_finds_no_leak_on_citus(served, deployment, tmp_path):
    report = tmp_path / "probe-citus.json"
    out = _cli(
        {**deployment.env, "TENANTRY_PROBE_A_PASSWORD": DEMO_PASSWORD,
         "TENANTRY_PROBE_B_PASSWORD": DEMO_PASSWORD},
        "probe", "--target", served, "--a-client2", "client2@acme.test",
        "--signing-keys", TEST_KEYS, "--report", str(report),
        *(arg for route in PROBED for arg in ("--only", route)),
    )  # fmt: skip
    print(out)
    result = json.loads(report.read_text())
    assert result["leaks"] == [], result["leaks"]
    assert result["probes"] > 100 and any(r["exercised"] for r in result["routes"])


def test_tenants_on_both_nodes_only_ever_see_their_own_data(served, deployment):
    database = Database(deployment.urls, pool_size=2)
    tenants: list[Tenant] = []
    per_node: dict[int, int] = {}
    try:
        # Until each node holds three tenants (random ids hash to either node).
        for n in range(40):
            if len(per_node) == 2 and min(per_node.values()) >= 3:
                break
            slug = f"citus-{n:02d}-{uuid.uuid4().hex[:6]}"
            ref = provision_tenant(database, slug=slug, name=f"Citus {slug}")
            email = f"owner@{slug}.test"
            add_member(database, tenant_id=ref.id, user_id=new_user(database, email),
                       role="owner")  # fmt: skip
            with database.system_session(reason="citus test services") as s:
                s.add_all(
                    Service(tenant_id=ref.id, slug=f"svc-{k}", name=f"{slug} service {k}",
                            price_cents=1000, duration_minutes=30)
                    for k in range(2)
                )  # fmt: skip
            tenants.append(Tenant(str(ref.id), slug, email))
            node = deployment.node_of(ref.id)
            per_node[node] = per_node.get(node, 0) + 1
    finally:
        database.dispose()
    assert set(per_node) == {deployment.cluster.coordinator.port, deployment.cluster.worker.port}
    abandoned, answered = run_interleaved(served, tenants, Plan(per_tenant=12, concurrency=8))
    assert abandoned, "the client must really give up on some requests"
    for outcome in answered:
        _check(outcome)
        if outcome.path.startswith("/api/e2e/whoami"):
            assert len(outcome.body["services"]) == 2  # all of its own rows, on either node
    print(f"\n{len(answered)} answers on Citus, {len(abandoned)} abandoned midway")
