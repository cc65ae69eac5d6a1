"""Errors of email (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import InvalidInput, TenantryError


class MailUnavailable(TenantryError):
    status_code = 502
    code = "mail_unavailable"
    message = "The mail server could not be reached or refused the message."


class RecipientNotInTeam(InvalidInput):
    code = "recipient_not_in_team"
    message = "The recipient must be a member of this tenant."
