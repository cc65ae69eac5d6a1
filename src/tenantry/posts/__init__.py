"""Posts: a tenant's public articles (news, blog)."""
