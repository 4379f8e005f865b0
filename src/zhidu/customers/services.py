"""Every write to the customer archive: one function per business action, each in a transaction,
audited (kernel.audit) and written to the customer's timeline.

Errors: `Invalid` (422, details {"fields": {field: [messages]}}), `Conflict` (409), `Forbidden` (403),
`NotFound` (404) from zhidu.kernel.errors.
"""

import calendar as pycalendar
import datetime as dt
import difflib
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, Count, Exists, F, IntegerField, OuterRef, Q, Value, When
from django.db.models.functions import Mod
from django.db.models.lookups import Exact
from django.utils import timezone
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from zhidu.kernel import audit, policy
from zhidu.kernel.access import MASKERS, DataScope, SecretLevel, clearance_q, scope_q, user_clearance, user_scope
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.org import permissions as perms

from . import validation
from .models import (
    AccessRequest,
    CodeSequence,
    Contact,
    Customer,
    CustomerDocument,
    CustomerStatus,
    Handover,
    OwnershipTransfer,
    TimelineEvent,
)

ACCESS_APPROVAL_KIND = "customers.access"
REVIEW_DUE_CATEGORY = "customers.review_due"

# Status changes allowed besides "any → blacklisted / terminated".
STATUS_TRANSITIONS = {
    CustomerStatus.PROSPECT: {CustomerStatus.ADMITTED},
    CustomerStatus.ADMITTED: {CustomerStatus.ACTIVE},
    CustomerStatus.ACTIVE: {CustomerStatus.SUSPENDED},
    CustomerStatus.SUSPENDED: {CustomerStatus.ACTIVE},
}
FINAL_STATUSES = {CustomerStatus.BLACKLISTED, CustomerStatus.TERMINATED}

# Fields customer_update may change (status, owner and department have their own actions).
EDITABLE_FIELDS = tuple(f for f in validation.CUSTOMER_FIELDS if f != "status")
CONTACT_FIELDS = ("name", "title", "phone", "email", "is_primary")
REASON_MAX = 300


# ---------------------------------------------------------------- create / update


def customer_create(user, data: dict, contacts=(), confirm_duplicates: bool = False) -> Customer:
    """Creates a customer file with its contacts.

    `data`: archive fields (see validation.CUSTOMER_FIELDS) plus optional "owner" and "department"
    (ids or instances; both default to the user, the department to the owner's) and an optional "code"
    (otherwise generated from `customers.code_pattern`). `contacts`: dicts with name, title, phone, email,
    is_primary. Same 统一社会信用代码 / 身份证号 as an existing file: Conflict, always. Same phone or a
    near-identical name: Conflict unless `confirm_duplicates`. Details carry {"duplicates": [{id, code,
    name, reason}]} so the caller can offer to open the existing file; a file the user may not read is
    listed only as {"hidden": true, reason} (id, code and name null).
    """
    _require(user, perms.CUSTOMERS_CREATE)
    types = validation.customer_types()
    data = dict(data or {})
    if data.get("secret_level") in (None, ""):
        data["secret_level"] = policy.value("customers.default_secret_level")
    cleaned, errors = validation.validate_customer_data({**data, "contacts": list(contacts or ())}, customer_type_cfg=types)
    contact_rows = []
    for index, contact in enumerate(contacts or ()):
        row, contact_errors = _clean_contact(contact)
        contact_rows.append(row)
        for field, messages in contact_errors.items():
            errors[f"contacts.{index}.{field}"] = messages
    code = validation._text(data.get("code"))
    if len(code) > 40:
        errors.setdefault("code", []).append(_("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": 40, "length": len(code)})
    owner, department = _owner_and_department(user, data.get("owner"), data.get("department"), errors)
    if not errors and cleaned["secret_level"] > user_clearance(user):
        errors["secret_level"] = [_("密级不能高于您的密级许可")]
    if errors:
        raise Invalid(_("客户资料有误，请按提示修改"), details={"fields": errors})

    with transaction.atomic():
        _check_duplicates(user, cleaned, [c["phone"] for c in contact_rows if c["phone"]], confirm_duplicates)
        type_cfg = types[cleaned["customer_type"]]
        if code:
            if Customer.objects.filter(code=code).exists():
                raise Conflict(_("客户编码已存在：%(code)s") % {"code": code}, details={"fields": {"code": [_("客户编码已存在")]}})
        else:
            code = next_customer_code(type_cfg)
        customer = Customer(
            **cleaned,
            code=code,
            owner=owner,
            department=department,
            created_by=user,
            next_review_on=_add_months(timezone.localdate(), policy.value("customers.review_cycle_months")),
        )
        _set_name_helpers(customer)
        try:
            with transaction.atomic():
                customer.save()
        except IntegrityError:
            # A concurrent create with the same identifier won the race.
            _check_duplicates(user, cleaned, [], True)
            raise
        if contact_rows:
            _ensure_single_primary(contact_rows)
            Contact.objects.bulk_create(Contact(customer=customer, **row, phone_reversed=validation.phone_reversed(row["phone"])) for row in contact_rows)
        _timeline(customer, user, TimelineEvent.Kind.CREATED, _("建档：%(name)s") % {"name": customer.name}, {"code": customer.code})
        audit.record(user, "customer.create", target=customer, details={"code": customer.code, **_public_name(customer), "contacts": len(contact_rows)})
    return customer


def customer_update(user, customer_id: int, data: dict, expected_version: int, confirm_duplicates: bool = False) -> Customer:
    """Changes archive fields (not status, owner or department) with optimistic locking: when the file's
    version is not `expected_version`, Conflict and nothing is written. The timeline records the diff."""
    _require(user, perms.CUSTOMERS_EDIT)
    data = dict(data or {})
    unknown = sorted(set(data) - set(EDITABLE_FIELDS))
    if unknown:
        raise Invalid(_("不能在此修改的字段：%(fields)s") % {"fields": ", ".join(unknown)}, details={"fields": {f: [_("不能在此修改")] for f in unknown}})
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        if expected_version is None or customer.version != expected_version:
            raise Conflict(
                _("该客户档案已被他人修改，请刷新后重试"),
                code="stale_version",
                details={"current_version": customer.version, "expected_version": expected_version},
            )
        merged = {f: getattr(customer, f) for f in validation.CUSTOMER_FIELDS} | data
        merged["contacts"] = list(customer.contacts.values_list("pk", flat=True)[:1])  # for a pack requiring contacts
        cleaned, errors = validation.validate_customer_data(merged, customer_type_cfg=validation.customer_types())
        if "secret_level" not in errors and cleaned["secret_level"] > user_clearance(user):
            errors["secret_level"] = [_("密级不能高于您的密级许可")]
        if errors:
            raise Invalid(_("客户资料有误，请按提示修改"), details={"fields": errors})
        changes = {f: [getattr(customer, f), cleaned[f]] for f in EDITABLE_FIELDS if getattr(customer, f) != cleaned[f]}
        if not changes:
            return customer
        # Only what changed is checked against the other files.
        check = {k: (cleaned[k] if k in changes else "") for k in ("credit_code", "id_number", "name")}
        _check_duplicates(user, check, [], confirm_duplicates, exclude_id=customer.pk)
        for field, (_old, new) in changes.items():
            setattr(customer, field, new)
        if "name" in changes:
            _set_name_helpers(customer)
        update_fields = list(changes) + (["name_key", "name_pinyin", "name_initials"] if "name" in changes else [])
        updated = Customer.objects.filter(pk=customer.pk, version=expected_version).update(
            **{f: getattr(customer, f) for f in update_fields}, version=F("version") + 1, updated_at=timezone.now()
        )
        if updated != 1:
            raise Conflict(_("该客户档案已被他人修改，请刷新后重试"), code="stale_version")
        customer.refresh_from_db()
        shown = _masked_changes(changes)
        _timeline(customer, user, TimelineEvent.Kind.UPDATED, _("修改：%(fields)s") % {"fields": ", ".join(changes)}, shown)
        details = {"fields": sorted(changes)}
        if max(changes.get("secret_level", [customer.secret_level])) == SecretLevel.PUBLIC:
            details["changes"] = shown  # a classified file's names and texts stay out of the audit trail
        elif "secret_level" in changes:
            details["secret_level"] = changes["secret_level"]
        audit.record(user, "customer.update", target=customer, details=details)
    return customer


def customer_set_status(user, customer_id: int, status: str, reason: str, expected_version: int | None = None) -> Customer:
    """Moves a file along prospect → admitted → active ⇄ suspended; any status may go to blacklisted or
    terminated. A reason is required."""
    _require(user, perms.CUSTOMERS_EDIT)
    reason = _reason(reason)
    if status not in CustomerStatus.values:
        raise Invalid(_("未知的状态：%(value)s") % {"value": str(status)[:40]}, details={"fields": {"status": [_("未知的状态")]}})
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        if expected_version is not None and customer.version != expected_version:
            raise Conflict(_("该客户档案已被他人修改，请刷新后重试"), code="stale_version", details={"current_version": customer.version})
        old = customer.status
        allowed = STATUS_TRANSITIONS.get(old, set()) | (FINAL_STATUSES - {old} if old != CustomerStatus.TERMINATED else set())
        if status not in allowed:
            raise Conflict(
                _("不能从“%(old)s”变更为“%(new)s”") % {"old": CustomerStatus(old).label, "new": CustomerStatus(status).label},
                code="bad_transition",
                details={"from": old, "to": status, "allowed": sorted(allowed)},
            )
        Customer.objects.filter(pk=customer.pk).update(status=status, version=F("version") + 1, updated_at=timezone.now())
        customer.refresh_from_db()
        changes = {"status": [old, status], "reason": reason}
        _timeline(customer, user, TimelineEvent.Kind.STATUS, _("状态：%(old)s → %(new)s") % {"old": CustomerStatus(old).label, "new": CustomerStatus(status).label}, changes)
        audit.record(user, "customer.status", target=customer, details=changes)
    return customer


def customer_review_record(user, customer_id: int, note: str, expected_version: int | None = None) -> Customer:
    """Records that the file was reviewed (复核/更新) and sets the next review date to today plus the
    pack's `customers.review_cycle_months` as it stands now. Allowed to the file's owner and to anyone
    with customers.edit whose scope and clearance cover the file. With `expected_version`, a stale
    version is a Conflict and nothing is written."""
    note = validation._text(note)
    if not note:
        raise Invalid(_("请填写复核说明"), details={"fields": {"note": [_("请填写复核说明")]}})
    if len(note) > REASON_MAX:
        message = _("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": REASON_MAX, "length": len(note)}
        raise Invalid(message, details={"fields": {"note": [message]}})
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        if customer.owner_id != user.pk:
            _require(user, perms.CUSTOMERS_EDIT)
        if expected_version is not None and customer.version != expected_version:
            raise Conflict(
                _("该客户档案已被他人修改，请刷新后重试"),
                code="stale_version",
                details={"current_version": customer.version, "expected_version": expected_version},
            )
        cycle = policy.get("customers.review_cycle_months")
        old, new = customer.next_review_on, _add_months(timezone.localdate(), cycle.value)
        Customer.objects.filter(pk=customer.pk).update(next_review_on=new, version=F("version") + 1, updated_at=timezone.now())
        customer.refresh_from_db()
        changes = {
            "next_review_on": [old.isoformat() if old else None, new.isoformat()],
            "note": note,
            "cycle_months": cycle.value,
            "source": str(cycle.source or ""),
        }
        _timeline(customer, user, TimelineEvent.Kind.REVIEW, _("复核：%(note)s；下次复核日期 %(date)s") % {"note": note, "date": new.isoformat()}, changes)
        audit.record(user, "customer.review", target=customer, details={**changes, "pack_version": cycle.version_id})
    return customer


def reviews_due_notify(now=None) -> int:
    """Tells each active staff member who owns files whose review is due (next_review_on today or
    earlier, at or below their clearance) how many there are: one inbox notification per owner, linking
    to their list filtered by review_due. One grouped query finds the owners; an owner who already got
    this notification today is skipped, so repeated runs on the same day notify nobody twice. Returns
    the number of notifications written."""
    from zhidu.kernel import notify
    from zhidu.kernel.models import Notification

    now = now or timezone.now()
    today = timezone.localdate(now)
    day_start = timezone.make_aware(dt.datetime.combine(today, dt.time.min))
    day_end = timezone.make_aware(dt.datetime.combine(today + dt.timedelta(days=1), dt.time.min))
    notified_today = Notification.objects.filter(
        user_id=OuterRef("owner_id"), category=REVIEW_DUE_CATEGORY, created_at__gte=day_start, created_at__lt=day_end
    )
    owners = (
        Customer.objects.filter(next_review_on__lte=today, owner__is_active=True, owner__left_at__isnull=True, secret_level__lte=F("owner__clearance"))
        .filter(~Exists(notified_today))
        .values("owner_id")
        .annotate(count=Count("id"))
        .order_by("owner_id")
    )
    list_url = reverse("customers:list")
    body = _("请逐一复核这些客户档案，并在档案页“记录复核”。")
    messages = [
        (
            [row["owner_id"]],
            ngettext("%(count)d 份客户档案到期待复核", "%(count)d 份客户档案到期待复核", row["count"]) % {"count": row["count"]},
            body,
            f"{list_url}?review_due=1&owner={row['owner_id']}",
            REVIEW_DUE_CATEGORY,
        )
        for row in owners
    ]
    return notify.send_many(messages)


# ---------------------------------------------------------------- contacts and documents


def contact_add(user, customer_id: int, data: dict) -> Contact:
    _require(user, perms.CUSTOMERS_EDIT)
    row, errors = _clean_contact(data)
    if errors:
        raise Invalid(_("联系人资料有误"), details={"fields": errors})
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        if row["is_primary"]:
            customer.contacts.filter(is_primary=True).update(is_primary=False)
        contact = Contact.objects.create(customer=customer, **row, phone_reversed=validation.phone_reversed(row["phone"]))
        _touch(customer)
        _timeline(customer, user, TimelineEvent.Kind.CONTACT, _("新增联系人：%(name)s") % {"name": contact.name}, {"contact_id": contact.pk})
        audit.record(user, "customer.contact_add", target=customer, details={"contact_id": contact.pk, **_public_name(customer, contact.name)})
    return contact


def contact_update(user, contact_id: int, data: dict) -> Contact:
    _require(user, perms.CUSTOMERS_EDIT)
    with transaction.atomic():
        contact = _visible_contact(user, contact_id)
        customer = _locked_visible(user, contact.customer_id)
        current = {f: getattr(contact, f) for f in CONTACT_FIELDS}
        unknown = sorted(set(data or {}) - set(CONTACT_FIELDS))
        if unknown:
            raise Invalid(_("不能在此修改的字段：%(fields)s") % {"fields": ", ".join(unknown)})
        row, errors = _clean_contact(current | dict(data or {}))
        if errors:
            raise Invalid(_("联系人资料有误"), details={"fields": errors})
        changes = {f: [current[f], row[f]] for f in CONTACT_FIELDS if current[f] != row[f]}
        if not changes:
            return contact
        if row["is_primary"]:
            customer.contacts.filter(is_primary=True).exclude(pk=contact.pk).update(is_primary=False)
        for field, value in row.items():
            setattr(contact, field, value)
        contact.phone_reversed = validation.phone_reversed(contact.phone)
        contact.save()
        _touch(customer)
        # Phone numbers stay out of the timeline and the audit trail: only which fields changed.
        _timeline(customer, user, TimelineEvent.Kind.CONTACT, _("修改联系人：%(name)s") % {"name": contact.name}, {"contact_id": contact.pk, "fields": sorted(changes)})
        audit.record(user, "customer.contact_update", target=customer, details={"contact_id": contact.pk, "fields": sorted(changes)})
    return contact


def contact_remove(user, contact_id: int) -> None:
    _require(user, perms.CUSTOMERS_EDIT)
    with transaction.atomic():
        contact = _visible_contact(user, contact_id)
        customer = _locked_visible(user, contact.customer_id)
        name = contact.name
        contact.delete()
        _touch(customer)
        _timeline(customer, user, TimelineEvent.Kind.CONTACT, _("删除联系人：%(name)s") % {"name": name}, {"contact_id": contact_id})
        audit.record(user, "customer.contact_remove", target=customer, details={"contact_id": contact_id, **_public_name(customer, name)})


def document_add(user, customer_id: int, title: str, file, secret_level: int = SecretLevel.PUBLIC) -> CustomerDocument:
    """Attaches a document with its own secret level (not above the uploader's clearance)."""
    _require(user, perms.CUSTOMERS_EDIT)
    title = validation._text(title)
    errors = {}
    if not title:
        errors["title"] = [_("标题不能为空")]
    elif len(title) > 200:
        errors["title"] = [_("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": 200, "length": len(title)}]
    if secret_level not in SecretLevel.values:
        errors["secret_level"] = [_("未知的密级：%(value)s") % {"value": str(secret_level)[:20]}]
    elif secret_level > user_clearance(user):
        errors["secret_level"] = [_("密级不能高于您的密级许可")]
    limit = settings.ZHIDU_DOCUMENT_MAX_BYTES
    if file is None:
        errors["file"] = [_("请选择文件")]
    elif not file.size:
        errors["file"] = [_("文件为空")]
    elif file.size > limit:
        errors["file"] = [_("文件过大：上限 %(limit)s MB") % {"limit": round(limit / 1024 / 1024, 1)}]
    if errors:
        raise Invalid(_("文件资料有误"), details={"fields": errors})
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        document = CustomerDocument.objects.create(customer=customer, title=title, file=file, secret_level=secret_level, uploaded_by=user)
        _touch(customer)
        # The timeline is read at the file's level; a classified document's title stays out of it.
        if secret_level == SecretLevel.PUBLIC:
            summary = _("上传文件：%(title)s") % {"title": title}
        else:
            summary = _("上传文件（%(level)s）") % {"level": SecretLevel(secret_level).label}
        _timeline(customer, user, TimelineEvent.Kind.DOCUMENT, summary, {"document_id": document.pk, "secret_level": secret_level})
        details = {"document_id": document.pk, "secret_level": secret_level}
        if secret_level == SecretLevel.PUBLIC and customer.secret_level == SecretLevel.PUBLIC:
            details["title"] = title
        audit.record(user, "customer.document_add", target=customer, details=details)
    return document


# ---------------------------------------------------------------- ownership


def customer_transfer(user, customer_id: int, to_owner, reason: str) -> Customer:
    """Hands one customer to another staff member; the department follows the new owner. Both the
    customer and the new owner must be in the user's data scope."""
    _require(user, perms.CUSTOMERS_TRANSFER)
    reason = _reason(reason)
    with transaction.atomic():
        customer = _locked_visible(user, customer_id)
        to_owner = _staff_in_scope(user, to_owner, "to_owner")
        if to_owner.pk == customer.owner_id:
            raise Invalid(_("新负责人与当前负责人相同"), details={"fields": {"to_owner": [_("新负责人与当前负责人相同")]}})
        OwnershipTransfer.objects.create(
            customer=customer,
            from_owner_id=customer.owner_id,
            to_owner=to_owner,
            from_department_id=customer.department_id,
            to_department_id=to_owner.department_id,
            by=user,
            reason=reason,
        )
        changes = {"owner": [customer.owner_id, to_owner.pk], "department": [customer.department_id, to_owner.department_id], "reason": reason}
        Customer.objects.filter(pk=customer.pk).update(owner=to_owner, department_id=to_owner.department_id, version=F("version") + 1, updated_at=timezone.now())
        customer.refresh_from_db()
        _timeline(customer, user, TimelineEvent.Kind.TRANSFERRED, _("移交给 %(owner)s") % {"owner": str(to_owner)}, changes)
        audit.record(user, "customer.transfer", target=customer, details=changes)
    return customer


def customers_handover(user, from_user, to_users, reason: str) -> Handover:
    """Hands every customer of `from_user` (typically a leaving staff member) inside the user's scope to
    `to_users` (one user or several; with several, customers are spread evenly by id) in one set-based
    UPDATE, with one OwnershipTransfer and timeline row per customer and one Handover record.
    Only files at or below the user's clearance are handed over, and only those at or below every
    receiver's clearance: the others stay with `from_user`, counted in Handover.kept_count."""
    _require(user, perms.CUSTOMERS_TRANSFER)
    reason = _reason(reason)
    if not isinstance(to_users, (list, tuple)):
        to_users = [to_users]
    if not to_users:
        raise Invalid(_("请选择接收人"), details={"fields": {"to_users": [_("请选择接收人")]}})
    with transaction.atomic():
        from_user = _staff_in_scope(user, from_user, "from_user", require_active=False)
        receivers = [_staff_in_scope(user, u, "to_users") for u in to_users]
        if len({r.pk for r in receivers}) != len(receivers):
            raise Invalid(_("接收人重复"), details={"fields": {"to_users": [_("接收人重复")]}})
        if any(r.pk == from_user.pk for r in receivers):
            raise Invalid(_("接收人不能是移交人本人"), details={"fields": {"to_users": [_("接收人不能是移交人本人")]}})
        mine = Customer.objects.filter(scope_q(user), clearance_q(user), owner=from_user)
        ceiling = min(user_clearance(r) for r in receivers)
        kept = mine.filter(secret_level__gt=ceiling).count()
        scoped = mine.filter(secret_level__lte=ceiling)
        rows = list(scoped.select_for_update().order_by("id").values_list("id", "department_id"))
        handover = Handover.objects.create(from_user=from_user, by=user, reason=reason, customer_count=len(rows), kept_count=kept)
        if rows:
            count = len(receivers)
            if count == 1:
                owner_value, department_value = Value(receivers[0].pk), Value(receivers[0].department_id)
            else:
                slot = Mod(F("id"), Value(count))
                owner_value = Case(*[When(Exact(slot, Value(i)), then=Value(r.pk)) for i, r in enumerate(receivers)], output_field=IntegerField())
                department_value = Case(*[When(Exact(slot, Value(i)), then=Value(r.department_id)) for i, r in enumerate(receivers)], output_field=IntegerField())
            # Bounded by the last locked id, so a file created meanwhile is not moved without its transfer row.
            scoped.filter(pk__lte=rows[-1][0]).update(
                owner_id=owner_value, department_id=department_value, version=F("version") + 1, updated_at=timezone.now()
            )
            OwnershipTransfer.objects.bulk_create(
                (
                    OwnershipTransfer(
                        customer_id=pk,
                        from_owner=from_user,
                        to_owner=receivers[pk % count],
                        from_department_id=dept,
                        to_department_id=receivers[pk % count].department_id,
                        by=user,
                        reason=reason,
                        handover=handover,
                    )
                    for pk, dept in rows
                ),
                batch_size=1000,
            )
            TimelineEvent.objects.bulk_create(
                (
                    TimelineEvent(
                        customer_id=pk,
                        actor=user,
                        kind=TimelineEvent.Kind.TRANSFERRED,
                        summary=_("离职交接：%(from)s → %(to)s") % {"from": str(from_user), "to": str(receivers[pk % count])},
                        changes={"owner": [from_user.pk, receivers[pk % count].pk], "reason": reason, "handover": handover.pk},
                    )
                    for pk, _dept in rows
                ),
                batch_size=1000,
            )
        audit.record_many(
            user, "customer.handover_item", ((("customers.customer", pk), {"handover": handover.pk, "from_user": from_user.pk}) for pk, _dept in rows)
        )
        audit.record(
            user,
            "customer.handover",
            target=handover,
            details={"from_user": from_user.pk, "to_users": [r.pk for r in receivers], "count": len(rows), "kept": kept, "reason": reason},
        )
    return handover


# ---------------------------------------------------------------- access requests (查阅/借阅)


def access_request_create(user, customer_id: int, reason: str, days: int, code: str | None = None) -> AccessRequest:
    """Requests to read a file above one's clearance or outside one's scope. The request walks the
    chain `customers.access_request.chain`; approval grants reading for `days` (≤ max_days).

    A file outside the requester's data scope can only be asked for with its exact `code` (one cannot
    list it); without it the answer is the same NotFound as for a missing id, so ids cannot be probed.
    A second pending request by the same user for the same file is refused."""
    from zhidu.kernel import approvals

    reason = _reason(reason)
    max_days = policy.value("customers.access_request.max_days")
    if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= max_days:
        raise Invalid(
            _("借阅天数须在 1 到 %(max)d 天之间") % {"max": max_days},
            details={"fields": {"days": [_("借阅天数须在 1 到 %(max)d 天之间") % {"max": max_days}]}},
        )
    if not user.has_perm_code(perms.CUSTOMERS_VIEW):
        raise Forbidden(_("您没有查看客户档案的权限"))
    with transaction.atomic():
        try:
            customer_id = int(customer_id)
        except (TypeError, ValueError):
            raise NotFound(_("客户不存在")) from None
        # Locked so that two identical requests at once cannot both pass the pending check below.
        customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
        code = validation._text(code)
        if customer is None or not ((code and code == customer.code) or Customer.objects.filter(scope_q(user), pk=customer.pk).exists()):
            raise NotFound(_("客户不存在"))
        if Customer.objects.filter(scope_q(user), secret_level__lte=user_clearance(user), pk=customer.pk).exists():
            raise Invalid(_("您已可以查看该客户档案，无需申请"), code="not_needed")
        open_request = AccessRequest.objects.filter(requested_by=user, customer=customer, state=AccessRequest.State.PENDING).first()
        if open_request:
            raise Conflict(_("已有待审批的查阅申请"), details={"access_request": open_request.pk})
        request = AccessRequest.objects.create(customer=customer, requested_by=user, reason=reason, days=days)
        chain = policy.get("customers.access_request.chain")
        steps = [validation._plain(step) for step in chain.value]
        approval = approvals.start(
            ACCESS_APPROVAL_KIND,
            target=request,
            requested_by=user,
            chain=steps,
            chain_source=str(chain.source or "")[:300],
            title=str(_("查阅客户档案：%(code)s（%(days)d 天）") % {"code": customer.code or customer.pk, "days": days})[:200],
            payload={"access_request": request.pk, "customer": customer.pk, "days": days, "reason": reason},
        )
        request.approval = approval
        request.save(update_fields=["approval"])
        _timeline(customer, user, TimelineEvent.Kind.ACCESS, _("申请查阅 %(days)d 天") % {"days": days}, {"access_request": request.pk, "reason": reason})
        audit.record(user, "customer.access_request", target=customer, details={"access_request": request.pk, "days": days, "reason": reason})
    return request


def on_access_approved(approval) -> None:
    """kernel.approvals handler: turns the approved request into a grant ending `days` calendar days
    from now."""
    request = AccessRequest.objects.select_for_update().filter(pk=approval.payload.get("access_request")).first()
    if request is None or request.state != AccessRequest.State.PENDING:
        return
    request.state = AccessRequest.State.APPROVED
    request.granted_until = timezone.now() + dt.timedelta(days=request.days)
    request.save(update_fields=["state", "granted_until"])
    _timeline(request.customer, None, TimelineEvent.Kind.ACCESS, _("查阅申请已批准，有效期至 %(until)s") % {"until": timezone.localtime(request.granted_until).strftime("%Y-%m-%d %H:%M")}, {"access_request": request.pk, "requested_by": request.requested_by_id})
    audit.record(None, "customer.access_grant", target=request.customer, details={"access_request": request.pk, "requested_by": request.requested_by_id, "until": request.granted_until.isoformat()})
    _notify([request.requested_by], _("查阅申请已批准"), _("您对客户档案 %(code)s 的查阅申请已批准") % {"code": request.customer.code})


def on_access_rejected(approval) -> None:
    request = AccessRequest.objects.select_for_update().filter(pk=approval.payload.get("access_request")).first()
    if request is None or request.state != AccessRequest.State.PENDING:
        return
    request.state = AccessRequest.State.REJECTED
    request.save(update_fields=["state"])
    _timeline(request.customer, None, TimelineEvent.Kind.ACCESS, _("查阅申请被驳回"), {"access_request": request.pk, "requested_by": request.requested_by_id})
    audit.record(None, "customer.access_reject", target=request.customer, details={"access_request": request.pk, "requested_by": request.requested_by_id})
    # The requester may never have been allowed to know the file's code; the request number is theirs.
    _notify([request.requested_by], _("查阅申请被驳回"), _("您的查阅申请（编号 %(number)s）被驳回") % {"number": request.pk})


def access_grants_expire(now=None) -> int:
    """Marks grants whose time has passed as expired, in one UPDATE. Reading already stops at
    `granted_until` (see selectors); this keeps the request list honest. Returns the rows changed."""
    now = now or timezone.now()
    return AccessRequest.objects.filter(state=AccessRequest.State.APPROVED, granted_until__lte=now).update(state=AccessRequest.State.EXPIRED)


def register_approval_handlers() -> None:
    """Called from CustomersConfig.ready."""
    from zhidu.kernel import approvals

    approvals.register(ACCESS_APPROVAL_KIND, on_approved=on_access_approved, on_rejected=on_access_rejected)


# ---------------------------------------------------------------- codes


def next_customer_code(type_cfg: dict) -> str:
    """The next code for a customer type from `customers.code_pattern` (fields prefix, year, month,
    seq), numbered per prefix-and-period under a row lock. Call inside a transaction."""
    pattern, fields, sequence_key = _code_sequence(type_cfg)
    for _attempt in range(50):
        number = _sequence_next(sequence_key)
        code = pattern.format(seq=number, **fields)
        if not Customer.objects.filter(code=code).exists():
            return code
    raise Conflict(_("无法生成客户编码，请检查编码规则"), code="code_exhausted")


def reserve_customer_codes(type_cfg: dict, count: int) -> list[str]:
    """`count` codes for one customer type, taken as one block of sequence numbers under one row lock
    (bulk import: one lock per prefix per chunk, not per row); codes already used by a file (entered by
    hand) are skipped. Call inside a transaction."""
    pattern, fields, sequence_key = _code_sequence(type_cfg)
    codes: list[str] = []
    for _attempt in range(50):
        need = count - len(codes)
        if need <= 0:
            return codes
        last = _sequence_next(sequence_key, need)
        block = [pattern.format(seq=number, **fields) for number in range(last - need + 1, last + 1)]
        taken = set(Customer.objects.filter(code__in=block).values_list("code", flat=True))
        codes.extend(code for code in block if code not in taken)
    raise Conflict(_("无法生成客户编码，请检查编码规则"), code="code_exhausted")


def _code_sequence(type_cfg: dict) -> tuple[str, dict, str]:
    pattern = policy.value("customers.code_pattern")
    today = timezone.localdate()
    fields = {"prefix": type_cfg.get("code_prefix", ""), "year": today.year, "month": today.month}
    # The sequence runs per everything-but-the-number: "QY2026" gets 1, 2, 3 …
    sequence_key = re.sub(r"\{seq[^}]*\}", "#", pattern).format(**fields)[:40]
    return pattern, fields, sequence_key


def _sequence_next(key: str, count: int = 1) -> int:
    """Advances the sequence by `count` under its row lock; returns the last number taken."""
    sequence = CodeSequence.objects.select_for_update().filter(prefix=key).first()
    if sequence is None:
        try:
            with transaction.atomic():
                CodeSequence.objects.create(prefix=key, last_value=0)
        except IntegrityError:
            pass  # created by a concurrent transaction; lock it below
        sequence = CodeSequence.objects.select_for_update().get(prefix=key)
    CodeSequence.objects.filter(pk=sequence.pk).update(last_value=F("last_value") + count)
    return sequence.last_value + count


# ---------------------------------------------------------------- duplicates


def find_duplicates(cleaned: dict, phones=(), *, exclude_id: int | None = None, threshold: float | None = None) -> dict:
    """Existing files that look like `cleaned`: {"hard": [...], "soft": [...]}, each item {id, code, name,
    reason}. Hard: same 统一社会信用代码 or 身份证号. Soft: a contact with the same phone, or a name whose
    name_key is at least `threshold` similar (difflib ratio). Candidates come from indexed queries only
    (identifiers, Contact.phone, name_key prefix, name_initials), never a scan of the table."""
    base = Customer.objects.exclude(pk=exclude_id) if exclude_id else Customer.objects.all()
    hard, soft, seen = [], [], set()

    def add(target, customer, reason):
        if customer["id"] in seen:
            return
        seen.add(customer["id"])
        target.append({**customer, "reason": reason})

    # "Not blank" repeated so the partial unique indexes (credit code, 身份证号) serve the lookup.
    identifiers = Q()
    if cleaned.get("credit_code"):
        identifiers |= Q(credit_code=cleaned["credit_code"]) & ~Q(credit_code="")
    if cleaned.get("id_number"):
        identifiers |= Q(id_number=cleaned["id_number"]) & ~Q(id_number="")
    if identifiers:
        for row in base.filter(identifiers).values("id", "code", "name", "credit_code", "id_number")[:20]:
            reason = "credit_code" if cleaned.get("credit_code") and row["credit_code"] == cleaned["credit_code"] else "id_number"
            add(hard, {k: row[k] for k in ("id", "code", "name")}, reason)
    phones = [p for p in phones if p]
    if phones:
        for row in base.filter(pk__in=Contact.objects.filter(phone__in=phones).values("customer_id")).values("id", "code", "name")[:20]:
            add(soft, row, "phone")
    name = cleaned.get("name")
    if name:
        key = validation.name_key(name)
        initials = validation.name_initials(name)
        threshold = policy.value("customers.duplicate_name_threshold") if threshold is None else threshold
        prefix = key[: max(2, len(key) // 2)]
        candidates = Q(name_key__startswith=prefix)
        if initials:
            candidates |= Q(name_initials=initials)
        for row in base.filter(candidates).values("id", "code", "name", "name_key")[:500]:
            if difflib.SequenceMatcher(None, key, row["name_key"]).ratio() >= threshold:
                add(soft, {k: row[k] for k in ("id", "code", "name")}, "name")
    return {"hard": hard, "soft": soft}


def _check_duplicates(user, cleaned: dict, phones, confirmed: bool, exclude_id: int | None = None) -> None:
    found = find_duplicates(cleaned, phones, exclude_id=exclude_id)
    if found["hard"]:
        duplicates, hidden = _only_visible(user, found["hard"])
        raise Conflict(
            _("已有您无权查看的客户档案使用了相同的证件号码") if hidden else _("已存在相同证件号码的客户档案"),
            code="duplicate_identifier",
            details={"duplicates": duplicates, "can_confirm": False},
        )
    if found["soft"] and not confirmed:
        duplicates, hidden = _only_visible(user, found["soft"])
        raise Conflict(
            _("已有您无权查看的客户档案使用了相同的电话或相近的名称，请确认后再保存")
            if hidden
            else _("可能与已有客户重复（电话相同或名称相近），请确认后再保存"),
            code="possible_duplicate",
            details={"duplicates": duplicates, "can_confirm": True},
        )


def _only_visible(user, duplicates: list[dict]) -> tuple[list[dict], bool]:
    """The duplicates with id, code and name only for files the user may read; the others reduced to
    {"hidden": true, "reason"} so a refusal does not reveal files (or whose phone it is) beyond the
    user's scope and clearance. Also returns whether any was hidden."""
    from .selectors import customers_visible

    visible = set(customers_visible(user).filter(pk__in=[d["id"] for d in duplicates]).values_list("pk", flat=True))
    shown = [d if d["id"] in visible else {"id": None, "code": None, "name": None, "reason": d["reason"], "hidden": True} for d in duplicates]
    return shown, len(visible) < len(duplicates)


# ---------------------------------------------------------------- helpers


def _require(user, code: str) -> None:
    if not user.has_perm_code(code):
        raise Forbidden(_("您没有此操作的权限：%(perm)s") % {"perm": str(perms.ALL.get(code, code))}, details={"permission": code})


def _locked_visible(user, customer_id) -> Customer:
    """The customer under a row lock, if it is inside the user's scope and clearance (a read grant does
    not allow writing); otherwise NotFound, so ids outside the scope are not revealed."""
    from .selectors import customers_writable

    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(_("客户不存在")) from None
    customer = customers_writable(user).select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在"))
    return customer


def _visible_contact(user, contact_id) -> Contact:
    from .selectors import customers_writable

    contact = Contact.objects.filter(pk=contact_id, customer__in=customers_writable(user)).first()
    if contact is None:
        raise NotFound(_("联系人不存在"))
    return contact


def user_in_scope(user, other) -> bool:
    """Whether staff member `other` is inside `user`'s data scope (by department; oneself always)."""
    if other.pk == user.pk:
        return True
    scope = user_scope(user)
    if scope == DataScope.ALL:
        return True
    if scope == DataScope.OWN or user.department_id is None or other.department_id is None:
        return False
    if scope == DataScope.DEPARTMENT:
        return other.department_id == user.department_id
    return other.department.path.startswith(user.department.path)


def _staff_in_scope(user, other, field: str, *, require_active: bool = True):
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if not isinstance(other, User):
        try:
            other = User.objects.select_related("department").filter(pk=int(other)).first()
        except (TypeError, ValueError):
            other = None
    if other is None:
        raise Invalid(_("用户不存在"), details={"fields": {field: [_("用户不存在")]}})
    if require_active and (not other.is_active or other.left_at):
        raise Invalid(_("该用户已停用或离职"), details={"fields": {field: [_("该用户已停用或离职")]}})
    if other.department_id is None:
        raise Invalid(_("该用户没有所属部门"), details={"fields": {field: [_("该用户没有所属部门")]}})
    if not user_in_scope(user, other):
        raise Forbidden(_("该用户不在您的数据范围内"), details={"fields": {field: [_("该用户不在您的数据范围内")]}})
    return other


def _owner_and_department(user, owner, department, errors):
    from zhidu.org.models import Department

    owner_obj = user
    if owner not in (None, ""):
        try:
            owner_obj = _staff_in_scope(user, owner, "owner")
        except (Invalid, Forbidden) as exc:
            errors.setdefault("owner", []).append(str(exc.message))
            return user, None
    if department in (None, ""):
        department_obj = owner_obj.department
    else:
        department_id = department.pk if isinstance(department, Department) else department
        try:
            department_obj = Department.objects.filter(pk=int(department_id)).first()
        except (TypeError, ValueError):
            department_obj = None
        if department_obj is None:
            errors.setdefault("department", []).append(_("部门不存在"))
        elif user_scope(user) != DataScope.ALL and not _department_in_scope(user, department_obj):
            errors.setdefault("department", []).append(_("该部门不在您的数据范围内"))
    if department_obj is None and "department" not in errors:
        errors["department"] = [_("负责人没有所属部门，请指定部门")]
    return owner_obj, department_obj


def _department_in_scope(user, department) -> bool:
    scope = user_scope(user)
    if user.department_id is None:
        return False
    if scope == DataScope.OWN or scope == DataScope.DEPARTMENT:
        return department.pk == user.department_id
    return department.path.startswith(user.department.path)


def _clean_contact(data) -> tuple[dict, dict]:
    data = data or {}
    errors: dict[str, list[str]] = {}
    row = {f: validation._text(data.get(f)) for f in ("name", "title", "phone", "email")}
    row["is_primary"] = bool(data.get("is_primary"))
    for field, limit in (("name", 60), ("title", 60), ("email", 254)):
        if len(row[field]) > limit:
            errors[field] = [_("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": limit, "length": len(row[field])}]
    if not row["name"]:
        errors["name"] = [_("联系人姓名不能为空")]
    if row["phone"]:
        try:
            row["phone"] = validation.validate_phone(row["phone"])
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if row["email"] and "email" not in errors:
        try:
            validate_email(row["email"])
        except ValidationError:
            errors["email"] = [_("邮箱格式不正确")]
    return row, errors


def _ensure_single_primary(rows: list[dict]) -> None:
    primary = [r for r in rows if r["is_primary"]]
    for row in primary[1:]:
        row["is_primary"] = False
    if not primary:
        rows[0]["is_primary"] = True


def _set_name_helpers(customer: Customer) -> None:
    customer.name_key = validation.name_key(customer.name)
    customer.name_pinyin = validation.name_pinyin(customer.name)
    customer.name_initials = validation.name_initials(customer.name)


def _touch(customer: Customer) -> None:
    Customer.objects.filter(pk=customer.pk).update(version=F("version") + 1, updated_at=timezone.now())
    customer.version += 1


def _timeline(customer, actor, kind, summary, changes=None) -> TimelineEvent:
    return TimelineEvent.objects.create(customer=customer, actor=actor, kind=kind, summary=str(summary)[:300], changes=changes or {})


def _reason(reason) -> str:
    reason = validation._text(reason)
    if not reason:
        raise Invalid(_("请填写原因"), details={"fields": {"reason": [_("请填写原因")]}})
    if len(reason) > REASON_MAX:
        raise Invalid(_("原因不能超过 %(limit)d 个字符") % {"limit": REASON_MAX}, details={"fields": {"reason": [_("原因不能超过 %(limit)d 个字符") % {"limit": REASON_MAX}]}})
    return reason


def _masked_changes(changes: dict) -> dict:
    """`changes` ({field: [old, new]}) as JSON, with maskable fields (身份证号 …) masked: the timeline is
    read by viewers who see them masked, the audit trail by auditors."""
    return _jsonable({f: ([MASKERS[f](v or "") for v in pair] if f in MASKERS else pair) for f, pair in changes.items()})


def _public_name(customer, name=None) -> dict:
    """{"name": …} for an audit entry about a 公开 file; nothing for a classified one (its id and code
    identify it without showing its name to auditors cleared only for 公开)."""
    if customer.secret_level != SecretLevel.PUBLIC:
        return {}
    return {"name": customer.name if name is None else name}


def _jsonable(changes: dict) -> dict:
    return {k: [v if isinstance(v, (str, int, float, bool, type(None), dict, list)) else str(v) for v in pair] for k, pair in changes.items()}


def _add_months(day: dt.date, months: int) -> dt.date:
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, pycalendar.monthrange(year, month)[1]))


def _notify(users, title, body) -> None:
    from zhidu.kernel import notify

    notify.send(users, str(title), str(body), category="customers")
