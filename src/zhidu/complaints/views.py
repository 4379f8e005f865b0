"""Complaint pages for staff: the case list, registering a case, the case page with its timeline,
time limits and one form for each step the viewer may take now, the printable register form, and
the viewer's own penalties. Thin: reads go through selectors (and reports.py), writes through
services; service errors become form errors or messages, and a failed step changes nothing."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zhidu.kernel.access import mask
from zhidu.kernel.errors import ApiError, Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.form_errors import apply_errors
from zhidu.org import permissions as perms

from . import reports, selectors, services
from .forms import (
    ApprovalDecisionForm,
    AssignForm,
    ClassifyForm,
    CloseForm,
    DecideForm,
    ExtensionForm,
    InformForm,
    InvestigateForm,
    NoteForm,
    OptionalNoteForm,
    PenaltyForm,
    ReasonForm,
    RegisterForm,
    RemedyForm,
    ReportForm,
    ReturnVisitForm,
    option_choices,
)
from .models import Status, Validity

PAGE_SIZE = 50
LIST_FILTERS = (
    "status", "severity", "channel", "category", "department", "owner", "customer", "validity", "overdue", "mine", "archived", "created_from", "created_to",
)  # fmt: skip
FLAG_FILTERS = ("overdue", "mine", "archived")


def _require(user, code):
    if not user.has_perm_code(code):
        raise PermissionDenied(_("您没有此操作的权限"))


# ---------------------------------------------------------------- list


def list_filters(params) -> tuple[str, dict]:
    """The list's search and filters from a query string (shared with the export)."""
    q = params.get("q", "").strip()
    filters = {}
    for key in LIST_FILTERS:
        value = params.get(key, "").strip()
        if not value:
            continue
        if key in FLAG_FILTERS:
            if value.lower() in ("1", "true", "on", "yes"):
                filters[key] = True
        else:
            filters[key] = value
    return q, filters


@login_required
def complaint_list(request):
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    q, filters = list_filters(request.GET)
    selector_filters = _selector_filters(user, filters)
    page = selectors.complaint_list(user, q=q or None, filters=selector_filters, after=request.GET.get("after"), limit=PAGE_SIZE)
    base_query = {"q": q, **filters} if q else dict(filters)
    base_query = {k: ("1" if v is True else v) for k, v in base_query.items()}
    options = reports.current_options()
    context = {
        "q": q,
        "filters": filters,
        "rows": [_row(user, c) for c in page.items],
        "next_query": urlencode({**base_query, "after": page.next_cursor}) if page.next_cursor else "",
        "first_query": urlencode(base_query),
        "is_paged": bool(request.GET.get("after")),
        "statuses": Status.choices,
        "severities": reports.severity_choices(),
        "validities": Validity.choices,
        "channels": option_choices(options.get("channels"), blank=False),
        "categories": option_choices(options.get("categories"), blank=False),
        "departments": reports.department_choices(),
        "owners": reports.handlers_for(user),
        "can_create": user.has_perm_code(perms.COMPLAINTS_HANDLE),
        "can_manage": user.has_perm_code(perms.COMPLAINTS_MANAGE),
        "export_url": (reverse("complaints:export") + (f"?{urlencode(base_query)}" if base_query else ""))
        if user.has_perm_code(perms.COMPLAINTS_EXPORT)
        else None,
    }
    return render(request, "complaints/list.html", context)


def _selector_filters(user, filters: dict) -> dict:
    out = {}
    for key, value in filters.items():
        if key in ("department", "owner", "customer"):
            if str(value).isdigit():
                out[key] = int(value)
        else:
            out[key] = value
    if out.get("mine"):
        out["mine"] = True
    return out


def _row(user, c) -> dict:
    return {
        "id": c.pk,
        "tracking_no": c.tracking_no,
        "created_at": c.created_at,
        "complainant": c.complainant_name,
        "phone": mask("phone", c.complainant_phone, user),
        "subject": c.subject,
        "channel": reports.option_text(c, "channels", c.channel),
        "category": reports.option_text(c, "categories", c.category),
        "severity": c.severity,
        "severity_label": reports.severity_text(c),
        "status": c.status,
        "status_label": c.get_status_display(),
        "owner": str(c.owner) if c.owner_id else "",
        "department": c.department.name if c.department_id else "",
        "next_due_at": c.next_due_at,
        "overdue": c.is_open and c.overdue,
        "waiting": c.waiting_since is not None,
        "round": c.round,
        "priority_rank": c.priority_rank,
    }


# ---------------------------------------------------------------- register


@login_required
@require_http_methods(["GET", "POST"])
def complaint_new(request):
    user = request.user
    _require(user, perms.COMPLAINTS_HANDLE)
    options = reports.current_options()
    customer = _customer_from(request)
    initial = {"customer": customer["id"]} if customer else {}
    if customer:
        initial.update({"complainant_name": customer.get("contact") or customer["name"], "complainant_phone": customer.get("phone", "")})
    form = RegisterForm(
        request.POST or None,
        initial=initial,
        options=options,
        staff=reports.staff_choices(),
        departments=reports.departments_qs(),
    )
    if request.method == "POST" and form.is_valid():
        try:
            complaint = services.complaint_register(user, form.service_data(), request=request)
        except (Invalid, Conflict) as exc:
            apply_errors(form, exc)
        except Forbidden as exc:
            form.add_error(None, str(exc.message))
        except ApiError as exc:  # a pack number still to be set (ParameterMissing) and the like
            form.add_error(None, str(exc.message))
        else:
            messages.success(request, _("已登记投诉，受理编号 %(no)s。你是此案的首问负责人。") % {"no": complaint.tracking_no})
            return redirect("complaints:detail", pk=complaint.pk)
    return render(request, "complaints/new.html", {"form": form, "customer": customer})


def _customer_from(request) -> dict | None:
    """The customer a complaint is registered for (?customer=ID from the customer page), if the user
    may see the file."""
    raw = request.GET.get("customer") or request.POST.get("customer")
    if not raw or not str(raw).isdigit() or not request.user.has_perm_code(perms.CUSTOMERS_VIEW):
        return None
    from zhidu.customers import selectors as customer_selectors

    try:
        detail = customer_selectors.customer_get(request.user, int(raw))
    except NotFound:
        return None
    contact = detail.contacts[0] if detail.contacts else None
    return {
        "id": detail.customer.pk,
        "name": detail.customer.name,
        "code": detail.customer.code,
        "contact": contact["name"] if contact else "",
        # Only a phone the viewer sees in full is copied into the form.
        "phone": contact["phone"] if contact and "*" not in (contact["phone"] or "") else "",
    }


# ---------------------------------------------------------------- the case page


@login_required
def complaint_detail(request, pk: int):
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    try:
        detail = selectors.complaint_detail(user, pk)
    except NotFound:
        return render(request, "complaints/unavailable.html", {"complaint_id": pk}, status=404)
    return render(request, "complaints/detail.html", case_context(request, detail))


def case_context(request, detail, bound: dict | None = None) -> dict:
    """Everything the case page shows. `bound`: {action: form} of a step that failed, shown with its
    errors instead of a blank form."""
    user = request.user
    complaint = detail.complaint
    options = reports.case_options(complaint)
    forms = {}
    for action in detail.actions:
        if action in STEP_FORMS:
            forms[action] = (bound or {}).get(action) or _step_form(action, user, complaint, options)
    approvals = reports.case_approvals(user, detail)
    pending = reports.pending_timer_rows(complaint)
    return {
        "detail": detail,
        "complaint": complaint,
        "labels": reports.case_labels(complaint),
        "phone": mask("phone", complaint.complainant_phone, user),
        "customer_visible": complaint.customer_id in selectors.visible_customer_ids(user, [complaint]),
        "events": reports.timeline_rows(detail.events),
        "deadlines": reports.deadline_rows(complaint, detail.deadlines),
        "pending_timers": pending,
        "calendar_page": services.calendar_page() if pending and user.has_perm_code(perms.CALENDAR_MANAGE) else "",
        "escalation": reports.escalation_summary(complaint, detail.deadlines),
        "approvals": approvals,
        "steps": _steps(forms, bound, complaint),
        "is_subject": complaint.subject_staff_id == user.pk,
        "waiting": complaint.waiting_since is not None,
        "now": timezone.now(),
    }


STEP_ACTION = {"validity": "decide"}


def _steps(forms: dict, bound: dict | None, complaint=None) -> list[dict]:
    """The step forms in the order of the case's workflow (its pack's steps), then the side actions;
    the failed one (else the first) is shown open."""
    titles = step_titles()
    pack_order = []
    if complaint is not None:
        try:
            pack_order = [STEP_ACTION.get(step, step) for step in services.param(complaint, "steps") or []]
        except ApiError:
            pack_order = []
    order = [a for a in pack_order if a in forms]
    order += [a for a in STEP_ORDER if a in forms and a not in order]
    opened = next(iter(bound)) if bound else (order[0] if order else "")
    return [{"action": a, "title": titles[a], "form": forms[a], "open": a == opened, "main": a in MAIN_STEPS} for a in order]


MAIN_STEPS = ("decide", "assign", "investigate", "remedy", "carry_out", "inform", "return_visit", "close", "reopen", "resume")


def step_titles() -> dict:
    return {
        "decide": _("判定是否成立"),
        "classify": _("分类与严重程度"),
        "assign": _("指定受理部门和负责人"),
        "investigate": _("调查原因"),
        "remedy": _("提出处理方案"),
        "carry_out": _("实施处理方案"),
        "inform": _("告知投诉人"),
        "return_visit": _("回访"),
        "reopen": _("重新处理"),
        "close": _("结案"),
        "report": _("处理后报告"),
        "major_report": _("重大投诉预警报备"),
        "extension": _("申请延长处理时限"),
        "wait": _("等待投诉人（暂停计时）"),
        "resume": _("恢复计时"),
        "penalty": _("提出处罚"),
    }


STEP_ORDER = (
    "decide", "assign", "investigate", "remedy", "carry_out", "inform", "return_visit", "close", "reopen",
    "resume", "classify", "major_report", "report", "extension", "wait", "penalty",
)  # fmt: skip

STEP_FORMS = {
    "decide": DecideForm,
    "classify": ClassifyForm,
    "assign": AssignForm,
    "investigate": InvestigateForm,
    "remedy": RemedyForm,
    "carry_out": NoteForm,
    "inform": InformForm,
    "return_visit": ReturnVisitForm,
    "reopen": ReasonForm,
    "close": CloseForm,
    "report": ReportForm,
    "major_report": ReportForm,
    "extension": ExtensionForm,
    "wait": NoteForm,
    "resume": OptionalNoteForm,
    "penalty": PenaltyForm,
}


def _form_kwargs(action, user, complaint, options) -> dict:
    kwargs = {"complaint": complaint, "options": options, "prefix": action}
    if action == "assign":
        kwargs["departments"] = reports.departments_qs()
        kwargs["staff"] = reports.handlers_for(user, exclude=complaint.subject_staff_id)
    elif action == "investigate":
        kwargs["departments"] = reports.departments_qs()
        kwargs["staff"] = reports.staff_choices()
    elif action == "penalty":
        kwargs["staff"] = reports.staff_choices()
    return kwargs


def _step_form(action, user, complaint, options, data=None):
    form_class = STEP_FORMS[action]
    kwargs = _form_kwargs(action, user, complaint, options)
    if data is None:
        kwargs["initial"] = {"version": complaint.version}
        return form_class(**kwargs)
    return form_class(data, **kwargs)


def _run(action: str, user, pk: int, args: dict, version, request):
    """Calls the service of `action`; returns a success message."""
    common = {"expected_version": version, "request": request}
    if action == "decide":
        valid = args.pop("valid")
        complaint = services.complaint_decide(user, pk, valid, **args, **common)
        return _("已判定：投诉成立，已受理") if complaint.validity == Validity.VALID else _("已判定：投诉不成立，已答复投诉人")
    if action == "classify":
        complaint = services.complaint_classify(user, pk, **args, **common)
        return _("已更新分类：%(severity)s") % {"severity": reports.severity_text(complaint)}
    if action == "assign":
        services.complaint_assign(user, pk, **args, **common)
        return _("已指定受理部门和负责人")
    if action == "investigate":
        services.complaint_investigate(user, pk, **args, **common)
        return _("已记录调查结果")
    if action == "remedy":
        services.complaint_propose_remedy(user, pk, **args, **common)
        return _("处理方案已提交审批")
    if action == "carry_out":
        services.complaint_carry_out(user, pk, note=args["note"], **common)
        return _("已记录方案实施")
    if action == "inform":
        services.complaint_inform(user, pk, message=args["message"], **common)
        return _("已记录告知投诉人")
    if action == "return_visit":
        visit = services.complaint_return_visit(user, pk, satisfied=args["satisfied"], note=args.get("note", ""), **common)
        return _("已记录回访：客户满意") if visit.satisfied else _("已记录回访：客户不满意，案件重新处理")
    if action == "reopen":
        services.complaint_reopen(user, pk, reason=args["reason"], **common)
        return _("案件已重新处理")
    if action == "close":
        services.complaint_close(user, pk, **args, **common)
        return _("已结案")
    if action in ("report", "major_report"):
        kind = "major_warning" if action == "major_report" else "post_handling"
        services.complaint_report(user, pk, kind=kind, text=args["text"], **common)
        return _("已提交报告")
    if action == "extension":
        services.complaint_request_extension(user, pk, amount=args["amount"], reason=args["reason"], **common)
        return _("延期申请已提交审批")
    if action == "wait":
        services.complaint_wait_for_complainant(user, pk, note=args["note"], **common)
        return _("已暂停计时，等待投诉人")
    if action == "resume":
        services.complaint_resume(user, pk, note=args.get("note") or "", **common)
        return _("已恢复计时")
    if action == "penalty":
        services.penalty_propose(user, pk, staff=args["staff"], amount=args.get("amount"), reason=args.get("reason") or "", request=request)
        return _("处罚建议已提交审批")
    raise Http404


@login_required
@require_POST
def complaint_act(request, pk: int, action: str):
    """One workflow step posted from the case page. Invalid input shows the case page again with the
    step's form and its errors; a stale page (someone else acted first) or a refused step comes back
    as a message. Either way nothing was saved."""
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    if action not in STEP_FORMS:
        raise Http404
    try:
        complaint = selectors.complaint_get(user, pk)
    except NotFound:
        raise Http404(_("投诉不存在")) from None
    form = _step_form(action, user, complaint, reports.case_options(complaint), data=request.POST)
    if form.is_valid():
        try:
            done = _run(action, user, complaint.pk, form.arguments(), form.cleaned_data.get("version"), request)
        except Invalid as exc:
            apply_errors(form, exc)
        except Conflict as exc:
            if (exc.details or {}).get("version") is not None or (exc.code in ("conflict", "stale_version") and not exc.details):
                messages.error(request, _("该投诉已被他人更新，你的操作没有保存：请查看最新情况后重试。"))
            else:
                messages.error(request, str(exc.message))
            return redirect("complaints:detail", pk=complaint.pk)
        except Forbidden as exc:
            messages.error(request, str(exc.message))
            return redirect("complaints:detail", pk=complaint.pk)
        except NotFound:
            raise Http404(_("投诉不存在")) from None
        except ApiError as exc:
            messages.error(request, str(exc.message))
            return redirect("complaints:detail", pk=complaint.pk)
        else:
            messages.success(request, done)
            return redirect(reverse("complaints:detail", args=[complaint.pk]) + "#timeline")
    try:
        detail = selectors.complaint_detail(user, complaint.pk)
    except NotFound:
        raise Http404(_("投诉不存在")) from None
    if action not in detail.actions:
        messages.error(request, _("当前不能进行此操作"))
        return redirect("complaints:detail", pk=complaint.pk)
    return render(request, "complaints/detail.html", case_context(request, detail, bound={action: form}))


@login_required
@require_POST
def approval_decide(request, pk: int, approval_id: int):
    """Approve or reject a plan, an extension or a penalty of this case from the case page."""
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    form = ApprovalDecisionForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("请选择批准或驳回"))
        return redirect("complaints:detail", pk=pk)
    approve = form.cleaned_data["decision"] == "approve"
    try:
        services.approval_decide(
            user, approval_id, approve, comment=form.cleaned_data["comment"], expected_version=form.cleaned_data.get("version"), request=request
        )
    except NotFound:
        messages.error(request, _("审批申请不存在或已处理"))
    except ApiError as exc:
        messages.error(request, str(exc.message))
    else:
        messages.success(request, _("已批准") if approve else _("已驳回"))
    return redirect(reverse("complaints:detail", args=[pk]) + "#approvals")


# ---------------------------------------------------------------- printable register form


@login_required
def register_form(request, pk: int):
    """申诉和投诉处理登记表 of one case, laid out for A4 paper (the print stylesheet hides the page chrome)."""
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    try:
        detail = selectors.complaint_detail(user, pk)
    except NotFound:
        raise Http404(_("投诉不存在")) from None
    complaint = detail.complaint
    return render(
        request,
        "complaints/register_form.html",
        {
            "detail": detail,
            "complaint": complaint,
            "labels": reports.case_labels(complaint),
            "phone": mask("phone", complaint.complainant_phone, user),
            "register": reports.register_sheet(detail),
            "printed_at": timezone.now(),
            "printed_by": user,
        },
    )


# ---------------------------------------------------------------- my penalties


@login_required
def my_penalties(request):
    """The signed-in staff member's own complaint penalties: amount, state, why, and the article."""
    page = selectors.penalties_for(request.user, after=request.GET.get("after"), limit=PAGE_SIZE)
    rows = reports.penalty_rows(request.user, page.items)
    return render(
        request,
        "complaints/my_penalties.html",
        {"rows": rows, "next_after": page.next_cursor, "is_paged": bool(request.GET.get("after")), "totals": reports.penalty_totals(request.user)},
    )

