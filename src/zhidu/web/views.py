"""The dashboard. Thin: the numbers come from the apps' selectors."""

from django.contrib.auth.decorators import login_required
from django.core.cache import cache
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _

from zhidu.customers import selectors as customer_selectors
from zhidu.customers.forms import type_label
from zhidu.customers.models import CustomerStatus
from zhidu.customers.validation import customer_types
from zhidu.kernel import approvals, notify
from zhidu.kernel.access import DataScope, user_clearance, user_scope
from zhidu.org import permissions as perms

from .context import url_or_none

APPROVALS_SHOWN = 99
COUNTS_SECONDS = 60


@login_required
def dashboard(request):
    user = request.user
    can_view = user.has_perm_code(perms.CUSTOMERS_VIEW)
    counts = _counts(_cached_counts(user)) if can_view else None
    pending = approvals.pending_for(user, limit=APPROVALS_SHOWN + 1).count()
    context = {
        "counts": counts,
        "quick_links": _quick_links(user),
        "pending_approvals": f"{APPROVALS_SHOWN}+" if pending > APPROVALS_SHOWN else pending,
        "approvals_url": url_or_none("kernel:approvals"),
        "unread": notify.unread_count(user),
        "inbox_url": url_or_none("kernel:inbox"),
    }
    return render(request, "web/dashboard.html", context)


def _cached_counts(user) -> dict:
    """The selector's counts, shared for a minute by everyone who sees the same rows. Scope "all" rows
    depend only on clearance; otherwise scope_q also admits the user's own files, and an access grant
    adds single files, so those keys carry the user id."""
    scope = user_scope(user)
    per_user = scope != DataScope.ALL or customer_selectors.active_grants(user).exists()
    key = f"dashboard-counts:{scope}:{user.department_id or ''}:{user_clearance(user)}:{user.pk if per_user else ''}"
    raw = cache.get(key)
    if raw is None:
        raw = customer_selectors.customer_counts(user)
        cache.set(key, raw, COUNTS_SECONDS)
    return raw


def _counts(raw: dict) -> dict:
    """The selector's three breakdowns with labels in the active language, as {labels, values} lists
    for the ECharts pies and bars, and the total."""
    types = customer_types()
    status = [(CustomerStatus(r["status"]).label if r["status"] in CustomerStatus.values else r["status"], r["count"]) for r in raw["by_status"]]
    kind = [(type_label(types[r["customer_type"]]) if r["customer_type"] in types else r["customer_type"], r["count"]) for r in raw["by_type"]]
    department = [(r["department__name"], r["count"]) for r in raw["by_department"]]

    def series(pairs):
        return {"labels": [str(label) for label, _count in pairs], "values": [count for _label, count in pairs]}

    status_series = series(status) | {"keys": [r["status"] for r in raw["by_status"]]}
    return {
        "total": sum(count for _label, count in status),
        "charts": {"status": status_series, "type": series(kind), "department": series(department)},
    }


def _quick_links(user) -> list[tuple[str, str, str]]:
    wanted = [
        ("bi-people", _("客户档案"), "customers:list", perms.CUSTOMERS_VIEW),
        ("bi-person-plus", _("新建客户"), "customers:create", perms.CUSTOMERS_CREATE),
        ("bi-upload", _("导入客户"), "customers:import", perms.CUSTOMERS_IMPORT),
        ("bi-download", _("导出客户"), "customers:export", perms.CUSTOMERS_EXPORT),
        ("bi-check2-square", _("待我审批"), "kernel:approvals", None),
        ("bi-book", _("制度包"), "kernel:packs", None),
    ]
    links = []
    for icon, label, name, permission in wanted:
        url = url_or_none(name)
        if url and (permission is None or user.has_perm_code(permission)):
            links.append((icon, label, url))
    return links
