"""The permissions a role can grant. Codes are stable; they are stored in Role.permissions."""

from django.utils.translation import pgettext_lazy

CUSTOMERS_VIEW = "customers.view"
CUSTOMERS_CREATE = "customers.create"
CUSTOMERS_EDIT = "customers.edit"
CUSTOMERS_EXPORT = "customers.export"
CUSTOMERS_IMPORT = "customers.import"
CUSTOMERS_TRANSFER = "customers.transfer"
ACCESS_APPROVE = "access.approve"  # approve requests to read a file above one's clearance
USERS_MANAGE = "org.users.manage"  # system admin: accounts and departments
ROLES_MANAGE = "org.roles.manage"  # security admin: roles and clearances
AUDIT_VIEW = "audit.view"  # auditor
PACKS_MANAGE = "packs.manage"
CALENDAR_MANAGE = "calendar.manage"

ALL = {
    CUSTOMERS_VIEW: pgettext_lazy("permission", "查看客户"),
    CUSTOMERS_CREATE: pgettext_lazy("permission", "新建客户"),
    CUSTOMERS_EDIT: pgettext_lazy("permission", "编辑客户"),
    CUSTOMERS_EXPORT: pgettext_lazy("permission", "导出客户"),
    CUSTOMERS_IMPORT: pgettext_lazy("permission", "导入客户"),
    CUSTOMERS_TRANSFER: pgettext_lazy("permission", "移交客户"),
    ACCESS_APPROVE: pgettext_lazy("permission", "审批查阅申请"),
    USERS_MANAGE: pgettext_lazy("permission", "管理账号"),
    ROLES_MANAGE: pgettext_lazy("permission", "管理角色与密级"),
    AUDIT_VIEW: pgettext_lazy("permission", "查看审计日志"),
    PACKS_MANAGE: pgettext_lazy("permission", "管理制度包"),
    CALENDAR_MANAGE: pgettext_lazy("permission", "管理节假日"),
}

# S05 三员分立: these three never combine with each other's duties in one role.
SEPARATED_ADMIN_DUTIES = (USERS_MANAGE, ROLES_MANAGE, AUDIT_VIEW)

# What a separated admin role may never hold: every customers.* permission that changes or moves data.
CUSTOMER_WRITES = (CUSTOMERS_CREATE, CUSTOMERS_EDIT, CUSTOMERS_EXPORT, CUSTOMERS_IMPORT, CUSTOMERS_TRANSFER)
