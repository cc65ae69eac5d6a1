"""The permission catalogue and each role's defaults.

A tenant may tune its matrix (``role_permissions`` rows); a role with no rows in a
tenant uses the defaults below. The owner always has every permission, whatever
the rows say, so a tenant cannot lock itself out.

A permission added here reaches tenants that use the defaults at once; tenants that
customised a role keep their list, so a migration must say what they get (see
``20261130_0008_permission_catalogue``: the contact inbox, once owner/admin only).
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
    "expenses.approve": "Approve or reject expenses of other members",
    "expenses.approve_own": "Also approve or reject one's own expenses (with expenses.approve)",
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
    "contact.read": "Read the messages sent through the public contact form",
    "contact.write": "Delete messages from the contact inbox",
}

_ALL = frozenset(PERMISSIONS)
# Self-approval is something a tenant grants on purpose; only the owner has it by default.
_OWNER_ONLY = frozenset({"expenses.approve_own"})
# The contact inbox holds visitors' personal messages: owner and admin, as before it was
# in the matrix.
_NOT_FOR_STAFF = frozenset({"contact.read"})
_READS = frozenset(p for p in PERMISSIONS if p.endswith(".read")) - _NOT_FOR_STAFF

DEFAULT_MATRIX: dict[str, frozenset[str]] = {
    "owner": _ALL,
    "admin": _ALL - _OWNER_ONLY,
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


# The read permission of each kind of record other routes hang from or refer to: a
# nested route (``/service-requests/{id}/chat``) or a reference in a body
# (``service_request_id``) shows its parent, so it needs the parent's read as well.
PARENT_READ: dict[str, str] = {
    "service_request_id": "requests.read",
    "booking_id": "bookings.read",
    "expense_id": "expenses.read",
}


def reads_for(**references: object) -> tuple[str, ...]:
    """The read permissions for the references given (``None`` ones are skipped)."""
    return tuple(PARENT_READ[name] for name, value in references.items() if value is not None)
