"""The permission catalogue and each role's defaults.

A tenant may tune its matrix (``role_permissions`` rows); a role with no rows in a
tenant uses the defaults below. The owner always has every permission, whatever
the rows say, so a tenant cannot lock itself out.
"""

from __future__ import annotations

PERMISSIONS: dict[str, str] = {
    "services.read": "See the services catalogue in admin",
    "services.write": "Create, change and retire services",
    "bookings.read": "See bookings and the calendar",
    "bookings.write": "Create, reschedule and cancel bookings",
    "requests.read": "See service requests",
    "requests.write": "Triage, assign and progress service requests",
    "work_orders.read": "See work orders",
    "work_orders.write": "Create and progress work orders",
    "invoices.read": "See invoices",
    "invoices.write": "Create, send, mark paid and void invoices",
    "expenses.read": "See expenses",
    "expenses.write": "Record expenses",
    "expenses.approve": "Approve or reject expenses",
    "team.read": "See the team",
    "team.manage": "Invite, change roles and remove members",
    "permissions.manage": "Change the role → permission matrix",
    "settings.read": "See booking, communication and threshold settings",
    "settings.write": "Change booking, communication and threshold settings",
    "chat.read": "Read chat",
    "chat.write": "Write in chat",
    "posts.read": "See posts (drafts included)",
    "posts.write": "Write, publish and unpublish posts",
    "attachments.read": "Download attachments",
    "attachments.write": "Upload attachments",
    "reminders.read": "See scheduled reminders",
    "reminders.write": "Schedule and cancel reminders",
    "email.test": "Send a test email",
}

_ALL = frozenset(PERMISSIONS)
_READS = frozenset(p for p in PERMISSIONS if p.endswith(".read"))

DEFAULT_MATRIX: dict[str, frozenset[str]] = {
    "owner": _ALL,
    "admin": _ALL,
    "staff": _READS
    | {
        "bookings.write",
        "requests.write",
        "work_orders.write",
        "expenses.write",
        "chat.write",
        "attachments.write",
        "reminders.write",
    },
    "client": frozenset(),  # clients use the portal, whose routes check ownership instead
}
