"""Chat messages between a tenant's staff and clients."""
