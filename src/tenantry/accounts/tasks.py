"""Account mail jobs: registered with the job runner as an account task (no tenant)."""

from __future__ import annotations

from typing import Any

from tenantry.accounts.mail import SEND_TASK, send_account_mail
from tenantry.jobs import JobEnv, account_task


@account_task(SEND_TASK, attempts=4)
def send_mail_job(
    env: JobEnv,
    *,
    template: str,
    to: str,
    values: dict[str, str],
    link: dict[str, Any] | None = None,
) -> None:
    """Send one account message (raises MailUnavailable, so the job is retried)."""
    send_account_mail(env.settings, template=template, to=to, values=values, link=link)
