"""Tenants: the global table every tenant-owned row hangs from (its lifecycle is in
``tenantry.tenants``; the model lives here, below ``auth``, which reads it)."""

from __future__ import annotations

import re
import uuid

from sqlalchemy import CheckConstraint, String
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import Base, Timestamped, uuid_pk

TENANT_STATUSES = ("active", "suspended", "archived")
SLUG_PATTERN = r"^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$"
RESERVED_SLUGS = frozenset(
    {
        "www",
        "api",
        "app",
        "admin",
        "portal",
        "auth",
        "login",
        "logout",
        "static",
        "assets",
        "mail",
        "smtp",
        "ftp",
        "root",
        "system",
        "public",
        "tenant",
        "tenants",
        "status",
        "health",
        "healthz",
        "docs",
        "help",
        "support",
        "billing",
        "localhost",
    }
)


class InvalidSlug(ValueError):
    pass


def validate_slug(slug: str) -> str:
    """A slug is a DNS label (it becomes ``<slug>.<base-domain>``), not a reserved word."""
    if not re.fullmatch(SLUG_PATTERN, slug):
        raise InvalidSlug(
            "a slug is 1-63 lowercase letters, digits or hyphens, "
            "not starting or ending with a hyphen"
        )
    if slug in RESERVED_SLUGS:
        raise InvalidSlug(f"{slug!r} is reserved")
    return slug


class Tenant(Base, Timestamped):
    __tablename__ = "tenants"
    __table_args__ = (
        CheckConstraint(f"slug ~ '{SLUG_PATTERN}'", name="slug_dns_label"),
        CheckConstraint("status in ('active', 'suspended', 'archived')", name="status_known"),
        CheckConstraint("primary_domain = lower(primary_domain)", name="domain_lowercase"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    primary_domain: Mapped[str | None] = mapped_column(String(253), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="active", server_default="active")
    # Look-alike class of the slug (``tenants.slugs.skeleton``), indexed for the check.
    slug_skeleton: Mapped[str | None] = mapped_column(String(63), index=True)
