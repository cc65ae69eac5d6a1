"""Attachments: uploaded files on a service request or an expense."""
