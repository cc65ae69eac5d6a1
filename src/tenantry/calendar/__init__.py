"""The staff calendar: a read-only view over bookings (logic in ``tenantry.bookings``)."""
