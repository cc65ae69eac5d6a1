"""Errors of email (shared faults come from ``tenantry.kit.errors``)."""

from __future__ import annotations

from tenantry.errors import BadGateway, InvalidInput


class MailUnavailable(BadGateway):
    code = "mail_unavailable"
    message = "The mail server could not be reached or refused the message."


class RecipientNotInTeam(InvalidInput):
    code = "recipient_not_in_team"
    message = "The recipient must be a member of this tenant."
