"""Navigation for the base template: the modules of zhidu, only built ones are links."""

from django.urls import NoReverseMatch, reverse
from django.utils.translation import gettext_lazy as _

# (label, url name or None while the module is not built yet, permission needed or None)
MODULES = [
    (_("工作台"), "web:dashboard", None),
    (_("客户档案"), "customers:list", "customers.view"),
    (_("准入与分级"), None, None),
    (_("信用管理"), None, None),
    (_("投诉管理"), None, None),
    (_("服务与回访"), None, None),
    (_("接待"), None, None),
    (_("档案与保密"), None, None),
    (_("员工奖惩"), None, None),
    (_("销售线索"), None, None),
    (_("会员与风控"), None, None),
    (_("客户工程"), None, None),
    (_("报表"), None, None),
]


def navigation(request):
    user = getattr(request, "user", None)
    items = []
    for label, url_name, permission in MODULES:
        url = None
        if url_name and user is not None and user.is_authenticated:
            if permission is None or user.has_perm_code(permission):
                try:
                    url = reverse(url_name)
                except NoReverseMatch:
                    url = None
        items.append({"label": label, "url": url, "active": bool(url) and request.path.startswith(url) and url != "/"})
    return {"nav_modules": items}
