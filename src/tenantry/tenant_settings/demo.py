"""Demo settings: each tenant's booking, communication and threshold singletons."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tenantry.db.engine import Database
from tenantry.tenant_settings.models import BookingSettings, CommunicationSettings, Thresholds

if TYPE_CHECKING:
    from tenantry.kit.demo import DemoTenant

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")

SETTINGS: dict[str, dict[str, dict[str, Any]]] = {
    "acme": {
        "booking": {
            "timezone": "Europe/London",
            "currency": "GBP",
            "slot_minutes": 30,
            "min_notice_minutes": 120,
            "max_advance_days": 60,
            "buffer_minutes": 30,
            "allow_client_cancellation": True,
            "cancellation_notice_hours": 24,
            "business_hours": {
                **{d: [["08:00", "18:00"]] for d in WEEKDAYS},
                "sat": [["09:00", "13:00"]],
            },
        },
        "communication": {
            "sender_name": "Acme Home Services",
            "reply_to": "hello@acme.test",
            "email_enabled": True,
            "sms_enabled": True,
            "reminder_lead_minutes": 1440,
            "templates": {
                "booking_confirmed": "Hi {name}, your {service} is booked for {date}.",
                "booking_reminder": "Reminder: we will see you tomorrow at {time}.",
            },
        },
        "thresholds": {
            "expense_approval_cents": 25_000,
            "invoice_overdue_days": 14,
            "request_response_hours": 4,
        },
    },
    "globex": {
        "booking": {
            "timezone": "America/Chicago",
            "currency": "USD",
            "slot_minutes": 60,
            "min_notice_minutes": 24 * 60,
            "max_advance_days": 180,
            "buffer_minutes": 60,
            "allow_client_cancellation": False,
            "cancellation_notice_hours": 72,
            "business_hours": {d: [["07:00", "12:00"], ["13:00", "19:00"]] for d in WEEKDAYS},
        },
        "communication": {
            "sender_name": "Globex Facilities",
            "reply_to": "operations@globex.test",
            "email_enabled": True,
            "sms_enabled": False,
            "reminder_lead_minutes": 2 * 1440,
            "templates": {
                "booking_confirmed": "Visit scheduled: {service} on {date}. Site contact: {name}.",
            },
        },
        "thresholds": {
            "expense_approval_cents": 100_000,
            "invoice_overdue_days": 45,
            "request_response_hours": 24,
        },
    },
}


def fill(db: Database, demo: DemoTenant) -> None:
    values = SETTINGS.get(demo.ref.slug, SETTINGS["acme"])
    with demo.session(db) as s:
        for key, model in (
            ("booking", BookingSettings),
            ("communication", CommunicationSettings),
            ("thresholds", Thresholds),
        ):
            if not demo.has_rows(s, model):  # singletons: add only what is missing
                s.add(model(**values[key]))
