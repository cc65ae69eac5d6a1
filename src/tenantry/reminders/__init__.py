"""Scheduled reminders, sent by the job runner inside the tenant's context."""
