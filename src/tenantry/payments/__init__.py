"""Payment provider events (webhooks), recorded once per provider event id."""
