"""Services: what a tenant sells (name, price, duration)."""
