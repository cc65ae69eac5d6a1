"""Demo services: a home-services catalogue for acme, a facilities one for globex."""

from __future__ import annotations

from sqlalchemy.orm import Session

from tenantry.kit.demo import DemoTenant, fills
from tenantry.services.models import Service

# (slug, name, description, price in cents, minutes, active)
CATALOGUES: dict[str, list[tuple[str, str, str, int, int, bool]]] = {
    "acme": [
        (
            "standard-clean",
            "Standard home clean",
            "Kitchen, bathrooms, dusting and floors for homes up to three bedrooms.",
            9500,
            120,
            True,
        ),
        (
            "deep-clean",
            "Deep clean",
            "Inside cupboards, appliances, skirting boards and limescale removal.",
            22000,
            300,
            True,
        ),
        (
            "window-cleaning",
            "Window cleaning",
            "Inside and out, frames and sills included; ladders up to two storeys.",
            6500,
            90,
            True,
        ),
        (
            "carpet-shampoo",
            "Carpet shampoo",
            "Hot-water extraction for carpets and rugs; dry in four to six hours.",
            12000,
            150,
            True,
        ),
        (
            "gutter-clearing",
            "Gutter clearing",
            "Gutters and downpipes cleared and flushed, photos before and after.",
            8000,
            60,
            True,
        ),
        (
            "end-of-tenancy",
            "End-of-tenancy clean",
            "Deposit-ready clean to letting-agent checklists (paused for winter).",
            32000,
            420,
            False,
        ),
    ],
    "globex": [
        (
            "office-cleaning",
            "Office cleaning",
            "Evening clean of desks, kitchens and washrooms, priced per visit.",
            18000,
            180,
            True,
        ),
        (
            "hvac-maintenance",
            "HVAC maintenance",
            "Filter changes, coil cleaning and a written report per unit.",
            45000,
            240,
            True,
        ),
        (
            "fire-safety-inspection",
            "Fire safety inspection",
            "Extinguishers, alarms and emergency lighting checked and certified.",
            30000,
            180,
            True,
        ),
        (
            "pest-control",
            "Pest control visit",
            "Inspection, treatment and bait stations for rodents and insects.",
            15000,
            90,
            True,
        ),
        (
            "washroom-service",
            "Washroom service",
            "Sanitary bins, dispensers and consumables restocked monthly.",
            7500,
            60,
            True,
        ),
        (
            "floor-polishing",
            "Floor polishing",
            "Strip, seal and buff hard floors; done out of hours.",
            26000,
            300,
            False,
        ),
    ],
}


@fills(Service)
def fill(s: Session, demo: DemoTenant) -> None:
    catalogue = CATALOGUES.get(demo.ref.slug, CATALOGUES["acme"])
    s.add_all(
        Service(
            slug=slug,
            name=name,
            description=description,
            price_cents=price,
            duration_minutes=minutes,
            active=active,
            position=position,
        )
        for position, (slug, name, description, price, minutes, active) in enumerate(catalogue)
    )
