"""Demo posts: a few published news items and one draft per tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from tenantry.kit.demo import DemoTenant, fills
from tenantry.posts.models import Post

# (slug, title, body, days ago published or None for a draft)
POSTS: dict[str, list[tuple[str, str, str, int | None]]] = {
    "acme": [
        (
            "spring-cleaning-checklist",
            "Our spring cleaning checklist",
            "Twelve jobs that make the biggest difference, from oven racks to window tracks.",
            21,
        ),
        (
            "new-carpet-machines",
            "New carpet machines, faster drying",
            "Our new hot-water extractors leave carpets dry in about four hours.",
            9,
        ),
        (
            "booking-online",
            "You can now book online",
            "Pick a service and a time that suits you; we confirm within the hour.",
            2,
        ),
        (
            "holiday-hours",
            "Holiday opening hours",
            "Draft: confirm the team rota before publishing.",
            None,
        ),
    ],
    "globex": [
        (
            "fire-regulations-update",
            "What the new fire regulations mean for you",
            "Annual checks of emergency lighting are now mandatory for every site.",
            30,
        ),
        (
            "hvac-filter-season",
            "It is filter season",
            "Book your HVAC maintenance before the summer peak to keep costs down.",
            12,
        ),
        (
            "washroom-sustainability",
            "Greener washrooms",
            "Our consumables are now fully recycled; no change to your contract.",
            4,
        ),
        (
            "new-regional-office",
            "A new regional office",
            "Draft: waiting for the lease to be signed.",
            None,
        ),
    ],
}


@fills(Post)
def fill(s: Session, demo: DemoTenant) -> None:
    posts = POSTS.get(demo.ref.slug, POSTS["acme"])
    author = demo.users.get("admin") or demo.user("owner")
    now = datetime.now(UTC)
    s.add_all(
        Post(
            author_id=author,
            slug=slug,
            title=title,
            body=body,
            status="draft" if days is None else "published",
            published_at=None if days is None else now - timedelta(days=days),
        )
        for slug, title, body, days in posts
    )
