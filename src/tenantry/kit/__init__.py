"""Small shared helpers for the business areas (pagination, cache, errors)."""
