"""Account e-mail: the messages, and how they travel (job queue → SMTP).

A request never sends account mail itself: it defers an *account job* (``tenantry.jobs``,
queue ``accounts``) inside its own transaction, with the template name, the recipient,
the template's plain values and — for a link — the purpose and the row ids the link will
carry. The worker signs the link when it sends (``auth.tokens``), so neither the job
queue nor any table ever holds a working token. Every account request defers exactly one
job, whatever the address turned out to be, so the answer's timing reveals nothing.

Values a person typed (names) go into the body only; subjects are built from fixed text
and the tenant's name, with line breaks removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from tenantry import jobs
from tenantry.auth import tokens
from tenantry.email.service import send_mail
from tenantry.settings import Settings

SEND_TASK = jobs.ACCOUNT_TASK  # the one task without a tenant (see jobs.defer_account)

FOOTER = "\n\n-- \nSent by Tenantry. You get this message because someone used this address."


@dataclass(frozen=True)
class Template:
    subject: str
    body: str


TEMPLATES: dict[str, Template] = {
    "verify_email": Template(
        "Confirm your e-mail address for {tenant_name}",
        "Hello {name},\n\n"
        "Someone (hopefully you) signed up at {tenant_name} with this address. To confirm\n"
        "it, open the link below and enter the password you chose:\n\n{link}\n\n"
        "The link works once and expires in two days. If you did not sign up, ignore\n"
        "this message: nothing happens without the link.",
    ),
    "account_exists": Template(
        "Signing up at {tenant_name}",
        "Hello,\n\n"
        "Someone (hopefully you) tried to sign up at {tenant_name} with this address,\n"
        "which already has a Tenantry account. To join {tenant_name} as a client, open\n"
        "the link below and enter your password:\n\n{link}\n\n"
        "Forgot your password? Reset it at {reset_page}\n"
        "If it was not you, ignore this message: nothing changes without the link.",
    ),
    "reset_password": Template(
        "Reset your Tenantry password",
        "Hello,\n\n"
        "Someone (hopefully you) asked to reset the password of the Tenantry account\n"
        "with this address. To choose a new password, open:\n\n{link}\n\n"
        "The link works once and expires in an hour. Setting a new password signs the\n"
        "account out everywhere. If you did not ask, ignore this message.",
    ),
    "no_account": Template(
        "Resetting a Tenantry password",
        "Hello,\n\n"
        "Someone (hopefully you) asked to reset the password of the Tenantry account\n"
        "with this address, but there is no account with this address. If you meant to\n"
        "sign up, ask the business you work with for its sign-up page or an invitation.\n"
        "If you did not ask, ignore this message.",
    ),
    "invitation": Template(
        "You are invited to join {tenant_name}",
        "Hello {name},\n\n"
        "{tenant_name} invites you to join as {role}. To accept, open:\n\n{link}\n\n"
        "If you already have a Tenantry account with this address, sign in first; if\n"
        "not, you will choose a password. The link works once and expires in seven\n"
        "days. If you do not know {tenant_name}, ignore this message: nobody joins\n"
        "anything without the link.",
    ),
}


def queue_mail(
    session: Session,
    *,
    template: str,
    to: str,
    values: dict[str, str],
    link: tuple[tokens.Purpose, dict[str, str]] | None = None,
) -> int:
    """Defer one account message in ``session``'s transaction."""
    if template not in TEMPLATES:
        raise ValueError(f"unknown account mail template {template!r}")
    args: dict[str, Any] = {"template": template, "to": to, "values": values}
    if link is not None:
        args["link"] = {"purpose": link[0], "payload": link[1]}
    return jobs.defer_account(session, SEND_TASK, **args)


def render(
    settings: Settings, *, template: str, values: dict[str, str], link: dict[str, Any] | None
) -> tuple[str, str]:
    """(subject, body) of a message; the link is signed here, at sending time."""
    fill = {
        "name": "",
        "tenant_name": "Tenantry",
        "role": "",
        "reset_page": f"{settings.public_url.rstrip('/')}/forgot-password",
        **values,
    }
    if link is not None:
        fill["link"] = tokens.link(settings, link["purpose"], dict(link["payload"]))
    chosen = TEMPLATES[template]
    subject = " ".join(chosen.subject.format(**fill).split())  # no line breaks in a header
    body = chosen.body.format(**fill).replace("Hello ,", "Hello,") + FOOTER
    return subject, body


def send_account_mail(
    settings: Settings,
    *,
    template: str,
    to: str,
    values: dict[str, str],
    link: dict[str, Any] | None = None,
) -> None:
    subject, body = render(settings, template=template, values=values, link=link)
    send_mail(settings, to=to, subject=subject, body=body)
