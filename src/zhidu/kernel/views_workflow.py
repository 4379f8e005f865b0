"""Pages: the notification inbox, approvals waiting for me, and the audit log (auditors read only)."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme, urlencode
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST, require_safe

from zhidu.kernel import approvals, audit, notify
from zhidu.kernel.errors import ApiError
from zhidu.kernel.models import Notification
from zhidu.org import permissions as perms

PAGE = 50


def _int(value):
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


@login_required
def inbox(request):
    before = _int(request.GET.get("before"))
    unread_only = request.GET.get("unread") == "1"
    items = notify.inbox(request.user, before_id=before, unread_only=unread_only, limit=PAGE)
    return render(request, "kernel/inbox.html", {
        "items": items,
        "unread": notify.unread_count(request.user),
        "unread_only": unread_only,
        "next_before": items[-1].id if len(items) == PAGE else None,
    })


@login_required
@require_POST
def inbox_read(request):
    ids = [i for i in (_int(v) for v in request.POST.getlist("id")) if i is not None]
    notify.mark_read(request.user, ids or None)
    return redirect("kernel:inbox")


@login_required
def inbox_open(request, notification_id: int):
    notification = Notification.objects.filter(pk=notification_id, user=request.user).first()
    if notification is None:
        return redirect("kernel:inbox")
    notify.mark_read(request.user, [notification.pk])
    link = notification.link
    if link and url_has_allowed_host_and_scheme(link, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return redirect(link)
    return redirect("kernel:inbox")


@login_required
def approvals_pending(request):
    before = _int(request.GET.get("before"))
    items = list(approvals.pending_for(request.user, before_id=before, limit=PAGE))
    return render(request, "kernel/approvals.html", {
        "items": items,
        "next_before": items[-1].id if len(items) == PAGE else None,
    })


@login_required
@require_POST
def approval_decide(request, request_id: int):
    decision = request.POST.get("decision")
    if decision not in ("approve", "reject"):
        messages.error(request, _("请选择批准或驳回"))
        return redirect("kernel:approvals")
    comment = request.POST.get("comment", "")
    if decision == "reject" and not comment.strip():
        messages.error(request, _("驳回时请填写意见"))
        return redirect("kernel:approvals")
    try:
        decided = approvals.decide(request_id, request.user, decision == "approve", comment, _int(request.POST.get("version")))
    except ApiError as exc:
        messages.error(request, str(exc.message))
        return redirect("kernel:approvals")
    if decision == "approve":
        messages.success(request, _("已批准：%(title)s") % {"title": decided.title})
    else:
        messages.success(request, _("已驳回：%(title)s") % {"title": decided.title})
    return redirect("kernel:approvals")


@login_required
@require_safe
def audit_log(request):
    if not request.user.has_perm_code(perms.AUDIT_VIEW):
        raise PermissionDenied(_("只有审计员可以查看审计日志"))
    filters = {key: request.GET.get(key, "").strip()[:100] for key in ("action", "target_type", "target_id", "actor")}
    before = _int(request.GET.get("before"))
    items = audit.entries(before_seq=before, limit=PAGE, **filters)
    query = urlencode({key: value for key, value in filters.items() if value})
    return render(request, "kernel/audit.html", {
        "items": items,
        "filters": filters,
        "filter_query": query,
        "next_before": items[-1].seq if len(items) == PAGE else None,
    })
