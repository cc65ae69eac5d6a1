"""Demo chat: a short team thread and conversations on a few service requests between
the team and the demo client. Idempotent: a tenant with chat messages is left alone."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.chat.models import ChatMessage
from tenantry.kit.demo import DemoTenant, fills
from tenantry.service_requests.repository import oldest_open

TEAM_THREAD = (
    ("owner", "Morning all: two new requests came in overnight, both marked urgent."),
    ("staff", "I can take the boiler one after my 9 o'clock."),
    ("admin", "Thanks. Parts for the Hill Street job arrive Thursday."),
    ("consultant", "I'm in on Wednesday if anyone needs a hand with the big install."),
    ("owner", "Great, let's keep Wednesday afternoon free for that."),
)
REQUEST_THREAD = (
    ("client", "Hi, is there any chance someone can come this week?"),
    ("staff", "Yes, we have a slot on Thursday morning. Would 9:00 work?"),
    ("client", "Thursday at 9 is perfect, thank you."),
    ("staff", "Booked. I'll send a reminder the day before."),
)


@fills(ChatMessage)
def fill(s: Session, demo: DemoTenant) -> None:
    start = datetime.now(UTC) - timedelta(days=2)
    for index, (role, body) in enumerate(TEAM_THREAD):
        s.add(
            ChatMessage(
                sender_id=uuid.UUID(str(demo.users[role])),
                body=body,
                created_at=start + timedelta(minutes=17 * index),
            )
        )
    requests = s.execute(oldest_open(3)).all()
    for offset, (request_id, client_id) in enumerate(requests):
        for index, (role, body) in enumerate(REQUEST_THREAD[: 4 - offset]):
            sender = client_id if role == "client" else uuid.UUID(str(demo.users[role]))
            s.add(
                ChatMessage(
                    service_request_id=request_id,
                    sender_id=sender,
                    body=body,
                    created_at=start + timedelta(hours=6 * offset + 1, minutes=25 * index),
                )
            )
