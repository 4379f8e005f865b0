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
COMPLAINTS_VIEW = "complaints.view"
COMPLAINTS_HANDLE = "complaints.handle"  # work the cases one receives or is assigned
COMPLAINTS_MANAGE = "complaints.manage"  # decide validity, assign, close, reports
COMPLAINTS_EXPORT = "complaints.export"
GRADING_VIEW = "grading.view"
GRADING_ADMIT = "grading.admit"  # admission applications and investigations
GRADING_REVIEW = "grading.review"  # grade reviews and grade changes
GRADING_BLACKLIST = "grading.blacklist"  # a department's own blacklist
GRADING_BLACKLIST_COMPANY = "grading.blacklist_company"  # the company blacklist (S01: 营销事业部)
GRADING_EXPORT = "grading.export"
CREDIT_VIEW = "credit.view"
CREDIT_MANAGE = "credit.manage"  # credit grades, limits, investigations, stopping and resuming trade
CREDIT_ORDERS = "credit.orders"  # enter orders and receivables
CREDIT_EXPORT = "credit.export"

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
    COMPLAINTS_VIEW: pgettext_lazy("permission", "查看投诉"),
    COMPLAINTS_HANDLE: pgettext_lazy("permission", "处理投诉"),
    COMPLAINTS_MANAGE: pgettext_lazy("permission", "管理投诉"),
    COMPLAINTS_EXPORT: pgettext_lazy("permission", "导出投诉"),
    GRADING_VIEW: pgettext_lazy("permission", "查看准入与分级"),
    GRADING_ADMIT: pgettext_lazy("permission", "办理客户准入"),
    GRADING_REVIEW: pgettext_lazy("permission", "客户分级评审"),
    GRADING_BLACKLIST: pgettext_lazy("permission", "管理部门黑名单"),
    GRADING_BLACKLIST_COMPANY: pgettext_lazy("permission", "管理公司黑名单"),
    GRADING_EXPORT: pgettext_lazy("permission", "导出分级与黑名单"),
    CREDIT_VIEW: pgettext_lazy("permission", "查看信用"),
    CREDIT_MANAGE: pgettext_lazy("permission", "管理信用"),
    CREDIT_ORDERS: pgettext_lazy("permission", "录入订单与应收"),
    CREDIT_EXPORT: pgettext_lazy("permission", "导出信用报表"),
}

# S05 三员分立: these three never combine with each other's duties in one role.
SEPARATED_ADMIN_DUTIES = (USERS_MANAGE, ROLES_MANAGE, AUDIT_VIEW)

# What a separated admin role may never hold: every permission that changes or moves business data.
BUSINESS_WRITES = (
    CUSTOMERS_CREATE, CUSTOMERS_EDIT, CUSTOMERS_EXPORT, CUSTOMERS_IMPORT, CUSTOMERS_TRANSFER,
    COMPLAINTS_HANDLE, COMPLAINTS_MANAGE, COMPLAINTS_EXPORT,
    GRADING_ADMIT, GRADING_REVIEW, GRADING_BLACKLIST, GRADING_BLACKLIST_COMPANY, GRADING_EXPORT,
    CREDIT_MANAGE, CREDIT_ORDERS, CREDIT_EXPORT,
)
