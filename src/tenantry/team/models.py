"""Invitations: the only way into a tenant other than self sign-up, always with consent.

An invitation names an e-mail address, never an account: creating one reads nothing
about who owns the address, so its answer is the same whether an account exists, is a
member elsewhere, or not. The person joins only by opening the e-mailed link (signed,
single-use, expiring, revocable) — signed in as that address, or setting a password if
the address has no confirmed account yet.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, DateTime, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from tenantry.db.base import TenantOwned, uuid_pk


class Invitation(TenantOwned):
    __tablename__ = "invitations"
    __table_args__ = (
        CheckConstraint("role in ('owner', 'admin', 'staff', 'client')", name="role_known"),
        CheckConstraint("email = lower(email)", name="email_lowercase"),
        # One open invitation per address and tenant: inviting again replaces it.
        Index(
            "uq_invitations_pending_email",
            "tenant_id",
            "email",
            unique=True,
            postgresql_where=text("accepted_at IS NULL AND revoked_at IS NULL"),
        ),
        Index("ix_invitations_email", "email"),
    )

    id: Mapped[uuid.UUID] = uuid_pk()
    email: Mapped[str] = mapped_column(String(320))
    role: Mapped[str] = mapped_column(String(16))
    # The name the inviter typed: shown in the invitation, never an account's own name.
    name: Mapped[str] = mapped_column(String(200), default="", server_default="")
    invited_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(
        DateTime(timezone=True), server_default=text("now()"), nullable=False
    )
    expires_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    accepted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    accepted_by_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL")
    )
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    def status(self, now: datetime) -> str:
        if self.accepted_at is not None:
            return "accepted"
        if self.revoked_at is not None:
            return "revoked"
        return "expired" if self.expires_at <= now else "pending"
