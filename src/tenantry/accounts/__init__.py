"""People's own accounts: sign-up and its confirmation, password change and reset, and the
e-mail that carries their links (through the job queue). Above ``auth`` (sessions,
cookies, the narrow database path to an account) — it uses auth, jobs and email; auth
uses none of them."""
