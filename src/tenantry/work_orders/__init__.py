"""Work orders: internal jobs for staff, optionally tied to a request or booking."""
