"""Per-tenant and per-user request budgets on tenant routes (the ``limits`` library).

Applied by ``enforce_quota``, a dependency of every ``tenant_router`` route that runs
after ``require_tenant``: the budget is keyed by the authenticated tenant and user,
never by anything the client sends. See ``limiter`` for storage and headers.
"""
