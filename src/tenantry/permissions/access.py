"""Who may call a route: one dependency per permission of the catalogue (and per set a
nested route needs), named after it, declared here once for every area.

A route names the one it needs, so its signature documents access::

    @admin.post("")
    def create_booking(ctx: BookingsWrite, session: TenantSession, ...): ...

A nested route needs its parent's read too (a request's chat: ``chat.read`` and
``requests.read``). An area with a new permission adds it to ``catalog.PERMISSIONS``
and its dependency below (``RequirePermission`` refuses a name the catalogue lacks).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from tenantry.isolation.context import TenantContext
from tenantry.permissions.dependencies import RequirePermission

ServicesRead = Annotated[TenantContext, Depends(RequirePermission("services.read"))]
ServicesWrite = Annotated[TenantContext, Depends(RequirePermission("services.write"))]
BookingsRead = Annotated[TenantContext, Depends(RequirePermission("bookings.read"))]
BookingsWrite = Annotated[TenantContext, Depends(RequirePermission("bookings.write"))]
RequestsRead = Annotated[TenantContext, Depends(RequirePermission("requests.read"))]
RequestsWrite = Annotated[TenantContext, Depends(RequirePermission("requests.write"))]
WorkOrdersRead = Annotated[TenantContext, Depends(RequirePermission("work_orders.read"))]
WorkOrdersWrite = Annotated[TenantContext, Depends(RequirePermission("work_orders.write"))]
InvoicesRead = Annotated[TenantContext, Depends(RequirePermission("invoices.read"))]
InvoicesWrite = Annotated[TenantContext, Depends(RequirePermission("invoices.write"))]
ExpensesRead = Annotated[TenantContext, Depends(RequirePermission("expenses.read"))]
ExpensesWrite = Annotated[TenantContext, Depends(RequirePermission("expenses.write"))]
ExpensesApprove = Annotated[TenantContext, Depends(RequirePermission("expenses.approve"))]
TeamRead = Annotated[TenantContext, Depends(RequirePermission("team.read"))]
TeamManage = Annotated[TenantContext, Depends(RequirePermission("team.manage"))]
PermissionsManage = Annotated[TenantContext, Depends(RequirePermission("permissions.manage"))]
SettingsRead = Annotated[TenantContext, Depends(RequirePermission("settings.read"))]
SettingsWrite = Annotated[TenantContext, Depends(RequirePermission("settings.write"))]
ChatRead = Annotated[TenantContext, Depends(RequirePermission("chat.read"))]
ChatWrite = Annotated[TenantContext, Depends(RequirePermission("chat.write"))]
PostsRead = Annotated[TenantContext, Depends(RequirePermission("posts.read"))]
PostsWrite = Annotated[TenantContext, Depends(RequirePermission("posts.write"))]
AttachmentsRead = Annotated[TenantContext, Depends(RequirePermission("attachments.read"))]
RemindersRead = Annotated[TenantContext, Depends(RequirePermission("reminders.read"))]
RemindersWrite = Annotated[TenantContext, Depends(RequirePermission("reminders.write"))]
EmailTest = Annotated[TenantContext, Depends(RequirePermission("email.test"))]
ContactRead = Annotated[TenantContext, Depends(RequirePermission("contact.read"))]
ContactWrite = Annotated[TenantContext, Depends(RequirePermission("contact.write"))]

# --- nested routes: the parent's permission as well --------------------------------

# Converting a request makes a booking.
RequestsToBooking = Annotated[
    TenantContext, Depends(RequirePermission("requests.write", "bookings.write"))
]
# A request's conversation and files show the request; an expense's files the expense.
RequestChatRead = Annotated[TenantContext, Depends(RequirePermission("chat.read", "requests.read"))]
RequestChatWrite = Annotated[
    TenantContext, Depends(RequirePermission("chat.write", "requests.read"))
]
RequestFilesRead = Annotated[
    TenantContext, Depends(RequirePermission("attachments.read", "requests.read"))
]
RequestFilesWrite = Annotated[
    TenantContext, Depends(RequirePermission("attachments.write", "requests.read"))
]
ExpenseFilesRead = Annotated[
    TenantContext, Depends(RequirePermission("attachments.read", "expenses.read"))
]
ExpenseFilesWrite = Annotated[
    TenantContext, Depends(RequirePermission("attachments.write", "expenses.read"))
]
