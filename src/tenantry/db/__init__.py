"""Database access: embedded server, roles, engines, sessions and base models."""
