"""Per-tenant singleton settings (named so as not to clash with ``tenantry.settings``)."""
