"""What tenant isolation costs: every wall on versus the same work with isolation off.

``python -m bench.isolation_overhead [--quick] [--rows N] [--tenants N]`` — see
bench/README.md. The pieces:

* ``server``   an embedded PostgreSQL in a temporary folder (or ``DATABASE_URL``), a
               fresh database with its two roles, migrated to head;
* ``data``     1,000 tenants of Zipf-skewed sizes, >= 1M rows across service requests,
               bookings and invoices, loaded set-based as the migrator, then ANALYZEd;
* ``workload`` the queries, each in five variants, each on an engine of its own: ``off``
               (migrator, BYPASSRLS, plain Session, explicit ``tenant_id`` predicate),
               ``walls`` (app role + RLS + ORM guard: a GuardedSession inside
               ``tenant_context``), ``set`` and ``rls`` (the pin alone, then RLS with the
               explicit predicate and no guard: for attribution) and ``aa`` (``off``
               again: the A/A noise floor);
* ``plans``    EXPLAIN of every ``walls`` query on the largest tenant; a large table
               read other than through an index fails the run;
* ``rows``     every read query as ``walls`` reads exactly the sampled tenant's rows (the
               same as the hand-written predicate); other rows fail the run;
* ``report``   ratios (median, p95, range of the blocks' medians), JSON and markdown in
               bench/results/.
"""

from bench.isolation_overhead.main import BenchConfig, BenchResult, run

__all__ = ["BenchConfig", "BenchResult", "run"]
