"""Service requests: a client asks for a service; staff triage, assign and complete it."""
