"""Demo contact-form messages: two or three enquiries per tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.contact.models import ContactSubmission
from tenantry.kit.demo import DemoTenant, fills

# (name, email, message, hours ago)
MESSAGES: dict[str, list[tuple[str, str, str, int]]] = {
    "acme": [
        (
            "Dana Whitfield",
            "dana.whitfield@example.test",
            "Do you clean ovens as part of the deep clean, or is that extra?",
            50,
        ),
        (
            "Luis Moreno",
            "luis.moreno@example.test",
            "We move out on the 14th; could you do an end-of-tenancy clean that week?",
            20,
        ),
        (
            "Priya Natarajan",
            "priya.n@example.test",
            "Are your cleaning products safe for a home with a toddler and a cat?",
            3,
        ),
    ],
    "globex": [
        (
            "Helen Okafor",
            "h.okafor@example.test",
            "We manage three office floors and need a quote for nightly cleaning.",
            72,
        ),
        (
            "Tom Brandt",
            "facilities@brandt-logistics.example.test",
            "Our fire safety certificate expires next month; when is your next slot?",
            6,
        ),
    ],
}


@fills(ContactSubmission)
def fill(s: Session, demo: DemoTenant) -> None:
    messages = MESSAGES.get(demo.ref.slug, MESSAGES["acme"])
    now = datetime.now(UTC)
    s.add_all(
        ContactSubmission(
            name=name, email=email, message=text, created_at=now - timedelta(hours=hours)
        )
        for name, email, text, hours in messages
    )
