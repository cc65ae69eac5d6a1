"""Self sign-up: a business and its owner, whose email is verified before anything exists.

1. ``request_signup`` checks the slug (same rules as provisioning) and mails a signed,
   expiring token to the owner's address — nothing is stored yet, so an unverified
   sign-up leaves no row, and the answer never says whether the email has an account.
2. ``verify_signup`` opens the token (HMAC with the app's signing keys, 24 h) and
   provisions the tenant in one transaction (``create_tenant``: owner, settings,
   default permissions, audit entry ``tenant.signed_up``). A new account gets the
   password given here; an existing account must prove it with its own password.
"""

from __future__ import annotations

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

from tenantry.auth import accounts
from tenantry.auth.passwords import hash_password
from tenantry.auth.tokens import InvalidToken
from tenantry.db.engine import Database
from tenantry.email.service import send_mail
from tenantry.errors import InvalidCredentials, NotFound
from tenantry.settings import Settings
from tenantry.signup.schemas import SignedUp, SignupIn
from tenantry.tenants.audit_log import Actor
from tenantry.tenants.lifecycle import InvalidEmail, create_tenant
from tenantry.tenants.slugs import check_free, normalize_slug

TOKEN_MAX_AGE_S = 24 * 3600
_SALT = "tenantry.signup.v1"


class SignupDisabled(NotFound):
    code = "signup_disabled"
    message = "Self sign-up is not enabled on this platform."


def _serializer(settings: Settings) -> URLSafeTimedSerializer:
    keys = [k.decode() for k in settings.signing_keys]
    return URLSafeTimedSerializer(keys, salt=_SALT)


def _check_slug(db: Database, slug: str) -> None:
    with db.session() as session:  # tenants is global; the app may read it
        check_free(session, slug)


def request_signup(db: Database, settings: Settings, body: SignupIn) -> None:
    if not settings.signup_enabled:
        raise SignupDisabled()
    slug = normalize_slug(body.slug)
    email = body.email.strip().lower()
    if "@" not in email:
        raise InvalidEmail()
    _check_slug(db, slug)
    token = _serializer(settings).dumps(
        {"slug": slug, "name": " ".join(body.business_name.split()), "email": email,
         "owner_name": body.name.strip()}
    )  # fmt: skip
    send_mail(
        settings,
        to=email,
        subject=f"Confirm your Tenantry sign-up for {slug}",
        body=(
            f"Someone (hopefully you) asked to open {body.business_name!r} on Tenantry "
            f"as {slug}.{settings.base_domain}.\n\nTo confirm your email and create it, "
            f"POST this token with your password to /api/signup/verify within 24 hours:\n\n"
            f"token: {token}\n\nIf this was not you, ignore this message: nothing was created."
        ),
    )


def verify_signup(db: Database, settings: Settings, *, token: str, password: str) -> SignedUp:
    if not settings.signup_enabled:
        raise SignupDisabled()
    try:
        claim = _serializer(settings).loads(token, max_age=TOKEN_MAX_AGE_S)
        slug, name, email = str(claim["slug"]), str(claim["name"]), str(claim["email"])
        owner_name = str(claim.get("owner_name", ""))
    except SignatureExpired as exc:
        raise InvalidToken("This sign-up link has expired; sign up again.") from exc
    except (BadSignature, KeyError, TypeError) as exc:
        raise InvalidToken("This sign-up link is invalid or has expired; sign up again.") from exc
    # The app role reads no password hash: the account's own check (auth.accounts).
    existing = accounts.lookup(db, email)
    if existing is not None and not accounts.password_matches(db, existing, password):
        raise InvalidCredentials("This email has an account: give its current password.")
    created = create_tenant(
        db,
        slug=slug,
        name=name,
        owner_email=email,
        owner_name=owner_name,
        owner_password_hash=None if existing is not None else hash_password(password),
        owner_proven=True,  # the address was verified and the account's password given
        actor=Actor(label=f"signup:{email}"),
        reason="self sign-up with a verified email",
        action="tenant.signed_up",
    )
    return SignedUp(
        tenant_id=created.tenant.id, slug=created.tenant.slug, name=created.tenant.name,
        owner_email=email,
    )  # fmt: skip
