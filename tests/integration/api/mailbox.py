"""A real SMTP server for tests (aiosmtpd on 127.0.0.1, on a socket bound here) and an app
that mails it."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass, field
from email.message import Message

import pytest
from aiosmtpd.controller import Controller
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tenantry.jobs import JobEnv, build_job_app
from tenantry.settings import Settings
from tests.ports import bound_socket, port_of


class HeldPortController(Controller):
    """aiosmtpd's controller listening on a socket bound here (port 0) before it starts:
    the port is the test's from the start, never one that was free a moment ago."""

    def __init__(self, handler: object) -> None:
        self._sock = bound_socket()
        super().__init__(handler, hostname="127.0.0.1", port=port_of(self._sock))

    def _create_server(self):  # type: ignore[no-untyped-def]
        return self.loop.create_server(self._factory_invoker, sock=self._sock, ssl=self.ssl_context)

    def stop(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        try:
            super().stop(*args, **kwargs)
        finally:
            self._sock.close()


@dataclass
class Mailbox:
    port: int = 0
    received: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server, session, envelope):
        self.received.append(
            (list(envelope.rcpt_tos), email.message_from_bytes(envelope.original_content))
        )
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.received if address.lower() in [r.lower() for r in rcpts]]

    def last_to(self, address: str) -> Message:
        found = self.to(address)
        assert found, f"no mail to {address}"
        return found[-1]


def body_of(message: Message) -> str:
    payload = message.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode()


def token_in(message: Message) -> str:
    """The token of the link in an account e-mail."""
    found = re.search(r"\?token=([A-Za-z0-9_.\-]+)", body_of(message))
    assert found, body_of(message)
    return found.group(1)


def deliver_account_mail(db, settings: Settings) -> None:  # type: ignore[no-untyped-def]
    """Run the account-mail jobs that are due (the real worker, queue ``accounts``)."""
    build_job_app(JobEnv(db=db, settings=settings)).run_worker(
        queues=["accounts"], wait=False, install_signal_handlers=False, listen_notify=False
    )


def mail_settings(settings: Settings, port: int, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "data_dir": settings.data_dir,
        "database_name": settings.database_name,
        "database_url": settings.database_url,
        "secret_keys": settings.secret_keys,
        "login_failures_per_account": "1000/minute",
        "login_attempts_per_address": "10000/minute",
        "account_actions_per_address": "10000/minute",
        "account_mails_per_email": "1000/minute",
        "smtp_host": "127.0.0.1",
        "smtp_port": port,
    }
    return Settings(**{**values, **overrides})  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def mailbox():
    box = Mailbox()
    controller = HeldPortController(box)
    box.port = controller.port
    controller.start()
    yield box
    controller.stop()


@pytest.fixture(scope="module")
def mail_app(settings, db, mailbox):
    return create_app(mail_settings(settings, mailbox.port), db)


@pytest.fixture
def mail_client(mail_app):
    with TestClient(mail_app) as c:
        yield c
