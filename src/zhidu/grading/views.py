"""Grading pages: the scheme and criteria, reviews (start, proposals, submit), quota report, a customer's
grade with metrics and history, and XLSX exports. Thin: selectors read, services write."""

from decimal import Decimal

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from zhidu.kernel import audit, policy
from zhidu.kernel.errors import ApiError, Forbidden, NotFound
from zhidu.kernel.exporting import file_download, temp_path, write_xlsx
from zhidu.kernel.models import ScheduledTask
from zhidu.org import permissions as perms
from zhidu.org import selectors as org_selectors

from . import scheme, selectors, services
from .models import CustomerGrade, HospitalLevel, ReviewItem
from .policy import SCHEMA

PAGE_SIZE = 50


def _require(user, code):
    if not user.has_perm_code(code):
        raise PermissionDenied(_("您没有此操作的权限"))


def _fail(request, exc: ApiError):
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message))
    if isinstance(exc, NotFound):
        raise Http404(str(exc.message))
    messages.error(request, str(exc.message))


def _thresholds() -> tuple[list[dict], list[dict]]:
    rows = []
    for slot in scheme.referenced_thresholds():
        key = f"grading.threshold.{slot}"
        try:
            value = policy.value(key)
        except policy.ParameterMissing:
            value = None
        entry = (policy.current_version().parameters.get(key, {}) if policy.current_version() else {})
        rows.append({"key": key, "label": SCHEMA[key].label, "value": value, "source": scheme.source(key) or entry.get("source", ""),
                     "note": entry.get("note", "")})
    return rows, [r for r in rows if r["value"] is None]


@login_required
def home(request):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    thresholds, missing = _thresholds()
    rates = scheme.discount_rates()
    grades = [{"g": g, "rate": rates.get(g.key), "rules": g.rules} for g in scheme.grades()]
    context = {
        "grades": grades,
        "criteria": policy.value("grading.criteria"),
        "quotas": scheme.quotas(),
        "thresholds": thresholds,
        "missing": missing,
        "evaluation_form": policy.value("grading.evaluation_form"),
        "review_form": policy.value("grading.review.form"),
        "every_months": policy.value("grading.review.every_months"),
        "window": policy.value("grading.review.window"),
        "provisional_months": policy.value("grading.provisional_months"),
        "downgrade": policy.value("grading.downgrade.deadline"),
        "chain": policy.value("grading.change.chain"),
        "sources": {k.replace(".", "_"): scheme.source(k) for k in ("grading.grades", "grading.criteria", "grading.quotas",
                    "grading.review.every_months", "grading.review.window", "grading.provisional_months",
                    "grading.downgrade.deadline", "grading.change.chain")},
        "can_manage_packs": user.has_perm_code(perms.PACKS_MANAGE),
        "can_review": user.has_perm_code(perms.GRADING_REVIEW),
        "admission_url": "/admission/",
        "metric_labels": METRIC_LABELS,
    }
    return render(request, "grading/home.html", context)


METRIC_LABELS = {
    "sales_amount": gettext_lazy("年业务量（万元）"), "sales_growth": gettext_lazy("销售增长率（%）"), "bed_count": gettext_lazy("病床位数"),
    "hospital_level": gettext_lazy("医院等级"), "overdue_count": gettext_lazy("违约记录数"), "evaluation_score": gettext_lazy("评价表得分"),
    "nature": gettext_lazy("性质"), "size": gettext_lazy("规模"), "score": gettext_lazy("评价总分"),
}


@login_required
def review_list(request):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    rows, cursor = selectors.review_list(user, after=request.GET.get("after"), limit=PAGE_SIZE)
    return render(request, "grading/reviews.html", {
        "reviews": rows, "next_cursor": cursor, "can_review": user.has_perm_code(perms.GRADING_REVIEW),
        "departments": [node.department for node in org_selectors.departments_tree()],
        "default_department": getattr(user.department, "pk", None),
        "review_form": policy.value("grading.review.form"), "every_months": policy.value("grading.review.every_months"),
        "window": policy.value("grading.review.window"),
        "open_task": ScheduledTask.objects.filter(kind=services.REVIEW_TASK_KIND, state=ScheduledTask.State.OPEN).order_by("due_on").first(),
    })


@login_required
@require_POST
def review_start(request):
    try:
        review = services.review_start(request.user, department=request.POST.get("department") or None,
                                       title=request.POST.get("title", ""), request=request)
    except ApiError as exc:
        _fail(request, exc)
        return redirect("grading:reviews")
    messages.success(request, _("评审已生成：%(n)d 户客户，升级 %(up)d，降级 %(down)d") % {
        "n": review.counts.get("total", 0), "up": review.counts.get("up", 0), "down": review.counts.get("down", 0)})
    return redirect("grading:review", review_id=review.pk)


@login_required
def review_detail(request, review_id):
    user = request.user
    change = request.GET.get("change", "")
    if change not in ("", "new", "up", "down", "same"):
        change = ""
    try:
        review, items, cursor = selectors.review_items(user, review_id, change=change, after=request.GET.get("after"), limit=PAGE_SIZE)
    except ApiError as exc:
        _fail(request, exc)
        raise Http404 from None
    grades = scheme.grades_by_key()
    return render(request, "grading/review.html", {
        "review": review, "items": items, "next_cursor": cursor, "change": change, "changes": ReviewItem.Change.choices,
        "grades": grades, "counts": review.counts or {}, "editable": review.state == "draft" and user.has_perm_code(perms.GRADING_REVIEW),
        "can_export": user.has_perm_code(perms.GRADING_EXPORT),
    })


@login_required
@require_POST
def review_item(request, review_id, item_id):
    excluded = request.POST.get("excluded")
    try:
        services.review_item_update(request.user, review_id, item_id,
                                    excluded=None if excluded is None else excluded == "1",
                                    evidence=request.POST.get("evidence"), request=request)
        messages.success(request, _("已保存"))
    except ApiError as exc:
        _fail(request, exc)
    return redirect(reverse("grading:review", args=[review_id]) + (f"?change={request.POST.get('change')}" if request.POST.get("change") else ""))


@login_required
@require_POST
def review_submit(request, review_id):
    try:
        review = services.review_submit(request.user, review_id, expected_version=_int(request.POST.get("version")), request=request)
        if review.downgrade_due_at:
            messages.success(request, _("已提交审批；降级须于 %(due)s 前完成") % {"due": timezone.localtime(review.downgrade_due_at).strftime("%Y-%m-%d %H:%M")})
        else:
            messages.success(request, _("已提交审批"))
    except ApiError as exc:
        _fail(request, exc)
    return redirect("grading:review", review_id=review_id)


@login_required
@require_POST
def review_cancel(request, review_id):
    try:
        services.review_cancel(request.user, review_id, request=request)
        messages.success(request, _("评审已撤销"))
    except ApiError as exc:
        _fail(request, exc)
    return redirect("grading:review", review_id=review_id)


@login_required
def quota(request):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    per = "product" if request.GET.get("per") == "product" else "department"
    return render(request, "grading/quota.html", {
        "rows": selectors.distribution(user, per=per), "per": per, "grades": scheme.grades(), "quotas": scheme.quotas(),
        "quota_source": scheme.source("grading.quotas"), "can_export": user.has_perm_code(perms.GRADING_EXPORT),
    })


@login_required
def progress(request):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    return render(request, "grading/progress.html", {"rows": selectors.review_progress(user)})


@login_required
def graded_list(request):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    grade = request.GET.get("grade", "")
    rows, cursor = selectors.graded_customers(user, grade=grade, after=_int(request.GET.get("after")), limit=PAGE_SIZE)
    return render(request, "grading/customers.html", {"rows": rows, "next_cursor": cursor, "grade": grade,
                                                      "grades": scheme.grades(), "labels": {g.key: g.display for g in scheme.grades()},
                                                      "can_export": user.has_perm_code(perms.GRADING_EXPORT)})


@login_required
def customer_detail(request, customer_id):
    user = request.user
    _require(user, perms.GRADING_VIEW)
    try:
        data = selectors.customer_grading(user, customer_id)
    except ApiError as exc:
        _fail(request, exc)
        raise Http404 from None
    visit = ScheduledTask.objects.filter(kind=services.VISIT_KIND, target_type=services.CUSTOMER_TARGET, target_id=str(data.customer.pk),
                                         state=ScheduledTask.State.OPEN).first()
    return render(request, "grading/customer.html", {
        "data": data, "grades": scheme.grades(), "labels": {g.key: g.display for g in scheme.grades()},
        "hospital_levels": HospitalLevel.choices, "can_review": user.has_perm_code(perms.GRADING_REVIEW),
        "can_edit_metrics": user.has_perm_code(perms.GRADING_REVIEW) or user.has_perm_code(perms.GRADING_ADMIT),
        "visit": visit, "metric_labels": METRIC_LABELS, "evaluation_form": policy.value("grading.evaluation_form"),
    })


@login_required
@require_POST
def customer_metrics(request, customer_id):
    fields = ("sales_amount", "sales_growth", "bed_count", "hospital_level", "overdue_count", "evaluation_score", "nature", "size",
              "product", "business_since", "note")
    data = {f: request.POST.get(f, "") for f in fields if f in request.POST}
    try:
        services.metrics_set(request.user, customer_id, data, expected_version=_int(request.POST.get("version")), request=request)
        messages.success(request, _("评价指标已保存"))
    except ApiError as exc:
        if exc.details.get("fields"):
            problems = "；".join(f"{METRIC_LABELS.get(k, k)}：{'，'.join(map(str, v))}" for k, v in exc.details["fields"].items())
            messages.error(request, f"{exc.message}（{problems}）")
        else:
            _fail(request, exc)
    return redirect("grading:customer", customer_id=customer_id)


@login_required
@require_POST
def customer_change(request, customer_id):
    try:
        change = services.grade_change_propose(request.user, customer_id, request.POST.get("to_grade", ""), reason=request.POST.get("reason", ""),
                                               evidence=request.POST.get("evidence", ""), request=request)
        messages.success(request, _("已提交审批") + (_("；降级须于 %(due)s 前完成") % {
            "due": timezone.localtime(change.due_at).strftime("%Y-%m-%d %H:%M")} if change.due_at else ""))
    except ApiError as exc:
        _fail(request, exc)
    return redirect("grading:customer", customer_id=customer_id)


@login_required
@require_POST
def visit_done(request, customer_id, task_id):
    """A visit to the customer was made: closes the task; the next one follows the grade's frequency."""
    try:
        _done, following = services.visit_done(request.user, task_id, note=request.POST.get("note", ""), request=request)
        messages.success(request, _("拜访已登记") + (_("；下次拜访：%(due)s") % {"due": following.due_on.isoformat()} if following else ""))
    except ApiError as exc:
        _fail(request, exc)
    return redirect("grading:customer", customer_id=customer_id)


@login_required
def export_grades(request):
    """All graded customers the user may see, with grade, rank, score and product (XLSX, audited)."""
    user = request.user
    _require(user, perms.GRADING_EXPORT)
    labels = {g.key: g.display for g in scheme.grades()}
    qs = (CustomerGrade.objects.filter(customer__in=selectors.customers_scoped(user).values("pk"))
          .values_list("customer__code", "customer__name", "customer__department__name", "grade", "priority_rank", "score",
                       "customer__grading_metrics__product", "provisional_until", "since").order_by("customer_id"))
    path = temp_path()
    header = [_("客户编码"), _("名称"), _("部门"), _("等级"), _("优先级"), _("评分"), _("主要品种"), _("暂定至"), _("定级时间")]
    count = write_xlsx(path, header, ((code, name, dept, labels.get(g, g), rank, _num(score), product or "", until,
                                       timezone.localtime(since).strftime("%Y-%m-%d %H:%M")) for code, name, dept, g, rank, score, product, until, since
                                      in qs.iterator(chunk_size=2000)), title=_("客户等级"))
    audit.record(user, "grading.export", None, {"what": "grades", "rows": count}, request=request)
    return file_download(path, "grades.xlsx", delete=True)


@login_required
def export_review(request, review_id):
    user = request.user
    _require(user, perms.GRADING_EXPORT)
    try:
        review = selectors.review_get(user, review_id)
    except ApiError as exc:
        _fail(request, exc)
        raise Http404 from None
    labels = {g.key: g.display for g in scheme.grades()}
    changes = dict(ReviewItem.Change.choices)
    qs = (selectors.review_items_visible(user, review).values_list("customer__code", "customer__name", "current_grade", "eligible_grade",
          "proposed_grade", "change", "score", "quota_note", "provisional", "excluded", "evidence").order_by("id"))
    path = temp_path()
    header = [_("客户编码"), _("名称"), _("原等级"), _("按标准"), _("建议等级"), _("变动"), _("评分"), _("比例上限"), _("暂定"), _("保持原级"), _("依据材料")]
    count = write_xlsx(path, header, ((code, name, labels.get(cur, cur), labels.get(el, el), labels.get(pr, pr), str(changes.get(ch, ch)),
                                       _num(score), note, _("是") if prov else "", _("是") if exc else "", ev)
                                      for code, name, cur, el, pr, ch, score, note, prov, exc, ev in qs.iterator(chunk_size=2000)),
                       title=_("评审结果"))
    audit.record(user, "grading.export", review, {"what": "review", "rows": count}, request=request)
    return file_download(path, f"review-{review.pk}.xlsx", delete=True)


def _num(value):
    return float(value) if isinstance(value, Decimal) else value


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
