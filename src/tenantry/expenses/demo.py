"""Demo expenses: a few weeks of staff spending, pending, approved and rejected.

Idempotent: a tenant that already has expenses is left alone.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.expenses.models import Expense
from tenantry.kit.demo import DemoTenant, fills

# (who, cents, category, description, days ago, status)
EXPENSES = [
    ("staff", 4_850, "fuel", "Van diesel, week 1", 20, "approved"),
    ("staff", 2_399, "supplies", "Microfibre cloths and descaler", 17, "approved"),
    ("consultant", 18_900, "travel", "Train and hotel for the site survey", 12, "rejected"),
    ("consultant", 6_420, "travel", "Train to the site survey (economy)", 11, "approved"),
    ("staff", 12_500, "equipment", "Replacement vacuum hose and nozzles", 6, "submitted"),
    ("admin", 3_000, "meals", "Team lunch after the quarterly review", 4, "submitted"),
    ("staff", 5_110, "fuel", "Van diesel, week 4", 2, "submitted"),
    ("consultant", 27_500, "equipment", "Moisture meter for damp surveys", 1, "submitted"),
]


@fills(Expense)
def fill(s: Session, demo: DemoTenant) -> None:
    today = datetime.now(UTC).date()
    for who, cents, category, description, days_ago, status in EXPENSES:
        user_id = demo.users.get(who)
        if not isinstance(user_id, uuid.UUID):
            continue
        s.add(
            Expense(
                user_id=user_id,
                amount_cents=cents,
                category=category,
                description=description,
                incurred_on=today - timedelta(days=days_ago),
                status=status,
            )
        )
