"""Export and restore cost: bounded memory, proportional to the tenant, not the database."""
