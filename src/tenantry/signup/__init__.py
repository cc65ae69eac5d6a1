"""Self sign-up of a new business (``POST /api/signup``), off unless enabled."""
