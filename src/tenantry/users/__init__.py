"""The users of a tenant: a searchable directory of its active members."""
