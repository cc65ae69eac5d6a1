"""What a run attacks with: the two tenants, their identities, and the run's switches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from tenantry.probe.http import Credentials


@dataclass
class Side:
    """One tenant under test: its slug and identities by label (``owner``, ``client``,
    ``client2``...). A needs at least one; B needs an ``owner`` (its view is the
    reference for "did B change"), and a ``client`` if it has portal data."""

    slug: str
    members: dict[str, Credentials]


@dataclass
class Config:
    a: Side
    b: Side
    # In-process only: the app's signing keys, so expired and forged-but-valid
    # signatures can be made. Over HTTP those probes are listed as skipped.
    signing_keys: list[bytes] | None = None
    sig_max_age_s: int = 14 * 24 * 3600
    base_domain: str = "localhost"
    ids_per_slot: int = 2
    # (method, path, scope) of every API route of the app, to cross-check the document.
    route_table: list[tuple[str, str, str | None]] | None = None
    # An extra A member whose membership is removed at the end (needs the adapter).
    leaver: Credentials | None = None
    # A platform operator (``users.is_superadmin``) who suspends A at the end through the
    # operator API and reactivates it: the sessions A's members opened before must get
    # ``403 tenant_suspended`` on every tenant route. ``tenant`` may be "" (no tenant).
    operator: Credentials | None = None
    # Whose sessions ``logout-all`` kills at the end (default: A's staff, else any).
    logout_victim: str | None = None
    extra_markers: set[str] = field(default_factory=set)
    # Labels (in ``a.members``) of the client who attacks and of the other client of A
    # whose records it must not reach; the other client never attacks.
    client: str = "client"
    other_client: str = "client2"
    # The credential attacks per route and the closing scenarios (on by default).
    credential_attacks: bool = True
    scenarios: bool = True
    # Which of A's identities try to sign in to B (each attempt costs a password hash).
    login_scenario_roles: tuple[str, ...] = ("owner", "client")
    # Seed of the request builder (dates, sizes): the same seed builds the same requests.
    seed: int = 5
    # Probe only the routes (``"METHOD /path"``) this accepts; None: every route.
    select: Callable[[str], bool] | None = None
    progress: Callable[[str], None] | None = None
    # Memberships to check before the sweep: signed in to ``creds.tenant``, the API must
    # report ``role`` there (None: the sign-in or the tenant's routes must be refused —
    # a removed membership, a suspended tenant). Members of several tenants with
    # different roles show a wall that lets one tenant's membership answer for another.
    role_checks: list[RoleCheck] = field(default_factory=list)


AS_SIGNED_IN = "*"


@dataclass(frozen=True)
class RoleCheck:
    """``role``: the role the API must report; None: must be refused; ``AS_SIGNED_IN``:
    whatever the sign-in answered (a member of both tenants seen from outside, whose
    roles the probe does not know) — every later answer must agree with it."""

    creds: Credentials
    role: str | None
