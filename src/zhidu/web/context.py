"""Navigation for the base template: the modules of zhidu, only built ones are links."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

from zhidu.kernel import notify

# (label, url name or None while the module is not built yet, permission needed or None)
MODULES = [
    (_("工作台"), "web:dashboard", None),
    (_("客户档案"), "customers:list", "customers.view"),
    (_("准入与分级"), "grading:home", "grading.view"),
    (_("信用管理"), "credit:home", "credit.view"),
    (_("投诉管理"), "complaints:list", "complaints.view"),
    (_("服务与回访"), None, None),
    (_("接待"), None, None),
    (_("档案与保密"), None, None),
    (_("员工奖惩"), None, None),
    (_("销售线索"), None, None),
    (_("会员与风控"), None, None),
    (_("客户工程"), None, None),
    (_("报表"), None, None),
]

# Work lists and administration pages, in the "管理" menu at the end of the module bar; each is shown
# only to users holding its permission.
TOOLS = [
    (_("待我审批"), "kernel:approvals", None),
    (_("账号与部门"), "org:users", "org.users.manage"),
    (_("角色与密级"), "org:roles", "org.roles.manage"),
    (_("审计日志"), "kernel:audit", "audit.view"),
    (_("制度包"), "kernel:packs", None),
    (_("节假日"), "kernel:calendar", None),
]


def url_or_none(name: str, *args) -> str | None:
    """The URL of `name`, or None while the page that owns the name is not installed."""
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def navigation(request):
    user = getattr(request, "user", None)
    signed_in = user is not None and user.is_authenticated
    items = []
    for label, url_name, permission in MODULES:
        built = bool(url_name) and url_or_none(url_name) is not None
        url = None
        if built and signed_in and (permission is None or user.has_perm_code(permission)):
            url = url_or_none(url_name)
        active = bool(url) and (request.path == url if url == "/" else request.path.startswith(url))
        items.append({"label": label, "url": url, "built": built, "active": active})
    tools = []
    if signed_in:
        for label, url_name, permission in TOOLS:
            url = url_or_none(url_name)
            if url and (permission is None or user.has_perm_code(permission)):
                tools.append({"label": label, "url": url, "active": request.path.startswith(url)})
    context = {"nav_modules": items, "nav_tools": tools}
    if signed_in:
        context["nav_user"] = {
            "inbox_url": url_or_none("kernel:inbox"),
            "unread": notify.unread_count(user),
        }
    return context
