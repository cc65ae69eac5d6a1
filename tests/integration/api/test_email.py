"""The test email: sent through the real SMTP path to a local server, checked on arrival."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tenantry.app import create_app
from tests.helpers import code, login, module_tenant
from tests.integration.api import mailbox as smtp
from tests.integration.api.mailbox import mail_settings
from tests.ports import refused_port

# The shared SMTP fixtures, made visible to pytest in this module.
mailbox = smtp.mailbox
mail_app = smtp.mail_app
mail_client = smtp.mail_client

PATH = "/api/admin/email/test"


tenant_a = module_tenant("tenant_a")


tenant_b = module_tenant("tenant_b")


def test_owner_sends_a_test_email_to_themselves_and_it_arrives(mail_client, mailbox, tenant_a):
    owner = tenant_a["owner"]
    login(mail_client, owner)
    r = mail_client.post(PATH)
    assert r.status_code == 200, r.text
    assert r.json()["to"] == owner.email and r.json()["subject"] == "Tenantry test email"
    [message] = mailbox.to(owner.email)
    assert message["Subject"] == "Tenantry test email"
    assert message["To"] == owner.email
    assert "outgoing mail works" in message.get_payload(decode=True).decode()


def test_admin_sends_a_test_email_to_a_team_member(mail_client, mailbox, tenant_a):
    login(mail_client, tenant_a["admin"])
    staff = tenant_a["staff"]
    r = mail_client.post(PATH, json={"to": staff.email.upper()})
    assert r.status_code == 200, r.text
    assert r.json()["to"] == staff.email
    assert len(mailbox.to(staff.email)) == 1


def test_admin_of_a_cannot_mail_a_member_of_b(mail_client, mailbox, tenant_a, tenant_b):
    login(mail_client, tenant_a["admin"])
    before = len(mailbox.received)
    r = mail_client.post(PATH, json={"to": tenant_b["owner"].email})
    assert r.status_code == 422 and code(r) == "recipient_not_in_team"
    r = mail_client.post(PATH, json={"to": "nobody@nowhere.test"})
    assert r.status_code == 422 and code(r) == "recipient_not_in_team"
    assert len(mailbox.received) == before


@pytest.mark.parametrize("role", ["staff", "client"])
def test_roles_without_email_test_are_refused(mail_client, mailbox, tenant_a, role):
    login(mail_client, tenant_a[role])
    before = len(mailbox.received)
    r = mail_client.post(PATH)
    assert r.status_code == 403 and code(r) == "role_required"
    assert len(mailbox.received) == before


def test_an_invalid_address_or_a_tenant_in_the_body_is_422(
    mail_client, mailbox, tenant_a, tenant_b
):
    login(mail_client, tenant_a["owner"])
    before = len(mailbox.received)
    assert mail_client.post(PATH, json={"to": "not an address"}).status_code == 422
    r = mail_client.post(PATH, json={"tenant_id": str(tenant_b.id)})
    assert r.status_code == 422 and code(r) == "validation_error"
    assert len(mailbox.received) == before


def test_a_mail_server_that_is_down_is_502_not_500(settings, db, tenant_a):
    with refused_port() as port:  # nothing listens there
        app = create_app(mail_settings(settings, port), db)
        with TestClient(app) as c:
            login(c, tenant_a["owner"])
            r = c.post(PATH)
    assert r.status_code == 502 and code(r) == "mail_unavailable"
