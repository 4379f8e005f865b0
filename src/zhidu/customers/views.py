"""Customer archive pages: list, detail, create and edit, status, contacts, documents, transfer,
handover and access requests. Thin: reads go through selectors, writes through services; the views
turn service errors into form errors and messages."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from zhidu.kernel import policy
from zhidu.kernel.access import SecretLevel, mask
from zhidu.kernel.errors import ApiError, Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.form_errors import apply_errors
from zhidu.org import permissions as perms
from zhidu.org import selectors as org_selectors

from . import selectors, services
from .forms import (
    AccessRequestForm,
    ContactForm,
    CustomerForm,
    DocumentForm,
    HandoverForm,
    ReviewForm,
    StatusForm,
    TransferForm,
    type_choices,
)
from .models import CustomerStatus, TimelineEvent

PAGE_SIZE = 50
TIMELINE_PAGE = 30


def _require(user, code):
    if not user.has_perm_code(code):
        raise PermissionDenied(_("您没有此操作的权限"))


def _not_found_or_forbidden(exc: ApiError):
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message))
    raise Http404(str(exc.message))


# ---------------------------------------------------------------- list


@login_required
def customer_list(request):
    user = request.user
    _require(user, perms.CUSTOMERS_VIEW)
    q = request.GET.get("q", "").strip()
    filters = {key: request.GET.get(key, "").strip() for key in selectors.FILTERS}
    filters["review_due"] = "1" if selectors.truthy(filters["review_due"]) else ""
    filters = {key: value for key, value in filters.items() if value}
    page = selectors.customer_list(user, q=q, filters=filters, after=request.GET.get("after"), limit=PAGE_SIZE)
    base_query = {"q": q, **filters} if q else dict(filters)
    export_url = None
    if user.has_perm_code(perms.CUSTOMERS_EXPORT):
        export_url = reverse("customers:export") + (f"?{urlencode(base_query)}" if base_query else "")
    context = {
        "q": q,
        "filters": {**filters, **{k: int(v) for k, v in filters.items() if k in ("department", "owner") and v.isdigit()}},
        "rows": _list_rows(user, page.items),
        "next_query": urlencode({**base_query, "after": page.next_cursor}) if page.next_cursor else "",
        "first_query": urlencode(base_query),
        "is_paged": bool(request.GET.get("after")),
        "departments": [node.department for node in org_selectors.departments_tree()],
        "owners": org_selectors.users_visible_to(user).filter(is_active=True).order_by("department__name", "username"),
        "statuses": CustomerStatus.choices,
        "types": type_choices(),
        "can_create": user.has_perm_code(perms.CUSTOMERS_CREATE),
        "can_handover": user.has_perm_code(perms.CUSTOMERS_TRANSFER),
        "export_url": export_url,
        "import_url": reverse("customers:import") if user.has_perm_code(perms.CUSTOMERS_IMPORT) else None,
    }
    return render(request, "customers/list.html", context)


def _list_rows(user, customers) -> list[dict]:
    """The page's customers with their primary contact (phone masked for the viewer); one extra query
    for the contacts of the whole page."""
    contacts = selectors.primary_contacts([customer.pk for customer in customers])
    labels = dict(type_choices())
    statuses = {value: str(label) for value, label in CustomerStatus.choices}
    levels = {value: str(label) for value, label in SecretLevel.choices}
    today = timezone.localdate()
    rows = []
    for customer in customers:
        contact = contacts.get(customer.pk)
        rows.append(
            {
                "id": customer.pk,
                "code": customer.code,
                "name": customer.name,
                "type_label": labels.get(customer.customer_type, customer.customer_type),
                "status": customer.status,
                "status_label": statuses.get(customer.status, customer.status),
                "region": customer.region,
                "owner_name": str(customer.owner),
                "department_name": customer.department.name,
                "contact_name": contact[0] if contact else "",
                "phone": mask("phone", contact[2], user) if contact else "",
                "secret_level": customer.secret_level,
                "secret_label": levels.get(customer.secret_level, customer.secret_level),
                "next_review_on": customer.next_review_on,
                "review_overdue": customer.next_review_on is not None and customer.next_review_on <= today,
            }
        )
    return rows


# ---------------------------------------------------------------- detail


@login_required
def customer_detail(request, pk: int):
    user = request.user
    _require(user, perms.CUSTOMERS_VIEW)
    try:
        detail = selectors.customer_get(user, pk, request=request)
        timeline = selectors.customer_timeline(user, pk, after=request.GET.get("timeline_after"), limit=TIMELINE_PAGE)
    except NotFound:
        return render(request, "customers/unavailable.html", {"customer_id": pk}, status=404)
    customer = detail.customer
    _hide_documents_above(timeline.items, max(user.clearance, customer.secret_level if detail.via_grant else 0))
    writable = not detail.via_grant
    can_edit = writable and user.has_perm_code(perms.CUSTOMERS_EDIT)
    # The same rule as services.customer_review_record: the owner, or an editor within scope.
    can_review = writable and (customer.owner_id == user.pk or user.has_perm_code(perms.CUSTOMERS_EDIT))
    context = {
        "detail": detail,
        "customer": customer,
        "type_label": dict(type_choices()).get(customer.customer_type, customer.customer_type),
        "timeline": timeline,
        "transfers": customer.transfers.select_related("from_owner", "to_owner", "by").order_by("-id")[:20],
        "access_requests": selectors.access_requests_for(user, customer.pk, limit=10),
        "can_edit": can_edit,
        "can_transfer": writable and user.has_perm_code(perms.CUSTOMERS_TRANSFER),
        "status_form": StatusForm(initial={"version": customer.version}, allowed=_allowed_statuses(customer.status)) if can_edit else None,
        "contact_form": ContactForm() if can_edit else None,
        "document_form": DocumentForm(user=user) if can_edit else None,
        "review_cycle": policy.get("customers.review_cycle_months"),
        "review_overdue": customer.next_review_on is not None and customer.next_review_on <= timezone.localdate(),
        "last_review": customer.timeline.filter(kind=TimelineEvent.Kind.REVIEW).select_related("actor").order_by("-id").first(),
        "review_form": ReviewForm(initial={"version": customer.version}, auto_id="review_%s") if can_review else None,
    }
    return render(request, "customers/detail.html", context)


def _hide_documents_above(events, level: int) -> None:
    """Timeline entries about documents above what the viewer may read keep their date and kind but
    not the document's title (the same level rule as the selector's document list)."""
    for event in events:
        if event.kind == TimelineEvent.Kind.DOCUMENT and (event.changes or {}).get("secret_level", 0) > level:
            event.summary = _("上传了一份超出你密级许可的文件")


def _allowed_statuses(current: str) -> list[str]:
    """The statuses a file may move to from `current` (the service's transition rule)."""
    allowed = set(services.STATUS_TRANSITIONS.get(current, set()))
    if current != CustomerStatus.TERMINATED:
        allowed |= services.FINAL_STATUSES - {current}
    return [value for value in CustomerStatus.values if value in allowed]


# ---------------------------------------------------------------- create and edit

# Service field names that have a different name on the form.
CONTACT_ERROR_FIELDS = {f"contacts.0.{name}": f"contact_{name}" for name in ("name", "title", "phone", "email")}


@login_required
@require_http_methods(["GET", "POST"])
def customer_create(request):
    user = request.user
    _require(user, perms.CUSTOMERS_CREATE)
    form = CustomerForm(request.POST or None, user=user)
    context = {"form": form}
    if request.method == "POST" and form.is_valid():
        contact = form.contact_data()
        try:
            customer = services.customer_create(
                user, form.archive_data(), contacts=[contact] if contact else [], confirm_duplicates=form.cleaned_data.get("confirm_duplicate", False)
            )
        except Conflict as exc:
            _duplicates_or_error(form, exc, context)
        except Invalid as exc:
            apply_errors(form, exc, CONTACT_ERROR_FIELDS)
        except Forbidden as exc:
            raise PermissionDenied(str(exc.message)) from exc
        else:
            messages.success(request, _("已建档：%(name)s（%(code)s）") % {"name": customer.name, "code": customer.code})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", context)


def _duplicates_or_error(form, exc: Conflict, context: dict) -> None:
    duplicates = (exc.details or {}).get("duplicates")
    if not duplicates:
        apply_errors(form, exc)
        return
    reasons = {"credit_code": _("统一社会信用代码相同"), "id_number": _("身份证号相同"), "phone": _("联系电话相同"), "name": _("名称相近")}
    context["duplicates"] = [
        {
            **dup,
            "name": _("一份您无权查看的已有档案") if dup.get("hidden") else dup["name"],
            "url": None if dup.get("hidden") else reverse("customers:detail", args=[dup["id"]]),
            "reason": reasons.get(dup.get("reason"), dup.get("reason", "")),
        }
        for dup in duplicates
    ]
    context["hard_duplicate"] = not exc.details.get("can_confirm", False)
    context["duplicate_message"] = str(exc.message)


@login_required
@require_http_methods(["GET", "POST"])
def customer_edit(request, pk: int):
    user = request.user
    _require(user, perms.CUSTOMERS_EDIT)
    try:
        customer = selectors.customer_get(user, pk, request=request).customer
    except NotFound as exc:
        _not_found_or_forbidden(exc)
    initial = {name: getattr(customer, name) for name in CustomerForm.ARCHIVE_FIELDS} | {"version": customer.version}
    form = CustomerForm(request.POST or None, user=user, editing=True, initial=initial)
    context = {"form": form, "customer": customer}
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_update(user, customer.pk, form.archive_data(), expected_version=form.cleaned_data.get("version"))
        except Conflict as exc:
            if exc.code == "stale_version":
                context["conflict"] = _("该客户档案已被他人修改。你的修改没有保存：请查看最新内容后重新编辑。")
            else:
                _duplicates_or_error(form, exc, context)
        except Invalid as exc:
            apply_errors(form, exc)
        except (NotFound, Forbidden) as exc:
            _not_found_or_forbidden(exc)
        else:
            messages.success(request, _("已保存"))
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/form.html", context)


# ---------------------------------------------------------------- actions on the detail page


@login_required
@require_POST
def customer_status(request, pk: int):
    form = StatusForm(request.POST, allowed=CustomerStatus.values)
    if not form.is_valid():
        for field_errors in form.errors.values():
            for message in field_errors:
                messages.error(request, message)
        return redirect("customers:detail", pk=pk)
    try:
        customer = services.customer_set_status(
            request.user, pk, form.cleaned_data["status"], form.cleaned_data["reason"], expected_version=form.cleaned_data["version"]
        )
    except (Invalid, Conflict) as exc:
        messages.error(request, str(exc.message))
    except (NotFound, Forbidden) as exc:
        _not_found_or_forbidden(exc)
    else:
        messages.success(request, _("状态已变更为：%(status)s") % {"status": customer.get_status_display()})
    return redirect("customers:detail", pk=pk)


@login_required
@require_POST
def customer_review(request, pk: int):
    form = ReviewForm(request.POST)
    if not form.is_valid():
        for name, field_errors in form.errors.items():
            label = form.fields[name].label if name in form.fields else ""
            for message in field_errors:
                messages.error(request, f"{label}：{message}" if label else message)
        return redirect("customers:detail", pk=pk)
    try:
        customer = services.customer_review_record(request.user, pk, form.cleaned_data["note"], expected_version=form.cleaned_data["version"])
    except (Invalid, Conflict) as exc:
        messages.error(request, str(exc.message))
    except (NotFound, Forbidden) as exc:
        _not_found_or_forbidden(exc)
    else:
        messages.success(request, _("已记录复核，下次复核日期：%(date)s") % {"date": customer.next_review_on.isoformat()})
    return redirect("customers:detail", pk=pk)


def _detail_form_post(request, pk: int, form, save, done_message):
    """Runs a small form posted from the detail page: saves it through `save(cleaned_data)`, or
    shows each field error as a message; back to the detail page either way."""
    if form.is_valid():
        try:
            save(form.cleaned_data)
        except Invalid as exc:
            apply_errors(form, exc)
        except (NotFound, Forbidden) as exc:
            _not_found_or_forbidden(exc)
        else:
            messages.success(request, done_message)
            return redirect("customers:detail", pk=pk)
    for name, field_errors in form.errors.items():
        label = form.fields[name].label if name in form.fields else ""
        for message in field_errors:
            messages.error(request, f"{label}：{message}" if label else message)
    return redirect("customers:detail", pk=pk)


@login_required
@require_POST
def contact_add(request, pk: int):
    return _detail_form_post(request, pk, ContactForm(request.POST), lambda data: services.contact_add(request.user, pk, data), _("已添加联系人"))


@login_required
@require_POST
def contact_remove(request, pk: int, contact_id: int):
    try:
        services.contact_remove(request.user, contact_id)
    except (NotFound, Forbidden) as exc:
        _not_found_or_forbidden(exc)
    messages.success(request, _("已删除联系人"))
    return redirect("customers:detail", pk=pk)


@login_required
@require_POST
def document_add(request, pk: int):
    def save(data):
        services.document_add(request.user, pk, data["title"], data["file"], data["secret_level"])

    form = DocumentForm(request.POST, request.FILES, user=request.user)
    return _detail_form_post(request, pk, form, save, _("已上传文件"))


@login_required
def document_download(request, pk: int, document_id: int):
    """A document of a file the viewer can read, at or below the level the viewer may see."""
    _require(request.user, perms.CUSTOMERS_VIEW)
    try:
        document = selectors.document_for_download(request.user, pk, document_id, request=request)
        handle = document.file.open("rb")
    except NotFound:
        raise Http404(_("文件不存在")) from None
    except OSError:
        raise Http404(_("文件内容缺失，请联系管理员")) from None
    return FileResponse(handle, as_attachment=True, filename=document.file.name.rsplit("/", 1)[-1])


# ---------------------------------------------------------------- ownership


@login_required
@require_http_methods(["GET", "POST"])
def customer_transfer(request, pk: int):
    user = request.user
    _require(user, perms.CUSTOMERS_TRANSFER)
    try:
        customer = selectors.customer_get(user, pk, request=request).customer
    except NotFound as exc:
        _not_found_or_forbidden(exc)
    staff = org_selectors.staff_for_assignment(user).exclude(pk=customer.owner_id)
    form = TransferForm(request.POST or None, users=staff)
    if request.method == "POST" and form.is_valid():
        try:
            services.customer_transfer(user, customer.pk, form.cleaned_data["to_owner"], form.cleaned_data["reason"])
        except Invalid as exc:
            apply_errors(form, exc)
        except (NotFound, Forbidden) as exc:
            _not_found_or_forbidden(exc)
        else:
            messages.success(request, _("已移交给 %(owner)s") % {"owner": form.cleaned_data["to_owner"]})
            return redirect("customers:detail", pk=customer.pk)
    return render(request, "customers/transfer.html", {"form": form, "customer": customer})


@login_required
@require_http_methods(["GET", "POST"])
def customers_handover(request):
    user = request.user
    _require(user, perms.CUSTOMERS_TRANSFER)
    form = HandoverForm(
        request.POST or None,
        from_users=org_selectors.users_visible_to(user).order_by("department__name", "username"),
        to_users=org_selectors.staff_for_assignment(user),
    )
    if request.method == "POST" and form.is_valid():
        try:
            handover = services.customers_handover(user, form.cleaned_data["from_user"], [form.cleaned_data["to_owner"]], form.cleaned_data["reason"])
        except Invalid as exc:
            apply_errors(form, exc, {"to_users": "to_owner"})
        except Forbidden as exc:
            raise PermissionDenied(str(exc.message)) from exc
        else:
            messages.success(
                request,
                _("已将 %(from)s 名下的 %(count)d 个客户移交给 %(to)s")
                % {"from": form.cleaned_data["from_user"], "count": handover.customer_count, "to": form.cleaned_data["to_owner"]},
            )
            if handover.kept_count:
                messages.warning(
                    request,
                    _("另有 %(count)d 个客户的密级高于接收人的密级许可，未移交，仍在 %(from)s 名下")
                    % {"count": handover.kept_count, "from": form.cleaned_data["from_user"]},
                )
            return redirect(reverse("customers:list") + f"?owner={form.cleaned_data['to_owner'].pk}")
    return render(request, "customers/handover.html", {"form": form})


# ---------------------------------------------------------------- access requests


@login_required
@require_http_methods(["GET", "POST"])
def access_request(request, pk: int):
    user = request.user
    _require(user, perms.CUSTOMERS_VIEW)
    form = AccessRequestForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            services.access_request_create(user, pk, form.cleaned_data["reason"], form.cleaned_data["days"], code=form.cleaned_data["code"])
        except Invalid as exc:
            if exc.code == "not_needed":
                messages.info(request, str(exc.message))
                return redirect("customers:detail", pk=pk)
            apply_errors(form, exc)
        except Conflict as exc:
            form.add_error(None, str(exc.message))
        except NotFound:
            form.add_error("code", _("客户不存在。档案不在您的数据范围内时，请填写准确的客户编码。"))
        except Forbidden as exc:
            _not_found_or_forbidden(exc)
        else:
            messages.success(request, _("查阅申请已提交，审批通过后即可查阅。"))
            return redirect("customers:list")
    context = {"form": form, "customer_id": pk, "requests": selectors.access_requests_for(user, pk, limit=10)}
    return render(request, "customers/access_request.html", context)
