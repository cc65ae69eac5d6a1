"""Account mail jobs: registered with the job runner as an account task (no tenant)."""

from __future__ import annotations

from typing import Any

from tenantry.accounts.mail import SEND_TASK, send_account_mail
from tenantry.jobs import JobEnv, account_task


@account_task(SEND_TASK, attempts=4)
def send_mail_job(env: JobEnv, **message: Any) -> None:
    """Send one account message (raises MailUnavailable, so the job is retried). The
    job's arguments are ``send_account_mail``'s, as ``queue_mail`` deferred them."""
    send_account_mail(env.settings, **message)
