"""Application settings, read from the environment (prefix ``TENANTRY_``).

``DATABASE_URL`` is read without the prefix because that is where every tool and
platform puts it. With no ``DATABASE_URL`` Tenantry runs its own embedded PostgreSQL
in ``<data_dir>/pg``.
"""

from __future__ import annotations

import json
import secrets
import sys
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import AliasChoices, Field
from pydantic_settings import BaseSettings, SettingsConfigDict

DEMO_PASSWORD = "tenantry-demo"  # noqa: S105 - the documented demo password


class ProductionSettingMissing(Exception):
    """Production mode would start with a generated secret, insecure cookies or the
    documented demo password; the message names the setting in one line."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TENANTRY_", extra="ignore")

    # "production" refuses to start rather than generate a secret, send cookies
    # without Secure, or load demo accounts with the documented password.
    env: Literal["development", "production"] = "development"

    # Where the embedded database, generated secrets and uploads live.
    data_dir: Path = Path(".tenantry")
    # An admin connection (superuser or a role that may create roles and databases).
    # Unset: the embedded server is used.
    database_url: str | None = Field(
        default=None, validation_alias=AliasChoices("DATABASE_URL", "TENANTRY_DATABASE_URL")
    )
    # Database name used on the server; roles are named after it so that several
    # Tenantry databases (e.g. parallel test runs) can share one server.
    database_name: str = "tenantry"
    # The app role's connection for serving requests through a pooler (PgBouncer in
    # transaction mode), e.g. postgresql://pgbouncer-host:6432/tenantry. User, password
    # and database left out are the app role's own. Migrations, role set-up and the job
    # worker (LISTEN/NOTIFY, advisory locks) keep the direct connection.
    app_database_url: str | None = None
    # Server-side prepared statements on app_database_url. Off by default: a pooler in
    # transaction mode hands each transaction any server connection, and PgBouncer before
    # 1.21 (Debian 12 ships 1.18) cannot keep prepared statements across them. Turn on
    # for PgBouncer >= 1.21 with max_prepared_statements > 0, or a session-mode pooler.
    app_database_prepare: bool = False

    # Secrets never show in a repr (error reports capture local variables, a Settings
    # among them). Comma-separated list of secrets; the first signs, all verify.
    # Unset in development: one is generated once and kept in <data_dir>/secrets.json.
    secret_keys: str | None = Field(default=None, repr=False)

    base_domain: str = "localhost"
    # Further host names served like the base domain (no tenant from the host), e.g.
    # the name a load balancer's health check uses. Comma-separated. Every other host
    # that is not a tenant's is refused (400 host_not_allowed).
    allowed_hosts: str = ""
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (IPs or CIDRs,
    # comma-separated). None by default: the client address is the TCP peer's, so a
    # spoofed header never buys a fresh rate-limit budget. ``tenantry serve`` passes
    # this to uvicorn (which would otherwise trust 127.0.0.1).
    trusted_proxies: str = ""
    # Cookies get the __Host- prefix and Secure flag when served over HTTPS.
    https: bool = False

    session_idle_timeout_s: int = 60 * 60 * 8
    session_absolute_timeout_s: int = 60 * 60 * 24 * 14
    tenant_sig_max_age_s: int = 60 * 60 * 24 * 14

    # Sign-in limits (see tenantry.auth.ratelimit for the design): wrong passwords per
    # account *from one client address*, and attempts per address (any account).
    login_failures_per_account: str = "10 per 15 minutes"
    login_attempts_per_address: str = "30/minute"
    # Register, verify, password reset, invitation acceptance: calls per client address,
    # and account e-mails per recipient address.
    account_actions_per_address: str = "30/hour"
    account_mails_per_email: str = "5/hour"

    # ORM guard mode: "enforce" refuses, "log" reports and lets through (rollouts only).
    guard_mode: Literal["enforce", "log"] = "enforce"

    # Outgoing mail (reminders, test email). Tests run a local SMTP server.
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 1025
    smtp_username: str | None = None
    smtp_password: str | None = Field(default=None, repr=False)
    smtp_starttls: bool = False
    mail_from: str = "Tenantry <no-reply@tenantry.localhost>"
    # Where the links in account e-mails (verify, reset, invitation) point. Links are
    # never built from a request's Host header.
    public_url: str = "http://localhost:8000"

    # Payments webhook: HMAC-SHA256 over "timestamp.payload" (Stripe style).
    # Unset in development: generated once into <data_dir>/secrets.json.
    payments_webhook_secret: str | None = Field(default=None, repr=False)
    payments_webhook_tolerance_s: int = 300
    # Antivirus scanner callback: shared secret sent in a header.
    av_callback_secret: str | None = Field(default=None, repr=False)

    upload_max_bytes: int = 10 * 1024 * 1024
    # Every request body is bounded while it streams in (tenantry.kit.body_limit):
    # JSON routes by this, uploads by upload_max_bytes, the payments webhook by the next.
    json_max_bytes: int = 1024 * 1024
    webhook_max_bytes: int = 256 * 1024
    upload_content_types: str = (
        "application/pdf,image/png,image/jpeg,image/gif,image/webp,text/plain,text/csv"
    )
    contact_form_rate: str = "5/minute"
    # Self sign-up of new businesses (POST /api/signup): off unless enabled; rate per
    # client address.
    signup_enabled: bool = False
    signup_rate: str = "5/hour"

    demo_password: str = DEMO_PASSWORD

    # None: JSON lines when stdout is not a terminal (production, containers, CI) and
    # a quiet, readable console on a terminal (a newcomer's `tenantry serve`).
    log_json: bool | None = None
    log_level: str = "INFO"

    # Observability (tenantry.observability). /metrics needs this bearer token when set;
    # unset, it answers only clients on the loopback address.
    metrics_token: str | None = Field(default=None, repr=False)
    # Bounded tenant label on metrics: these slugs (comma-separated) always get their
    # own label, plus the first N other tenants a process sees; the rest are "other".
    metrics_tenants: str = ""
    metrics_tenant_labels: int = 20
    # Error reports: Sentry is on when SENTRY_DSN is set (standard name, no prefix).
    sentry_dsn: str | None = Field(
        default=None, validation_alias=AliasChoices("SENTRY_DSN", "TENANTRY_SENTRY_DSN")
    )
    # The operator's security view keeps this many days / rows of security events.
    security_events_retention_days: int = 7
    security_events_max_rows: int = 100_000

    # Per-tenant and per-user request budgets on tenant routes (a ``limits`` string such
    # as "100/second"; unset = no limit). Counters live in process memory unless
    # RATE_LIMIT_URL names a shared storage (redis://host:port/db).
    tenant_rate_limit: str | None = None
    user_rate_limit: str | None = None
    rate_limit_url: str = "memory://"
    # Plan tiers: {"<tenant slug or id>": {"tenant": "500/second", "user": "50/second"}}.
    rate_limit_overrides: dict[str, dict[str, str]] = Field(default_factory=dict)
    # A client back before its Retry-After (its budget already seen spent) is refused only
    # after this many seconds asleep: an abuser reusing its connections gets one refusal
    # per connection per hold. At most rate_limit_hold_max refusals are held at once per
    # process; past that, and with 0, refusals are answered at once.
    rate_limit_hold_seconds: float = Field(default=1.0, ge=0, le=30)
    rate_limit_hold_max: int = Field(default=512, ge=0)

    def check_production(self, *, loads_demo: bool = False) -> None:
        """In production mode, refuse what development allows; no-op otherwise."""
        if self.env != "production":
            return
        for name in ("secret_keys", "payments_webhook_secret", "av_callback_secret"):
            if not getattr(self, name):
                raise ProductionSettingMissing(
                    f"TENANTRY_{name.upper()} is not set: production mode never generates "
                    "secrets (TENANTRY_ENV=production)"
                )
        if not self.https:
            raise ProductionSettingMissing(
                "TENANTRY_HTTPS is not true: production mode sends cookies only with "
                "Secure (TENANTRY_ENV=production)"
            )
        if loads_demo and self.demo_password == DEMO_PASSWORD:
            raise ProductionSettingMissing(
                "TENANTRY_DEMO_PASSWORD is the documented demo password: set another or "
                "load no demo data (--no-demo) in production mode (TENANTRY_ENV=production)"
            )

    @property
    def extra_hosts(self) -> frozenset[str]:
        return frozenset(h.strip().lower() for h in self.allowed_hosts.split(",") if h.strip())

    @property
    def trusted_proxy_list(self) -> list[str]:
        return [p.strip() for p in self.trusted_proxies.split(",") if p.strip()]

    @property
    def json_logs(self) -> bool:
        if self.log_json is not None:
            return self.log_json
        return not sys.stdout.isatty()

    @property
    def effective_log_level(self) -> str:
        """On a terminal without an explicit level, only warnings and errors: the
        per-request lines are for log collectors, not for someone trying the demo."""
        if self.json_logs or "log_level" in self.model_fields_set:
            return self.log_level
        return "WARNING"

    @property
    def pg_dir(self) -> Path:
        return self.data_dir / "pg"

    @property
    def upload_dir(self) -> Path:
        return self.data_dir / "uploads"

    @cached_property
    def webhook_secret(self) -> str:
        return self.payments_webhook_secret or load_or_create_dev_secret(
            self.data_dir, "payments_webhook_secret"
        )

    @cached_property
    def av_secret(self) -> str:
        return self.av_callback_secret or load_or_create_dev_secret(
            self.data_dir, "av_callback_secret"
        )

    @cached_property
    def signing_keys(self) -> list[bytes]:
        """Secrets as bytes, signing key first. Generated and persisted in development."""
        if self.secret_keys:
            keys = [k.strip() for k in self.secret_keys.split(",") if k.strip()]
        else:
            keys = [load_or_create_dev_secret(self.data_dir, "app_secret")]
        return [k.encode() for k in keys]


def load_or_create_dev_secret(data_dir: Path, name: str) -> str:
    """Return secret ``name`` from ``<data_dir>/secrets.json``, creating it once.

    Secrets are never hard-coded: a development install gets random ones that survive
    restarts (so sessions survive restarts too).
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "secrets.json"
    stored: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    if name not in stored:
        stored[name] = secrets.token_urlsafe(48)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(stored, indent=2))
        tmp.chmod(0o600)
        tmp.replace(path)
    return stored[name]


_settings: Settings | None = None


def get_settings() -> Settings:
    global _settings
    if _settings is None:
        _settings = Settings()
    return _settings


def set_settings(settings: Settings) -> None:
    """Install ``settings`` as the process-wide settings (CLI options, tests)."""
    global _settings
    _settings = settings
