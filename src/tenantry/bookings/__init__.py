"""Bookings: a client's appointment for a service at a time."""
