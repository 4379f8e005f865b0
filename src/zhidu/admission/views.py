"""Admission and blacklist pages: the application list, a new application, the application page with its
checklist, evidence uploads, investigations, report and decision; the blacklist with adding, lifting and
re-entry; the blacklist report and its export. Thin: reads through selectors, writes through services;
a refused action comes back as a message in the user's language."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zhidu.kernel import policy
from zhidu.kernel.access import mask
from zhidu.kernel.errors import ApiError, Forbidden, NotFound
from zhidu.org import permissions as perms

from . import exporting, selectors, services
from .models import AdmissionState, BlacklistScope, BlacklistState, Investigation, ReentryRequest

PAGE_SIZE = 50
APPLICANT_FORM_FIELDS = ("customer_type", "name", "credit_code", "id_number", "legal_representative", "address", "region", "industry",
                         "contact_name", "contact_phone", "note")


def _require_view(user):
    if not selectors.can_view(user):
        raise PermissionDenied(_("您没有查看客户准入与黑名单的权限"))


def _english() -> bool:
    return (get_language() or "").startswith("en")


def _label(obj) -> str:
    """The pack's English label in the English UI, when the pack gives one."""
    get = obj.get if isinstance(obj, dict) else lambda k, d="": getattr(obj, k, d)
    return (get("label_en", "") if _english() else "") or get("label", "")


def _error(request, exc: ApiError) -> None:
    fields = (exc.details or {}).get("fields") or {}
    details = [str(m) for messages_ in fields.values() for m in (messages_ if isinstance(messages_, (list, tuple)) else [messages_])]
    text = str(exc.message)
    if details and not all(d in text for d in details):
        text = f"{text}：{'；'.join(details)}"
    messages.error(request, text)


def _run(request, action, success: str, redirect_to: str):
    """Runs a service call; a refusal becomes an error message. Missing/forbidden records are 404/403."""
    try:
        action()
    except (NotFound,) as exc:
        raise Http404(str(exc.message)) from None
    except ApiError as exc:
        _error(request, exc)
    else:
        messages.success(request, success)
    return redirect(redirect_to)


def _type_labels() -> dict:
    from zhidu.customers.validation import customer_types

    return {key: _label(cfg) for key, cfg in customer_types().items()}


# ---------------------------------------------------------------- applications


@login_required
def application_list(request):
    user = request.user
    _require_view(user)
    state = request.GET.get("state", "")
    state = state if state in AdmissionState.values else ""
    checklist = request.GET.get("checklist", "").strip()[:40]
    q = request.GET.get("q", "").strip()[:100]
    waiting = request.GET.get("waiting") == "1"
    page = selectors.application_list(user, state=state, checklist=checklist, q=q, waiting=waiting, after=request.GET.get("after"), limit=PAGE_SIZE)
    query = {k: v for k, v in {"state": state, "checklist": checklist, "q": q, "waiting": "1" if waiting else ""}.items() if v}
    next_url = f"?{urlencode({**query, 'after': page.next_cursor})}" if page.next_cursor else None
    checklists = [{"key": c["key"], "label": _label(c)} for c in policy.value("admission.checklists")]
    labels = _type_labels()
    for a in page.items:
        a.type_label = labels.get(a.customer_type, a.customer_type)
    return render(request, "admission/list.html", {
        "page": page, "state": state, "checklist": checklist, "q": q, "waiting": waiting, "next_url": next_url,
        "states": AdmissionState.choices, "checklists": checklists,
        "can_apply": user.has_perm_code(perms.GRADING_ADMIT) and bool(checklists),
    })


@login_required
@require_http_methods(["GET", "POST"])
def application_create(request):
    user = request.user
    if not user.has_perm_code(perms.GRADING_ADMIT):
        raise PermissionDenied(_("您没有办理客户准入的权限"))
    checklists = policy.get("admission.checklists")
    labels = _type_labels()
    types = [(t, labels.get(t, t), _label(c)) for c in checklists.value for t in c["customer_types"]]
    values = {f: request.POST.get(f, "").strip() for f in APPLICANT_FORM_FIELDS} if request.method == "POST" else {"customer_type": request.GET.get("type", "")}
    errors = {}
    if request.method == "POST":
        try:
            application = services.application_create(user, values, request=request)
        except ApiError as exc:
            errors = (exc.details or {}).get("fields") or {}
            _error(request, exc)
        else:
            messages.success(request, _("准入申请已创建，请逐项核对准入条件、上传证明文件并记录调查"))
            return redirect("admission:detail", application.pk)
    return render(request, "admission/create.html", {"values": values, "errors": errors, "types": types, "source": checklists.source})


@login_required
def application_detail(request, pk):
    user = request.user
    _require_view(user)
    try:
        application = selectors.application_get(user, pk)
    except NotFound as exc:
        raise Http404(str(exc.message)) from None
    parts = selectors.application_parts(application)
    for item in parts["items"]:
        item.display_label = _label(item)
    for stage in parts["stages"]:
        stage["display_label"] = _label(stage)
    for field in parts["report_fields"]:
        field["display_label"] = _label(field)
    for step in parts["setup_steps"]:
        step.display_label = _label(step)
    is_owner = application.owner_id == user.pk
    can_edit = application.state == AdmissionState.DRAFT and user.has_perm_code(perms.GRADING_ADMIT)
    approval = application.approval
    role = getattr(user, "role", None)
    can_decide = bool(
        application.state == AdmissionState.SUBMITTED and approval and role and approval.current_role == role.code and not is_owner
    )
    current_step = approval.chain[approval.current_step] if approval and application.state == AdmissionState.SUBMITTED else None
    return render(request, "admission/detail.html", {
        "a": application, **parts, "type_label": _type_labels().get(application.customer_type, application.customer_type),
        "contact_phone": mask("phone", application.contact_phone, user),
        "can_edit": can_edit, "can_decide": can_decide, "current_step": current_step,
        "can_withdraw": is_owner and application.is_open,
        "can_reapply": application.state in (AdmissionState.REJECTED, AdmissionState.WITHDRAWN) and user.has_perm_code(perms.GRADING_ADMIT),
        "can_setup": application.state == AdmissionState.APPROVED and user.has_perm_code(perms.GRADING_ADMIT),
        "conclusions": Investigation.Conclusion.choices, "today": timezone.localdate(),
    })


def _detail_url(pk, anchor=""):
    return reverse("admission:detail", args=[pk]) + (f"#{anchor}" if anchor else "")


@login_required
@require_POST
def item_check(request, pk, key):
    met = {"1": True, "0": False}.get(request.POST.get("met"), None)
    return _run(request, lambda: services.item_check(request.user, pk, key, met, request.POST.get("note", ""), request=request),
                _("已保存"), _detail_url(pk, f"item-{key}"))


@login_required
@require_POST
def evidence_add(request, pk, key):
    file = request.FILES.get("file")
    title = request.POST.get("title", "").strip() or (file.name if file else "")
    return _run(request, lambda: services.evidence_add(request.user, pk, key, title, file, request=request),
                _("证明文件已上传"), _detail_url(pk, f"item-{key}"))


@login_required
@require_POST
def evidence_remove(request, pk, evidence_id):
    return _run(request, lambda: services.evidence_remove(request.user, pk, evidence_id, request=request), _("证明文件已删除"), _detail_url(pk))


@login_required
def evidence_download(request, pk, evidence_id):
    _require_view(request.user)
    try:
        doc = selectors.evidence_get(request.user, pk, evidence_id)
        handle = doc.file.open("rb")
    except NotFound as exc:
        raise Http404(str(exc.message)) from None
    except OSError:
        raise Http404(_("文件内容缺失，请联系管理员")) from None
    return FileResponse(handle, as_attachment=True, filename=doc.file.name.rsplit("/", 1)[-1])


@login_required
@require_POST
def investigation_record(request, pk, stage):
    data = {f: request.POST.get(f, "") for f in ("conducted_on", "investigators", "findings", "conclusion")}
    return _run(request, lambda: services.investigation_record(request.user, pk, stage, data, request=request),
                _("调查记录已保存"), _detail_url(pk, f"stage-{stage}"))


@login_required
@require_POST
def report_save(request, pk):
    answers = {k[len("answer_"):]: v for k, v in request.POST.items() if k.startswith("answer_")}

    def save():
        application = selectors.application_get(request.user, pk)
        services.application_update(request.user, pk, {"answers": answers}, application.version, request=request)

    return _run(request, save, _("申请报告已保存"), _detail_url(pk, "report"))


@login_required
@require_POST
def application_submit(request, pk):
    return _run(request, lambda: services.application_submit(request.user, pk, request=request), _("已提交审批"), _detail_url(pk))


@login_required
@require_POST
def application_decide(request, pk):
    approve = request.POST.get("decision") == "approve"
    reasons = request.POST.get("reasons", "")
    return _run(request, lambda: services.application_decide(request.user, pk, approve, reasons, request=request),
                _("已批准，客户已入库") if approve else _("已驳回"), _detail_url(pk))


@login_required
@require_POST
def application_withdraw(request, pk):
    return _run(request, lambda: services.application_withdraw(request.user, pk, request.POST.get("reason", ""), request=request),
                _("申请已撤回"), _detail_url(pk))


@login_required
@require_POST
def application_reapply(request, pk):
    try:
        application = services.application_reapply(request.user, pk, request=request)
    except NotFound as exc:
        raise Http404(str(exc.message)) from None
    except ApiError as exc:
        _error(request, exc)
        return redirect(_detail_url(pk))
    messages.success(request, _("已重新申请，请重新核对准入条件并记录调查"))
    return redirect("admission:detail", application.pk)


@login_required
@require_POST
def setup_step(request, pk, key):
    return _run(request, lambda: services.setup_step_done(request.user, pk, key, request.POST.get("done_on") or None, request.POST.get("note", ""), request=request),
                _("设立步骤已记录"), _detail_url(pk, "setup"))


# ---------------------------------------------------------------- blacklist


@login_required
def blacklist_list(request):
    user = request.user
    _require_view(user)
    scope = request.GET.get("scope", "")
    scope = scope if scope in BlacklistScope.values else ""
    state = request.GET.get("state", "excluding")
    state = state if state in [*BlacklistState.values, "excluding", ""] else "excluding"
    q = request.GET.get("q", "").strip()[:100]
    page = selectors.blacklist_list(user, scope=scope, state=state, q=q, after=request.GET.get("after"), limit=PAGE_SIZE)
    query = {k: v for k, v in {"scope": scope, "state": state, "q": q}.items() if v}
    next_url = f"?{urlencode({**query, 'after': page.next_cursor})}" if page.next_cursor else None
    export_query = urlencode({k: v for k, v in {"scope": scope, "state": state}.items() if v})
    return render(request, "admission/blacklist.html", {
        "page": page, "scope": scope, "state": state, "q": q, "next_url": next_url,
        "scopes": BlacklistScope.choices, "states": [("excluding", _("未重新准入")), *BlacklistState.choices],
        "can_add": user.has_perm_code(perms.GRADING_BLACKLIST) or user.has_perm_code(perms.GRADING_BLACKLIST_COMPANY),
        "export_url": reverse("admission:blacklist_export") + (f"?{export_query}" if export_query else "") if user.has_perm_code(perms.GRADING_EXPORT) else None,
    })


@login_required
@require_http_methods(["GET", "POST"])
def blacklist_add(request):
    from zhidu.customers.selectors import customers_visible

    user = request.user
    can_company = user.has_perm_code(perms.GRADING_BLACKLIST_COMPANY)
    can_department = user.has_perm_code(perms.GRADING_BLACKLIST)
    if not (can_company or can_department):
        raise PermissionDenied(_("您没有管理黑名单的权限"))
    values = {f: request.POST.get(f, "").strip() for f in ("customer", "scope", "reason", "valid_until")} if request.method == "POST" else {
        "customer": request.GET.get("customer", ""), "scope": "department" if can_department else "company"}
    customer = None
    if values.get("customer"):
        text = values["customer"]
        customer = customers_visible(user).filter(code=text).first() or customers_visible(user).filter(name=text).first()
        if customer is None and text.isdigit():
            customer = customers_visible(user).filter(pk=int(text)).first()
    if request.method == "POST":
        if customer is None:
            messages.error(request, _("找不到该客户：请填写您有权查看的客户的编码或全称"))
        else:
            try:
                entry = services.blacklist_add(user, customer.pk, values["scope"], values["reason"], valid_until=values["valid_until"] or None, request=request)
            except ApiError as exc:
                _error(request, exc)
            else:
                messages.success(request, _("已列入黑名单"))
                return redirect("admission:blacklist_detail", entry.pk)
    department_months = policy.get("admission.blacklist.department_months")
    company_months = policy.get("admission.blacklist.company_months")
    return render(request, "admission/blacklist_add.html", {
        "values": values, "customer": customer, "can_company": can_company, "can_department": can_department,
        "department_months": department_months, "company_months": company_months, "department": user.department,
    })


@login_required
def blacklist_detail(request, pk):
    user = request.user
    _require_view(user)
    try:
        entry = selectors.blacklist_entry_get(user, pk)
    except NotFound as exc:
        raise Http404(str(exc.message)) from None
    authority = perms.GRADING_BLACKLIST_COMPANY if entry.scope == BlacklistScope.COMPANY else perms.GRADING_BLACKLIST
    has_authority = user.has_perm_code(authority)
    reentries = list(entry.reentries.select_related("requested_by", "approval").order_by("-id"))
    role = getattr(user, "role", None)
    for r in reentries:
        approval = r.approval
        r.can_decide = bool(r.state == ReentryRequest.State.PENDING and approval and role and approval.current_role == role.code and r.requested_by_id != user.pk)
        r.current_step = approval.chain[approval.current_step] if approval and r.state == ReentryRequest.State.PENDING else None
    pending = any(r.state == ReentryRequest.State.PENDING for r in reentries)
    after_expiry = policy.get("admission.blacklist.reentry_after_expiry")
    reentry_open = entry.state != BlacklistState.READMITTED and not pending and not (
        entry.scope == BlacklistScope.DEPARTMENT and after_expiry.value and entry.state == BlacklistState.ACTIVE
    )
    return render(request, "admission/blacklist_detail.html", {
        "entry": entry, "reentries": reentries,
        "can_lift": has_authority and entry.state == BlacklistState.ACTIVE,
        "can_reentry": has_authority and reentry_open,
        "reentry_chain": policy.get(f"admission.blacklist.reentry_chain.{entry.scope}"),
        "after_expiry": after_expiry,
    })


@login_required
@require_POST
def blacklist_lift(request, pk):
    return _run(request, lambda: services.blacklist_lift(request.user, pk, request.POST.get("reason", ""), request=request),
                _("有效期已提前结束；恢复业务须经评审和审批重新准入"), reverse("admission:blacklist_detail", args=[pk]))


@login_required
@require_POST
def reentry_request(request, pk):
    return _run(request, lambda: services.reentry_request(request.user, pk, request.POST.get("review", ""), request=request),
                _("重新准入申请已提交审批"), reverse("admission:blacklist_detail", args=[pk]))


@login_required
@require_POST
def reentry_decide(request, pk, reentry_id):
    approve = request.POST.get("decision") == "approve"
    return _run(request, lambda: services.reentry_decide(request.user, reentry_id, approve, request.POST.get("comment", ""), request=request),
                _("已批准") if approve else _("已驳回"), reverse("admission:blacklist_detail", args=[pk]))


@login_required
def blacklist_report(request):
    user = request.user
    _require_view(user)
    return render(request, "admission/report.html", {
        "report": selectors.blacklist_report(user),
        "export_url": reverse("admission:blacklist_export") if user.has_perm_code(perms.GRADING_EXPORT) else None,
        "department_months": policy.get("admission.blacklist.department_months"),
        "company_months": policy.get("admission.blacklist.company_months"),
    })


@login_required
def blacklist_export(request):
    user = request.user
    _require_view(user)
    scope = request.GET.get("scope", "")
    state = request.GET.get("state", "")
    try:
        return exporting.blacklist_xlsx(
            user, scope=scope if scope in BlacklistScope.values else "", state=state if state in [*BlacklistState.values, "excluding"] else "", request=request
        )
    except Forbidden as exc:
        raise PermissionDenied(str(exc.message)) from None
