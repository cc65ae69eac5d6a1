"""``POST /api/signup`` and ``POST /api/signup/verify``: a new business signs itself up.

Off unless ``TENANTRY_SIGNUP_ENABLED=true`` (404 ``signup_disabled``). Rate-limited per
client address (``TENANTRY_SIGNUP_RATE``, default 5/hour; 429 ``rate_limited``).
"""

from __future__ import annotations

from fastapi import Request
from fastapi.concurrency import run_in_threadpool

from tenantry.auth.dependencies import DatabaseDep, SettingsDep
from tenantry.contact.service import ContactLimiter
from tenantry.routing import public_router
from tenantry.signup import service
from tenantry.signup.schemas import SignedUp, SignupAccepted, SignupIn, VerifyIn

router = public_router(prefix="/api/signup", tags=["signup"])


def _limit(request: Request, settings: SettingsDep) -> None:
    import uuid

    limiter = getattr(request.app.state, "signup_limiter", None)
    if not isinstance(limiter, ContactLimiter):
        limiter = ContactLimiter(settings.signup_rate)
        request.app.state.signup_limiter = limiter
    address = request.client.host if request.client else "unknown"
    # The contact limiter keys on (tenant, address); sign-up has no tenant yet.
    limiter.hit(tenant_id=uuid.UUID(int=0), address=address)


@router.post("", status_code=202, responses={404: {}, 409: {}, 429: {}})
async def signup(
    body: SignupIn, request: Request, settings: SettingsDep, db: DatabaseDep
) -> SignupAccepted:
    """Ask to open a business: the slug is checked now (422 `invalid_slug`, 409
    `slug_taken`) and a confirmation token is mailed to the owner. Nothing is created
    until the token comes back to `/api/signup/verify`."""
    if not settings.signup_enabled:
        raise service.SignupDisabled()
    _limit(request, settings)
    await run_in_threadpool(service.request_signup, db, settings, body)
    return SignupAccepted(status="verification_sent")


@router.post(
    "/verify",
    status_code=201,
    responses={400: {}, 401: {}, 404: {}, 409: {}, 429: {}},
)
async def verify(
    body: VerifyIn, request: Request, settings: SettingsDep, db: DatabaseDep
) -> SignedUp:
    """Confirm the email with the mailed token and create the business in one
    transaction (owner, settings, default permissions). Then sign in as usual."""
    if not settings.signup_enabled:
        raise service.SignupDisabled()
    _limit(request, settings)
    return await run_in_threadpool(
        lambda: service.verify_signup(db, settings, token=body.token, password=body.password)
    )
