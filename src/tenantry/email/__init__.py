"""Outgoing mail over SMTP (reminders, the test email)."""
