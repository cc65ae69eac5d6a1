"""Idempotency keys: a repeated write with the same key replays the first response."""
