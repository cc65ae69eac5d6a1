"""Contact submissions: the kit's repository and the inbox order.

Tenant scoping comes from the ORM guard and RLS, never from here."""

from __future__ import annotations

from sqlalchemy import Select

from tenantry.contact.models import ContactSubmission
from tenantry.kit.repository import Repository, built_once

submissions = Repository(ContactSubmission, not_found="No such message.")


@built_once
def newest_first() -> Select[ContactSubmission]:
    return submissions.select().order_by(ContactSubmission.created_at.desc(), ContactSubmission.id)
