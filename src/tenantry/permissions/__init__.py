"""Per-tenant role permissions."""
