"""Tenant settings: booking, communication and thresholds (one row each per tenant)."""

from __future__ import annotations

from tenantry.auth.dependencies import TenantSession
from tenantry.permissions.access import SettingsRead, SettingsWrite
from tenantry.routing import Responses, tenant_router
from tenantry.tenant_settings import regional, service
from tenantry.tenant_settings.schemas import (
    BookingSettingsIn,
    BookingSettingsOut,
    CommunicationSettingsIn,
    CommunicationSettingsOut,
    ThresholdsIn,
    ThresholdsOut,
)

router = tenant_router(prefix="/api/admin", tags=["settings"])

INVALID: Responses = {422: {"description": "Invalid settings"}}


@router.get("/booking-settings")
def get_booking_settings(ctx: SettingsRead, session: TenantSession) -> BookingSettingsOut:
    """Booking windows, slot length, cancellation rules and opening hours (defaults until
    saved)."""
    return service.read(session, kind=service.BOOKING)


@router.put("/booking-settings", responses=INVALID)
def put_booking_settings(
    ctx: SettingsWrite, session: TenantSession, body: BookingSettingsIn
) -> BookingSettingsOut:
    """Replace the booking settings (fields left out take their defaults)."""
    return service.write(session, kind=service.BOOKING, data=body)


@router.get("/communication-settings")
def get_communication_settings(
    ctx: SettingsRead, session: TenantSession
) -> CommunicationSettingsOut:
    """Sender, channels, reminder lead time and templates (defaults until saved)."""
    return service.read(session, kind=service.COMMUNICATION)


@router.put(
    "/communication-settings",
    responses=INVALID,
)
def put_communication_settings(
    ctx: SettingsWrite, session: TenantSession, body: CommunicationSettingsIn
) -> CommunicationSettingsOut:
    """Replace the communication settings (fields left out take their defaults)."""
    return service.write(session, kind=service.COMMUNICATION, data=body)


@router.get("/thresholds")
def get_thresholds(ctx: SettingsRead, session: TenantSession) -> ThresholdsOut:
    """Expense approval limit, invoice overdue days, request response time."""
    return service.read(session, kind=service.THRESHOLDS)


@router.put("/thresholds", responses=INVALID)
def put_thresholds(ctx: SettingsWrite, session: TenantSession, body: ThresholdsIn) -> ThresholdsOut:
    """Replace the thresholds (fields left out take their defaults)."""
    return service.write(session, kind=service.THRESHOLDS, data=body)


routers = [router, regional.member_router, regional.host_router]
