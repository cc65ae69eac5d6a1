"""Tenantry: a multi-tenant platform for service businesses, isolated in depth."""

__version__ = "0.1.0"
