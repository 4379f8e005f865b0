"""Credit pages: the exposure list (home), a customer's credit page with every action on it, the
business-registration changes, imports and exports. Thin: reads go through selectors, writes through
services; service errors become messages naming the fields."""

from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zhidu.kernel import importing
from zhidu.kernel.errors import ApiError, NotFound
from zhidu.kernel.exporting import file_download
from zhidu.kernel.models import ImportJob
from zhidu.kernel.policy import ParameterMissing
from zhidu.org import permissions as perms

from . import exporting, selectors, services
from .models import ChangeKind, InvestigationChannel, MeasureKind, OrderState, Payment, TradeState

PAGE_SIZE = 50
FIELD_LABELS = {
    "grade": gettext_noop("信用等级"), "credit_limit": gettext_noop("信用额度"), "payment_term_days": gettext_noop("回款期限（天）"), "reason": gettext_noop("原因"), "reference": gettext_noop("单号"),
    "product": gettext_noop("品名"), "quantity": gettext_noop("数量"), "unit_price": gettext_noop("单价"), "payment": gettext_noop("付款方式"), "ordered_on": gettext_noop("订购日期"), "amount": gettext_noop("金额"),
    "invoiced_on": gettext_noop("开票日期"), "due_on": gettext_noop("到期日"), "paid_amount": gettext_noop("已收金额"), "kind": gettext_noop("类型"), "detail": gettext_noop("说明"), "instructed_by": gettext_noop("上级主管指示"),
    "channel": gettext_noop("调查渠道"), "summary": gettext_noop("调查结论"), "investigated_on": gettext_noop("调查日期"), "grade_after": gettext_noop("建议等级"), "description": gettext_noop("变更内容"),
    "changed_on": gettext_noop("变更日期"), "reported_on": gettext_noop("客户报告日期"), "delivered_on": gettext_noop("发货日期"),
}  # fmt: skip


def _require(user, code):
    if not user.has_perm_code(code):
        raise PermissionDenied(_("您没有此操作的权限"))


def _require_view(user):
    if not selectors.can_view(user):
        raise PermissionDenied(_("您没有查看信用信息的权限"))


def _error_text(exc: ApiError) -> str:
    fields = (exc.details or {}).get("fields") or {}
    parts = [str(exc.message)]
    for name, problems in fields.items():
        label = _(FIELD_LABELS[name]) if name in FIELD_LABELS else name
        parts.append(f"{label}：{'；'.join(str(p) for p in (problems if isinstance(problems, list) else [problems]))}")
    return " ".join(parts)


# ---------------------------------------------------------------- home: the exposure list


@login_required
@require_GET
def home(request):
    user = request.user
    _require_view(user)
    filters = {key: request.GET.get(key, "").strip()[:20] for key in selectors.FILTERS}
    filters = {k: v for k, v in filters.items() if v}
    page = selectors.account_list(user, filters, after=request.GET.get("after"), limit=PAGE_SIZE)
    grades = services.grades()
    query = urlencode(filters)
    context = {
        "rows": page.items,
        "filters": filters,
        "grades": grades,
        "grade_labels": {k: services.grade_label(g) for k, g in grades.items()},
        "trade_states": TradeState.choices,
        "next_query": urlencode({**filters, "after": page.next_cursor}) if page.next_cursor else "",
        "first_query": query,
        "is_paged": bool(request.GET.get("after")),
        "missing": selectors.missing_parameters(),
        "can_manage_packs": user.has_perm_code(perms.PACKS_MANAGE),
        "can_export": user.has_perm_code(perms.CREDIT_EXPORT),
        "can_import": user.has_perm_code(perms.CREDIT_ORDERS),
        "export_query": query,
        "today": timezone.localdate(),
    }
    return render(request, "credit/home.html", context)


@login_required
@require_GET
def report(request):
    """Exposure and overdue by grade and trade state (grouped aggregates over the per-customer summary)."""
    user = request.user
    _require_view(user)
    grades = services.grades()
    return render(request, "credit/report.html", {
        "report": selectors.exposure_report(user),
        "grade_labels": {k: services.grade_label(g) for k, g in grades.items()},
        "trade_labels": dict(TradeState.choices),
        "can_export": user.has_perm_code(perms.CREDIT_EXPORT),
    })


# ---------------------------------------------------------------- a customer's credit page


@login_required
@require_GET
def customer(request, pk: int):
    user = request.user
    _require_view(user)
    try:
        detail = selectors.customer_credit(user, pk)
    except NotFound as exc:
        raise Http404(str(exc.message)) from exc
    grades = services.grades()
    from zhidu.customers.selectors import contacts_masked

    pending = [o for o in detail.orders if o.state == OrderState.PENDING]
    contacts = contacts_masked(user, detail.customer)
    card = selectors.info_card_masked(user, detail.account.info_card)
    context = {
        "order_rows": [(o, services.check_reasons_text(o.check_result or {})) for o in detail.orders],
        "contact": contacts[0] if contacts else None,
        "d": detail,
        "c": detail.customer,
        "a": detail.account,
        "grades": grades,
        "grade_labels": {k: services.grade_label(g) for k, g in grades.items()},
        "card_fields": [(key, _(label), card.get(key, "")) for key, label in services.INFO_CARD_FIELDS.items()],
        "can_manage": user.has_perm_code(perms.CREDIT_MANAGE),
        "can_orders": user.has_perm_code(perms.CREDIT_ORDERS),
        "channels": InvestigationChannel.choices,
        "measure_kinds": MeasureKind.choices,
        "change_kinds": ChangeKind.choices,
        "payments": Payment.choices,
        "pending": pending,
        "today": timezone.localdate(),
        "cites": services.CITES,
    }
    return render(request, "credit/customer.html", context)


def _order_result_message(request, order) -> None:
    if order.state == OrderState.PENDING:
        messages.warning(request, _("订单 %(ref)s 需要信用审批：%(why)s。已提交审批，批准后订单生效。") % {"ref": order.reference, "why": services.check_reasons_text(order.check_result)})
    elif order.state == OrderState.OPEN:
        messages.success(request, _("订单 %(ref)s 已接受（信用检查通过）") % {"ref": order.reference})
    elif order.state == OrderState.DELIVERED:
        messages.success(request, _("订单 %(ref)s 已发货") % {"ref": order.reference})
    else:
        messages.info(request, _("订单 %(ref)s：%(state)s") % {"ref": order.reference, "state": order.get_state_display()})


def _version(post):
    try:
        return int(post.get("version"))
    except (TypeError, ValueError):
        return None


ACTIONS = {
    "terms": lambda u, pk, p, r: services.credit_terms_set(u, pk, grade=p.get("grade", ""), credit_limit=p.get("credit_limit"), payment_term_days=p.get("payment_term_days"),
                                                          reason=p.get("reason", ""), expected_version=_version(p), request=r),
    "info_card": lambda u, pk, p, r: services.info_card_update(u, pk, {k: p.get(k, "") for k in services.INFO_CARD_FIELDS}, expected_version=_version(p), request=r),
    "order": lambda u, pk, p, r: services.order_create(u, pk, {k: p.get(k, "") for k in ("reference", "product", "quantity", "unit_price", "ordered_on", "payment")}, request=r),
    "receivable": lambda u, pk, p, r: services.receivable_create(u, pk, {k: p.get(k, "") for k in ("reference", "amount", "invoiced_on", "due_on")}, request=r),
    "stop": lambda u, pk, p, r: services.trade_stop(u, pk, p.get("reason", ""), terminate=p.get("terminate") == "1", request=r),
    "resume": lambda u, pk, p, r: services.trade_resume(u, pk, p.get("reason", ""), request=r),
    "measure": lambda u, pk, p, r: services.measure_record(u, pk, p.get("kind", ""), p.get("detail", ""), p.get("instructed_by", ""), p.get("amount") or None, request=r),
    "investigation": lambda u, pk, p, r: services.investigation_record(u, pk, {k: p.get(k, "") for k in ("kind", "channel", "investigated_on", "summary", "grade_after")}, request=r),
    "change": lambda u, pk, p, r: services.registration_change_record(u, pk, {k: p.get(k, "") for k in ("kind", "description", "changed_on", "reported_on")}, request=r),
    "deliver": lambda u, pk, p, r: services.order_deliver(u, p.get("order"), p.get("delivered_on") or None, request=r),
    "cancel": lambda u, pk, p, r: services.order_cancel(u, p.get("order"), p.get("reason", ""), request=r),
    "pay": lambda u, pk, p, r: services.receivable_pay(u, p.get("receivable"), p.get("amount"), request=r),
    "reported": lambda u, pk, p, r: services.registration_change_reported(u, p.get("change"), p.get("reported_on") or None, request=r),
}  # fmt: skip
DONE = {
    "terms": gettext_noop("已保存信用等级、额度与回款期限"), "info_card": gettext_noop("已保存客户信息资料卡"), "receivable": gettext_noop("已记录应收账款"), "stop": gettext_noop("已停止交易"),
    "resume": gettext_noop("已恢复交易"), "measure": gettext_noop("已记录应急措施"), "investigation": gettext_noop("已记录信用调查"), "change": gettext_noop("已记录工商变更"),
    "cancel": gettext_noop("订单已取消"), "pay": gettext_noop("已记录收款"), "reported": gettext_noop("已记录客户报告"),
}  # fmt: skip


@login_required
@require_POST
def customer_action(request, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404
    _require_view(request.user)
    try:
        result = ACTIONS[action](request.user, pk, request.POST, request)
    except ParameterMissing as exc:
        messages.error(request, str(exc.message))
    except ApiError as exc:
        if exc.status == 404:
            raise Http404(str(exc.message)) from exc
        messages.error(request, _error_text(exc))
    else:
        if action in ("order", "deliver"):
            _order_result_message(request, result)
        else:
            messages.success(request, _(DONE[action]))
    return redirect(reverse("credit:customer", args=[pk]) + f"#{action}")


# ---------------------------------------------------------------- registration changes


@login_required
@require_GET
def changes(request):
    user = request.user
    _require_view(user)
    open_only = request.GET.get("open") == "1"
    page = selectors.registration_changes(user, open_only=open_only, after=request.GET.get("after"), limit=PAGE_SIZE)
    return render(request, "credit/changes.html", {
        "rows": page.items,
        "open_only": open_only,
        "next_query": urlencode({"open": "1" if open_only else "", "after": page.next_cursor}) if page.next_cursor else "",
        "now": timezone.now(),
    })


# ---------------------------------------------------------------- imports and exports


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    _require(request.user, perms.CREDIT_ORDERS)
    if request.method == "POST":
        upload = request.FILES.get("file")
        kind = request.POST.get("kind")
        try:
            if kind not in ("receivables", "orders"):
                raise ApiError(_("请选择导入应收账款或订单"))
            if upload is None:
                raise ApiError(_("请选择要导入的文件"))
            path = importing.store_upload(upload)
            try:
                job = importing.job_create(f"credit_{kind}", path, user=request.user, original_name=upload.name[:255])
            except Exception:
                path.unlink(missing_ok=True)
                raise
            importing.start_job(job)
        except ApiError as exc:
            messages.error(request, str(exc.message))
        else:
            messages.success(request, _("导入任务 #%(id)s 已开始") % {"id": job.pk})
            return redirect("credit:import")
    jobs = ImportJob.objects.filter(kind__in=["credit_receivables", "credit_orders"], uploaded_by=request.user).order_by("-id")[:30]
    from .importing import ORDER_ALIASES, RECEIVABLE_ALIASES

    return render(request, "credit/import.html", {
        "jobs": jobs,
        "max_mb": settings.ZHIDU_IMPORT_MAX_BYTES // (1024 * 1024),
        "receivable_columns": [names[0] for names in RECEIVABLE_ALIASES.values()],
        "order_columns": [names[0] for names in ORDER_ALIASES.values()],
    })


@login_required
@require_GET
def import_errors(request, job_id: int):
    job = ImportJob.objects.filter(pk=job_id, kind__in=["credit_receivables", "credit_orders"], uploaded_by=request.user).first()
    path = importing.error_file_path(job) if job else None
    if path is None:
        raise Http404
    return file_download(path, f"import-{job.pk}-errors.xlsx")


def _export(request, run):
    try:
        path, filename, _rows = run()
    except ApiError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc.message)) from exc
        messages.error(request, str(exc.message))
        return redirect("credit:home")
    return file_download(path, filename, delete=True)


@login_required
@require_GET
def export_exposure(request):
    return _export(request, lambda: exporting.export_exposure(request.user, exporting.filters_from(request.GET), request=request))


@login_required
@require_GET
def export_overdue(request):
    return _export(request, lambda: exporting.export_overdue(request.user, request=request))
