"""Contact submissions from a tenant's public site."""
