"""Team management: members of a tenant, invitations, roles and removal."""
