"""Is this database in the legacy shape the toolkit handles? (see docs/legacy.md)

The legacy shape is Tenantry's own tables and columns with the isolation parts loose:
``tenant_id`` nullable or absent, keys and foreign keys single-column, uniques global,
no row-level security or policies, grants anyhow. Anything else is named here instead
of guessed at: a table the migrations do not create (its tenant could only be guessed),
a column the migrations create that is missing (a derivation may need it), a column of
another type, a table not owned by the migrator role (tighten alters tables as it).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from tenantry.legacy.catalogue import TENANT_COLUMN, Snapshot

# A legacy "user belongs to one tenant" column: read by the backfill (a user's tenant),
# turned into memberships, and dropped by tighten.
LEGACY_USER_TENANT = ("users", TENANT_COLUMN)


@dataclass
class Shape:
    fatal: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    # tenant tables whose tenant_id column is absent (the backfill adds it, nullable)
    missing_tenant_column: list[str] = field(default_factory=list)
    users_have_tenant: bool = False

    def tenant_column_problems(self) -> list[str]:
        return [
            f"table {t} has no tenant_id column yet (tenantry legacy backfill adds it)"
            for t in self.missing_tenant_column
        ]


def check_shape(target: Snapshot, live: Snapshot) -> Shape:
    shape = Shape()
    for name in sorted(set(target.tables) - set(live.tables)):
        shape.fatal.append(
            f"table {name} is missing (tenantry migrate creates it); the toolkit does not "
            "create tables — add it first"
        )
    for name in sorted(set(live.tables) - set(target.tables)):
        shape.fatal.append(
            f"unknown table {name}: not part of the schema tenantry migrate creates, so its "
            "tenant cannot be derived — move it out of schema public (or drop it) first"
        )
    for name in sorted(set(target.tables) & set(live.tables)):
        want, have = target.tables[name], live.tables[name]
        if have.owner != "{migrator}":
            shape.fatal.append(
                f"table {name} is owned by {have.owner}; the toolkit alters tables as the "
                "migrator role: ALTER TABLE ... OWNER TO <db>_migrator"
            )
        for column, spec in want.columns.items():
            got = have.columns.get(column)
            if got is None:
                if column == TENANT_COLUMN:
                    shape.missing_tenant_column.append(name)
                else:
                    shape.fatal.append(
                        f"column {name}.{column} ({spec.type}) is missing; the toolkit "
                        "needs every column tenantry migrate creates"
                    )
            elif got.type != spec.type:
                shape.fatal.append(
                    f"column {name}.{column} is {got.type}, tenantry migrate creates "
                    f"{spec.type}; change its type first"
                )
        for column in sorted(set(have.columns) - set(want.columns)):
            if (name, column) == LEGACY_USER_TENANT:
                shape.users_have_tenant = True
            elif column == TENANT_COLUMN:
                shape.fatal.append(
                    f"table {name} has a tenant_id column but tenantry migrate makes it global"
                )
            else:
                shape.warnings.append(f"extra column {name}.{column} is left as it is")
    return shape
