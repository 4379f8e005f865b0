"""Every write of complaint handling: one function per business action, each in a transaction, audited,
written to the case timeline and guarded by the case's version (optimistic locking).

The steps, roles, time limits, authority matrix and penalties come from the pack in force when the case
was registered (`Complaint.policy`, see policy.py). Errors: `Invalid` (422, details {"fields": …}),
`Conflict` (409: stale version, a step the case is not ready for), `Forbidden` (403), `NotFound` (404),
`ParameterMissing` (409, a number the regulation leaves blank and nobody has set). A refused action
changes nothing.
"""

import datetime as dt
import math
import re
import secrets
from decimal import Decimal, InvalidOperation

from django.apps import apps as django_apps
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from django.utils.translation import gettext as _

from zhidu.kernel import approvals, audit, calendar, deadlines, ledger, notify, policy
from zhidu.kernel.errors import ApiError, Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import ApprovalRequest, Deadline, Notification
from zhidu.org import permissions as perms

from . import policy as complaint_policy
from .models import (
    Complaint,
    ComplaintEvent,
    Decision,
    ExtensionRequest,
    Investigation,
    PendingTimer,
    Penalty,
    RemedyPlan,
    ReturnVisit,
    Severity,
    Status,
    Validity,
)

TARGET_TYPE = "complaints.complaint"
KIND_REMEDY = "complaints.remedy"
KIND_EXTENSION = "complaints.extension"
KIND_PENALTY = "complaints.penalty"
KINDS = (KIND_REMEDY, KIND_EXTENSION, KIND_PENALTY)
DEADLINE_PREFIX = "complaints.deadlines."
LINK = "/complaints/{id}/"

PARAM_NAMES = tuple(key.removeprefix("complaints.") for key in complaint_policy.SCHEMA)

# The status each step leaves the case in.
STEP_RESULT = {
    "validity": Status.ACCEPTED,
    "assign": Status.ASSIGNED,
    "investigate": Status.INVESTIGATED,
    "remedy": Status.PLAN_APPROVED,
    "carry_out": Status.CARRIED_OUT,
    "inform": Status.INFORMED,
    "return_visit": Status.SATISFIED,
    "close": Status.CLOSED,
}
MANAGE_STEPS = ("validity", "assign", "close", "reopen")
# Automatic reasons for a major complaint (besides the pack's own reason keys).
AUTO_MAJOR = {"repeat": "重复投诉", "collective": "集体投诉", "category": "重大类别"}

_TRACK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
_PHONE_RE = re.compile(r"^[0-9+\-() ]{3,30}$")
TEXT_MAX = 5000


# ---------------------------------------------------------------------------------------------
# Pack snapshot


def policy_snapshot() -> tuple[dict, object]:
    """The complaints.* values in force now, their citations, and the PackVersion. A value the pack
    leaves blank (required, unset) is listed under "_missing" and read again when a step needs it."""
    values, sources, missing = {}, {}, []
    for name in PARAM_NAMES:
        try:
            param = policy.get(f"complaints.{name}")
        except policy.ParameterMissing:
            missing.append(name)
            values[name] = None
            continue
        values[name] = param.value
        sources[name] = param.source
    return {**values, "_sources": sources, "_missing": missing}, policy.current_version()


def param(complaint_or_policy, name: str):
    """A parameter as the case's pack set it; a value that pack left blank is read from the pack in force
    now (raising ParameterMissing while it is still unset)."""
    snapshot = getattr(complaint_or_policy, "policy", complaint_or_policy) or {}
    if name in snapshot.get("_missing", []) or name not in snapshot:
        return policy.value(f"complaints.{name}")
    return snapshot[name]


def source(complaint_or_policy, name: str) -> str:
    snapshot = getattr(complaint_or_policy, "policy", complaint_or_policy) or {}
    found = snapshot.get("_sources", {}).get(name)
    if found:
        return found
    try:
        return policy.get(f"complaints.{name}").source
    except ApiError:
        return ""


def _keys(complaint_or_policy, name: str) -> set[str]:
    return {o["key"] for o in (param(complaint_or_policy, name) or [])}


# ---------------------------------------------------------------------------------------------
# Small helpers


def _require(actor, code: str) -> None:
    if actor is None:
        return
    if not (getattr(actor, "is_authenticated", False) and actor.has_perm_code(code)):
        raise Forbidden(_("无权执行此操作：需要“%(permission)s”权限。") % {"permission": perms.ALL[code]}, details={"permission": code})


def _text(value) -> str:
    return "" if value is None else str(value).strip()


def _long_text(errors: dict, field: str, value, required: bool = False, limit: int = TEXT_MAX) -> str:
    text = _text(value)
    if required and not text:
        errors.setdefault(field, []).append(_("必填"))
    if len(text) > limit:
        errors.setdefault(field, []).append(_("不能超过 %(limit)d 个字符") % {"limit": limit})
    return text


def _raise(errors: dict) -> None:
    if errors:
        raise Invalid(_("投诉信息有误，请按提示修改"), details={"fields": errors})


def _user_model():
    from django.contrib.auth import get_user_model

    return get_user_model()


def _user_ref(value, errors: dict, field: str, *, required: bool = False):
    if value in (None, ""):
        if required:
            errors.setdefault(field, []).append(_("必填"))
        return None
    pk = getattr(value, "pk", value)
    try:
        user = _user_model().objects.filter(pk=int(pk), is_active=True).select_related("role", "department").first()
    except (TypeError, ValueError):
        user = None
    if user is None:
        errors.setdefault(field, []).append(_("用户不存在或已停用"))
    return user


def _department_ref(value, errors: dict, field: str, *, required: bool = False):
    from zhidu.org.models import Department

    if value in (None, ""):
        if required:
            errors.setdefault(field, []).append(_("必填"))
        return None
    pk = getattr(value, "pk", value)
    try:
        department = Department.objects.filter(pk=int(pk)).first()
    except (TypeError, ValueError):
        department = None
    if department is None:
        errors.setdefault(field, []).append(_("部门不存在"))
    return department


EARLIEST_MOMENT = dt.datetime(1900, 1, 1, tzinfo=dt.timezone.utc)


def _datetime(value, errors: dict, field: str):
    if value in (None, ""):
        return None
    moment = value if isinstance(value, dt.datetime) else parse_datetime(str(value))
    if moment is None:
        errors.setdefault(field, []).append(_("时间格式应为 ISO 8601，例如 2026-09-30T10:00"))
        return None
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    if moment < EARLIEST_MOMENT:
        # Moments near year 1 cannot even be converted to UTC to be stored.
        errors.setdefault(field, []).append(_("不能早于 %(year)d 年") % {"year": EARLIEST_MOMENT.year})
        return None
    if moment > timezone.now() + dt.timedelta(minutes=5):
        errors.setdefault(field, []).append(_("不能晚于现在"))
    return moment


def _amount(value, errors: dict, field: str) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        errors.setdefault(field, []).append(_("金额无效"))
        return None
    if not amount.is_finite() or amount < 0 or amount != amount.quantize(Decimal("0.01")) or amount >= Decimal("10000000000"):
        errors.setdefault(field, []).append(_("金额须为非负数，最多两位小数"))
        return None
    return amount


def _new_tracking_no(now) -> str:
    suffix = "".join(secrets.choice(_TRACK_ALPHABET) for _i in range(8))
    return f"TS{timezone.localtime(now):%Y%m%d}{suffix}"


def _event(complaint, actor, kind: str, note: str = "", public: bool = False, **data) -> ComplaintEvent:
    return ComplaintEvent.objects.create(
        complaint=complaint,
        actor=actor if getattr(actor, "is_authenticated", False) else None,
        kind=kind,
        note=note,
        public=public,
        data=audit._normalise(data) if data else {},
    )


def _audit(actor, action: str, complaint, details: dict, request=None) -> None:
    audit.record(actor, f"complaints.{action}", complaint, {"tracking_no": complaint.tracking_no, **details}, request=request)


def _priority_rank(customer_id) -> int | None:
    """The customer's priority by grade (lower = sooner), when the grading app is installed and ready."""
    if not customer_id or not django_apps.is_installed("zhidu.grading"):
        return None
    try:
        from zhidu.grading.selectors import priority_ranks
    except (ImportError, AttributeError):
        return None
    return priority_ranks([customer_id]).get(customer_id)


# ---------------------------------------------------------------------------------------------
# Loading, guarding and saving a case


def _load(actor, complaint_id, expected_version=None) -> Complaint:
    from .selectors import complaints_visible

    try:
        pk = int(complaint_id)
    except (TypeError, ValueError):
        raise NotFound(_("投诉不存在")) from None
    complaint = Complaint.objects.select_for_update().filter(pk=pk).first()
    if complaint is None or (actor is not None and not complaints_visible(actor).filter(pk=pk).exists()):
        raise NotFound(_("投诉不存在"))
    if expected_version is not None and complaint.version != int(expected_version):
        raise Conflict(_("该投诉已被他人更新，请刷新后重试"), details={"version": complaint.version, "expected_version": expected_version})
    if complaint.archived:
        raise Conflict(_("该投诉已归档，不能再办理"), code="archived")
    if actor is not None and complaint.subject_staff_id == actor.pk:
        raise Forbidden(_("被投诉人不得参与本投诉的处理"), code="subject_staff")
    return complaint


def _commit(complaint, fields: list[str]) -> Complaint:
    """Writes `fields` if nobody changed the case since it was read (compare-and-swap on version)."""
    _refresh_timers(complaint)
    fields = list(dict.fromkeys([*fields, "first_response_due", "resolution_due", "next_due_at"]))
    values = {name: getattr(complaint, name) for name in fields}
    now = timezone.now()
    updated = Complaint.objects.filter(pk=complaint.pk, version=complaint.version).update(version=F("version") + 1, updated_at=now, **values)
    if updated != 1:
        raise Conflict(_("该投诉已被他人更新，请刷新后重试"))
    complaint.version += 1
    complaint.updated_at = now
    return complaint


def _load_step(actor, complaint_id, expected_version, step: str) -> Complaint:
    """The case, locked, for `step` of its workflow: as `_load`, and not waiting for the complainant,
    the actor allowed to take the step, the case at that step."""
    complaint = _load(actor, complaint_id, expected_version)
    _not_waiting(complaint)
    _may(actor, complaint, step)
    _expect_step(complaint, step)
    return complaint


def _steps(complaint) -> list[str]:
    return list(param(complaint, "steps"))


def _previous_result(complaint, step: str) -> str:
    steps = _steps(complaint)
    index = steps.index(step)
    return STEP_RESULT[steps[index - 1]] if index > 0 else Status.REGISTERED


def _status_label(status) -> str:
    return str(Status(status).label)


def _expect_step(complaint, step: str) -> None:
    steps = _steps(complaint)
    if step not in steps:
        raise Conflict(_("本投诉适用的制度没有“%(step)s”这一步骤") % {"step": step}, code="step_not_in_pack", details={"step": step})
    wanted = _previous_result(complaint, step)
    if complaint.status != wanted:
        raise Conflict(
            _("投诉当前状态为“%(status)s”，不能办理此步骤（需为“%(wanted)s”）") % {"status": _status_label(complaint.status), "wanted": _status_label(wanted)},
            code="invalid_transition",
            details={"status": complaint.status, "required": wanted, "step": step},
        )


def _not_waiting(complaint) -> None:
    if complaint.waiting_since is not None:
        raise Conflict(_("投诉正在等待投诉人回复，请先恢复处理"), code="waiting")


def _may(actor, complaint, step: str) -> None:
    """Permission for a step: the pack's step roles when it names them, else complaints.manage for the
    deciding steps and complaints.handle (as owner or receiver, or with complaints.manage) for the others."""
    if actor is None:
        return
    roles = (param(complaint, "step_roles") or {}).get(step)
    if roles:
        role = getattr(actor, "role", None)
        if not (actor.has_perm_code(perms.COMPLAINTS_HANDLE) or actor.has_perm_code(perms.COMPLAINTS_MANAGE)) or role is None or role.code not in roles:
            raise Forbidden(_("此步骤须由制度规定的角色办理：%(roles)s") % {"roles": "、".join(roles)}, details={"roles": roles, "step": step})
        return
    if step in MANAGE_STEPS:
        _require(actor, perms.COMPLAINTS_MANAGE)
        return
    _require(actor, perms.COMPLAINTS_HANDLE)
    if actor.pk not in (complaint.owner_id, complaint.receiver_id) and not actor.has_perm_code(perms.COMPLAINTS_MANAGE):
        raise Forbidden(_("只有本投诉的受理负责人、首问负责人或投诉管理人员可以办理"))


# ---------------------------------------------------------------------------------------------
# Timers (kernel deadlines)


def _timers(complaint) -> list[dict]:
    return list(param(complaint, "deadlines") or [])


def _timer_by_key(complaint, key: str) -> dict | None:
    return next((t for t in _timers(complaint) if t["key"] == key), None)


def _policy_key(timer_key: str) -> str:
    return DEADLINE_PREFIX + timer_key


def _case_deadlines(complaint, states=None):
    qs = Deadline.objects.filter(target_type=TARGET_TYPE, target_id=str(complaint.pk))
    if states:
        qs = qs.filter(state__in=states)
    return qs


OPEN_STATES = (Deadline.State.DUE, Deadline.State.PAUSED, Deadline.State.BREACHED)


def _pending_timers(complaint):
    return PendingTimer.objects.filter(complaint_id=complaint.pk)


def _start_timer(complaint, timer: dict, start, *, defer: bool = False) -> Deadline | None:
    """Starts `timer` unless it does not apply or already runs (or waits to be computed). With `defer`, a
    timer the calendar cannot compute (CalendarDataMissing) is kept as a PendingTimer instead of failing."""
    if timer["when"] not in ("any", complaint.severity):
        return None
    key = _policy_key(timer["key"])
    if _case_deadlines(complaint, OPEN_STATES).filter(policy_key=key).exists():
        return None
    if _pending_timers(complaint).filter(key=timer["key"], met_at__isnull=True).exists():
        return None
    if not defer:
        return _begin_timer(complaint, timer, start)
    try:
        return _begin_timer(complaint, timer, start)
    except calendar.CalendarDataMissing as exc:
        PendingTimer.objects.create(complaint=complaint, key=timer["key"], start_at=start, year=exc.year)
        return None


def _begin_timer(complaint, timer: dict, start) -> Deadline:
    key = _policy_key(timer["key"])
    amount, unit = timer["amount"], timer["unit"]
    if unit == "same_day":
        local = timezone.localtime(start)
        end = timezone.make_aware(dt.datetime.combine(local.date() + dt.timedelta(days=amount + 1), dt.time()), local.tzinfo)
        amount, unit = max(1, math.ceil((end - start).total_seconds() / 60)), "minutes"
    return deadlines.deadline_start(
        complaint, key, start, amount, unit, source=source(complaint, "deadlines"),
        ladder=timer.get("ladder") or [], ladder_source=source(complaint, "deadlines"),
        title=f"{complaint.tracking_no} {timer['label']}", link=LINK.format(id=complaint.pk),
    )


def _start_timers(complaint, event: str, at=None, *, defer: bool = False) -> None:
    at = at or timezone.now()
    for timer in _timers(complaint):
        if timer["start"] == event:
            _start_timer(complaint, timer, at, defer=defer)


def _meet_timers(complaint, met_by: str, at=None) -> None:
    timer_keys = [t["key"] for t in _timers(complaint) if t["met_by"] == met_by]
    keys = [_policy_key(key) for key in timer_keys]
    for deadline in _case_deadlines(complaint, OPEN_STATES).filter(policy_key__in=keys):
        deadlines.deadline_met(deadline, at)
    _pending_timers(complaint).filter(key__in=timer_keys, met_at__isnull=True).update(met_at=at or timezone.now())


def _restart_handling_timers(complaint, at) -> None:
    """A reopened case runs again the timers of the handling it has to redo (those started at
    registration or acceptance that a step after assignment meets)."""
    later = set(_steps(complaint)[_steps(complaint).index("assign") + 1:])
    for timer in _timers(complaint):
        if timer["start"] in ("register", "accept") and timer["met_by"] in later:
            _start_timer(complaint, timer, at)


def _refresh_timers(complaint) -> None:
    rows = list(_case_deadlines(complaint).order_by("id").values("policy_key", "due_at", "state"))
    latest = {row["policy_key"]: row["due_at"] for row in rows}
    complaint.first_response_due = latest.get(_policy_key("first_response"))
    complaint.resolution_due = latest.get(_policy_key("resolution"))
    running = [row["due_at"] for row in rows if row["state"] in (Deadline.State.DUE, Deadline.State.BREACHED)]
    complaint.next_due_at = min(running) if running and complaint.is_open else None


# ---------------------------------------------------------------------------------------------
# Severity


def _evaluate_major(snapshot, complaint, reasons: list[str], errors: dict) -> list[str]:
    """The reasons that make the case major under its pack (empty: general)."""
    allowed = _keys(snapshot, "major.reasons")
    chosen = []
    for key in reasons or []:
        key = _text(key)
        if key in AUTO_MAJOR:
            continue
        if key not in allowed:
            errors.setdefault("major_reasons", []).append(_("未知的重大投诉情形：%(key)s") % {"key": key})
        elif key not in chosen:
            chosen.append(key)
    if complaint.category and complaint.category in (param(snapshot, "major.categories") or []):
        chosen.append("category")
    households = param(snapshot, "major.min_households")
    if households and (complaint.households_affected or 0) >= households:
        chosen.append("collective")
    repeat = param(snapshot, "major.repeat")
    if repeat and (complaint.customer_id or complaint.complainant_phone):
        since = timezone.now() - dt.timedelta(days=repeat["within_days"])
        same = Q(customer_id=complaint.customer_id) if complaint.customer_id else Q(complainant_phone=complaint.complainant_phone)
        earlier = Complaint.objects.filter(same, created_at__gte=since).exclude(pk=complaint.pk).count()
        if earlier + 1 >= repeat["count"]:
            chosen.append("repeat")
    return chosen


def _time_barred(snapshot, category: str, incident_at) -> bool:
    if not incident_at or not category:
        return False
    for bar in param(snapshot, "time_bars") or []:
        if category not in bar["categories"]:
            continue
        try:
            limit = calendar.add(incident_at, bar["amount"], bar["unit"])
        except calendar.CalendarDataMissing:
            # Intake never fails for lack of holiday data; an undecidable bar leaves the complaint in time.
            continue
        if limit < timezone.now():
            return True
    return False


def _set_severity(complaint, actor, reasons: list[str], at) -> bool:
    """Applies the evaluated reasons; returns True when the case has just become major."""
    became_major = bool(reasons) and complaint.severity != Severity.MAJOR
    complaint.major_reasons = reasons
    complaint.severity = Severity.MAJOR if reasons else Severity.GENERAL
    if became_major and complaint.pk:
        _start_timers(complaint, "major", at)
        for timer in _timers(complaint):
            if timer["when"] == "major" and timer["start"] == "register":
                _start_timer(complaint, timer, at)
    return became_major


# ---------------------------------------------------------------------------------------------
# Register


def _clean_intake(snapshot, data: dict, errors: dict, *, public: bool) -> dict:
    cleaned = {
        "complainant_name": _long_text(errors, "complainant_name", data.get("complainant_name"), True, 100),
        "complainant_phone": _text(data.get("complainant_phone")),
        "complainant_email": _text(data.get("complainant_email")),
        "complainant_address": _long_text(errors, "complainant_address", data.get("complainant_address"), False, 300),
        "subject": _long_text(errors, "subject", data.get("subject"), True, 200),
        "content": _long_text(errors, "content", data.get("content"), True),
        "category": _text(data.get("category")),
        "incident_at": _datetime(data.get("incident_at"), errors, "incident_at"),
    }
    phone = cleaned["complainant_phone"]
    if phone and not _PHONE_RE.match(phone):
        errors.setdefault("complainant_phone", []).append(_("电话号码格式不正确"))
    if public and not phone:
        errors.setdefault("complainant_phone", []).append(_("必填：凭电话号码查询处理进度"))
    if cleaned["complainant_email"]:
        try:
            validate_email(cleaned["complainant_email"])
        except ValidationError:
            errors.setdefault("complainant_email", []).append(_("电子邮箱格式不正确"))
    if cleaned["category"] and cleaned["category"] not in _keys(snapshot, "categories"):
        errors.setdefault("category", []).append(_("未知的投诉类别：%(key)s") % {"key": cleaned["category"]})
    return cleaned


def _new_complaint(snapshot, version, cleaned: dict, **fields) -> Complaint:
    now = timezone.now()
    complaint = Complaint(**cleaned, **fields, access_code="".join(secrets.choice(_TRACK_ALPHABET) for _i in range(8)),
                          policy=snapshot, pack_version=version)
    complaint.time_barred = _time_barred(snapshot, complaint.category, complaint.incident_at)
    for _attempt in range(5):
        complaint.tracking_no = _new_tracking_no(now)
        try:
            with transaction.atomic():
                complaint.save()
            return complaint
        except IntegrityError:
            if Complaint.objects.filter(tracking_no=complaint.tracking_no).exists():
                continue
            raise
    raise Conflict(_("生成受理编号失败，请重试"))


def _after_register(complaint, actor, request, note: str) -> Complaint:
    """Starts the registration timers. A timer the calendar cannot compute yet (no holiday data for a
    year it reaches) does not refuse the complaint: it waits as a PendingTimer, see `timers_start_pending`."""
    at = complaint.created_at
    _start_timers(complaint, "register", at, defer=True)
    if complaint.severity == Severity.MAJOR:
        _start_timers(complaint, "major", at, defer=True)
    _refresh_timers(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(
        first_response_due=complaint.first_response_due, resolution_due=complaint.resolution_due, next_due_at=complaint.next_due_at
    )
    _event(complaint, actor, "registered", note, public=True, channel=complaint.channel, severity=complaint.severity)
    _audit(actor, "registered", complaint, {"channel": complaint.channel, "category": complaint.category, "severity": complaint.severity,
                                             "major_reasons": complaint.major_reasons}, request)
    if complaint.severity == Severity.MAJOR:
        _event(complaint, actor, "major", "", reasons=complaint.major_reasons)
    _report_pending(complaint, actor, list(_pending_timers(complaint)))
    return complaint


def complaint_register(actor, data: dict, *, request=None) -> Complaint:
    """Registers a complaint received by `actor` (首问负责人). See the contract for the fields of `data`."""
    _require(actor, perms.COMPLAINTS_HANDLE)
    data = dict(data or {})
    snapshot, version = policy_snapshot()
    errors: dict = {}
    cleaned = _clean_intake(snapshot, data, errors, public=False)
    channel = _text(data.get("channel"))
    if not channel:
        errors.setdefault("channel", []).append(_("必填"))
    elif channel not in _keys(snapshot, "channels"):
        errors.setdefault("channel", []).append(_("未知的投诉方式：%(key)s") % {"key": channel})
    for name in ("complainant_type", "motive"):
        value = _text(data.get(name))
        options = "complainant_types" if name == "complainant_type" else "motives"
        if value and value not in _keys(snapshot, options):
            errors.setdefault(name, []).append(_("未知的选项：%(key)s") % {"key": value})
        cleaned[name] = value
    households = data.get("households_affected")
    if households not in (None, ""):
        try:
            households = int(households)
            if households < 1 or households > 1_000_000:
                raise ValueError
        except (TypeError, ValueError):
            errors.setdefault("households_affected", []).append(_("须为正整数"))
            households = None
    else:
        households = None
    customer = None
    if data.get("customer") not in (None, ""):
        from zhidu.customers.selectors import customers_visible

        try:
            customer = customers_visible(actor).filter(pk=int(getattr(data["customer"], "pk", data["customer"]))).first()
        except (TypeError, ValueError):
            customer = None
        if customer is None:
            errors.setdefault("customer", []).append(_("客户不存在或您无权查看"))
    subject_staff = _user_ref(data.get("subject_staff"), errors, "subject_staff")
    if subject_staff is not None and subject_staff.pk == actor.pk:
        raise Forbidden(_("被投诉人不得受理针对本人的投诉"), code="subject_staff")
    subject_department = _department_ref(data.get("subject_department"), errors, "subject_department")
    department = _department_ref(data.get("department"), errors, "department") if data.get("department") not in (None, "") else actor.department
    extra = data.get("extra") or {}
    if not isinstance(extra, dict) or len(str(extra)) > 4000:
        errors.setdefault("extra", []).append(_("须为不超过 4000 字符的键值对"))
        extra = {}
    probe = Complaint(category=cleaned["category"], households_affected=households, customer=customer, complainant_phone=cleaned["complainant_phone"])
    reasons = _evaluate_major(snapshot, probe, list(data.get("major_reasons") or []), errors)
    _raise(errors)
    with transaction.atomic():
        complaint = _new_complaint(
            snapshot, version, cleaned, channel=channel, households_affected=households, customer=customer,
            subject_staff=subject_staff, subject_department=subject_department, department=department, extra=extra,
            receiver=actor, created_by=actor, major_reasons=reasons, severity=Severity.MAJOR if reasons else Severity.GENERAL,
            priority_rank=_priority_rank(customer.pk if customer else None),
        )
        _after_register(complaint, actor, request, "")
    complaint.refresh_from_db()
    return complaint


def complaint_submit_public(data: dict, *, request=None) -> Complaint:
    """A complaint filed by the complainant on the public page (no login). The caller shows the tracking
    number and the access code."""
    data = dict(data or {})
    snapshot, version = policy_snapshot()
    channel = param(snapshot, "public_channel")
    if not channel or channel not in _keys(snapshot, "channels"):
        raise Forbidden(_("本单位未开放网上投诉，请通过电话或现场投诉"), code="public_intake_closed")
    errors: dict = {}
    cleaned = _clean_intake(snapshot, data, errors, public=True)
    probe = Complaint(category=cleaned["category"], complainant_phone=cleaned["complainant_phone"])
    reasons = _evaluate_major(snapshot, probe, [], errors)
    _raise(errors)
    with transaction.atomic():
        complaint = _new_complaint(snapshot, version, cleaned, channel=channel, major_reasons=reasons,
                                   severity=Severity.MAJOR if reasons else Severity.GENERAL)
        _after_register(complaint, None, request, _("网上提交"))
    complaint.refresh_from_db()
    return complaint


# ---------------------------------------------------------------------------------------------
# Deciding, classifying, assigning


def complaint_decide(actor, complaint_id, valid: bool, *, expected_version, reply_text: str = "", invalid_reason: str = "",
                     malicious: bool = False, category=None, major_reasons=None, request=None) -> Complaint:
    """决定投诉是否成立. Not standing: the reply to the complainant is required and the case ends."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "validity")
        errors: dict = {}
        reply = _long_text(errors, "reply_text", reply_text, required=not valid)
        invalid_reason = _text(invalid_reason)
        if not valid and invalid_reason and invalid_reason not in _keys(complaint, "invalid_reasons"):
            errors.setdefault("invalid_reason", []).append(_("未知的不成立情形：%(key)s") % {"key": invalid_reason})
        if category not in (None, ""):
            if category not in _keys(complaint, "categories"):
                errors.setdefault("category", []).append(_("未知的投诉类别：%(key)s") % {"key": category})
            complaint.category = category
        reasons = _evaluate_major(complaint, complaint, major_reasons if major_reasons is not None else complaint.major_reasons, errors)
        _raise(errors)
        now = timezone.now()
        fields = ["validity", "reply_text", "category", "major_reasons", "severity"]
        if valid:
            complaint.validity, complaint.status = Validity.VALID, Status.ACCEPTED
            complaint.reply_text = reply
            _meet_timers(complaint, "validity", now)
            _set_severity(complaint, actor, reasons, now)
            _start_timers(complaint, "accept", now)
            fields.append("status")
            _event(complaint, actor, "decided_valid", reply, public=True)
        else:
            complaint.validity, complaint.status = Validity.INVALID, Status.REJECTED
            complaint.reply_text, complaint.invalid_reason, complaint.malicious = reply, invalid_reason, bool(malicious)
            complaint.closed_at = now
            complaint.archive_after = _archive_after(complaint, now)
            complaint.severity, complaint.major_reasons = Severity.GENERAL, []
            # The reply ends the case: every running timer is fulfilled by it.
            for deadline in _case_deadlines(complaint, OPEN_STATES):
                deadlines.deadline_met(deadline, now)
            _pending_timers(complaint).filter(met_at__isnull=True).update(met_at=now)
            fields += ["status", "invalid_reason", "malicious", "closed_at", "archive_after"]
            _event(complaint, actor, "decided_invalid", reply, public=True, invalid_reason=invalid_reason, malicious=bool(malicious))
        _commit(complaint, fields)
        _audit(actor, "decided", complaint, {"valid": valid, "invalid_reason": invalid_reason, "malicious": bool(malicious),
                                            "severity": complaint.severity}, request)
    return complaint


def complaint_classify(actor, complaint_id, *, expected_version, category=None, major_reasons=None, households_affected=None,
                       complainant_type=None, motive=None, request=None) -> Complaint:
    """Corrects the classification of an open case; whether it is major is evaluated again."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        if not complaint.is_open:
            raise Conflict(_("已结束的投诉不能再分类"), code="invalid_transition")
        if actor is not None and not actor.has_perm_code(perms.COMPLAINTS_MANAGE):
            _may(actor, complaint, "investigate")
        errors: dict = {}
        before = {"category": complaint.category, "severity": complaint.severity, "major_reasons": list(complaint.major_reasons)}
        if category is not None:
            category = _text(category)
            if category and category not in _keys(complaint, "categories"):
                errors.setdefault("category", []).append(_("未知的投诉类别：%(key)s") % {"key": category})
            complaint.category = category
        if households_affected is not None:
            try:
                complaint.households_affected = int(households_affected) if households_affected != "" else None
            except (TypeError, ValueError):
                errors.setdefault("households_affected", []).append(_("须为正整数"))
        for name, options in (("complainant_type", "complainant_types"), ("motive", "motives")):
            value = locals()[name]
            if value is not None:
                value = _text(value)
                if value and value not in _keys(complaint, options):
                    errors.setdefault(name, []).append(_("未知的选项：%(key)s") % {"key": value})
                setattr(complaint, name, value)
        reasons = _evaluate_major(complaint, complaint, major_reasons if major_reasons is not None else complaint.major_reasons, errors)
        _raise(errors)
        now = timezone.now()
        became_major = _set_severity(complaint, actor, reasons, now)
        complaint.time_barred = _time_barred(complaint, complaint.category, complaint.incident_at)
        _event(complaint, actor, "classified", "", before=before, category=complaint.category, severity=complaint.severity,
               major_reasons=reasons)
        if became_major:
            _event(complaint, actor, "major", "", reasons=reasons)
        _commit(complaint, ["category", "households_affected", "complainant_type", "motive", "major_reasons", "severity", "time_barred"])
        _audit(actor, "classified", complaint, {"before": before, "category": complaint.category, "severity": complaint.severity}, request)
    return complaint


def complaint_assign(actor, complaint_id, *, department, owner, expected_version, note: str = "", request=None) -> Complaint:
    """确定受理部门和受理负责人. Also reassigns a case that is being handled."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        _not_waiting(complaint)
        _may(actor, complaint, "assign")
        reassign = complaint.status in (Status.ASSIGNED, Status.INVESTIGATED, Status.PLAN_PENDING, Status.PLAN_APPROVED, Status.CARRIED_OUT)
        if not reassign:
            _expect_step(complaint, "assign")
        errors: dict = {}
        department = _department_ref(department, errors, "department", required=True)
        owner = _user_ref(owner, errors, "owner", required=True)
        note = _long_text(errors, "note", note)
        _raise(errors)
        if owner.pk == complaint.subject_staff_id:
            raise Forbidden(_("被投诉人不得担任本投诉的受理负责人"), code="subject_staff", details={"fields": {"owner": [_("被投诉人回避")]}})
        if not owner.has_perm_code(perms.COMPLAINTS_HANDLE):
            raise Invalid(_("受理负责人须有“处理投诉”权限"), details={"fields": {"owner": [_("该用户没有处理投诉的权限")]}})
        before = {"owner": complaint.owner_id, "department": complaint.department_id}
        complaint.department, complaint.owner = department, owner
        fields = ["department", "owner"]
        if not reassign:
            complaint.status = Status.ASSIGNED
            fields.append("status")
            _meet_timers(complaint, "assign")
        _event(complaint, actor, "reassigned" if reassign else "assigned", note, public=not reassign,
               owner=owner.pk, owner_name=str(owner), department=department.pk, department_name=department.name)
        _commit(complaint, fields)
        _audit(actor, "assigned", complaint, {"before": before, "owner": owner.pk, "department": department.pk}, request)
        notify.send([owner.pk], _("投诉已分派给您：%(no)s") % {"no": complaint.tracking_no}, complaint.subject,
                    link=LINK.format(id=complaint.pk), category="complaints")
    return complaint


# ---------------------------------------------------------------------------------------------
# Handling


def complaint_investigate(actor, complaint_id, *, cause, expected_version, findings: str = "", loopholes: str = "",
                          responsible_user=None, responsible_department=None, penalty_amount=None, request=None) -> Investigation:
    """查明投诉的具体原因及具体职责人. Attributing a standing complaint to a staff member proposes the pack's
    penalty (complaints.penalty) for approval."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "investigate")
        errors: dict = {}
        cause = _long_text(errors, "cause", cause, required=True)
        findings = _long_text(errors, "findings", findings)
        loopholes = _long_text(errors, "loopholes", loopholes)
        responsible = _user_ref(responsible_user, errors, "responsible_user")
        responsible_department = _department_ref(responsible_department, errors, "responsible_department")
        amount = _amount(penalty_amount, errors, "penalty_amount")
        _raise(errors)
        investigation = Investigation.objects.create(
            complaint=complaint, round=complaint.round, cause=cause, findings=findings, loopholes=loopholes,
            responsible_user=responsible, responsible_department=responsible_department, investigated_by=actor,
        )
        complaint.status = Status.INVESTIGATED
        _meet_timers(complaint, "investigate")
        _event(complaint, actor, "investigated", cause, responsible_user=responsible.pk if responsible else None,
               responsible_department=responsible_department.pk if responsible_department else None)
        if responsible is not None and complaint.validity == Validity.VALID and param(complaint, "penalty"):
            _penalty_create(actor, complaint, responsible, amount, _("投诉 %(no)s 经调查归属责任") % {"no": complaint.tracking_no})
        _commit(complaint, ["status"])
        _audit(actor, "investigated", complaint, {"responsible_user": responsible.pk if responsible else None, "round": complaint.round}, request)
    return investigation


def _remedy_chain(complaint, amount: Decimal):
    for row in param(complaint, "remedy.chains"):
        if row["severity"] not in ("any", complaint.severity):
            continue
        if row.get("max_amount") is None or amount <= Decimal(str(row["max_amount"])):
            return row["chain"]
    raise Invalid(_("权限核决表中没有覆盖该金额的审批链：%(amount)s 元") % {"amount": amount},
                  details={"fields": {"compensation": [_("超出权限核决表的范围")]}})


def complaint_propose_remedy(actor, complaint_id, *, description, expected_version, compensation=0, request=None) -> RemedyPlan:
    """提出处理方案并报批: the chain comes from the authority matrix by severity and compensation."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "remedy")
        errors: dict = {}
        description = _long_text(errors, "description", description, required=True)
        amount = _amount(compensation, errors, "compensation") or Decimal("0")
        _raise(errors)
        chain = _remedy_chain(complaint, amount)
        plan = RemedyPlan.objects.create(complaint=complaint, round=complaint.round, description=description, compensation=amount, proposed_by=actor)
        if chain:
            plan.approval = approvals.start(
                KIND_REMEDY, plan, actor, chain, chain_source=source(complaint, "remedy.chains"),
                title=_("投诉处理方案 %(no)s") % {"no": complaint.tracking_no},
                payload={"complaint": complaint.pk, "compensation": str(amount)},
            )
            plan.save(update_fields=["approval"])
            complaint.status = Status.PLAN_PENDING
        else:
            # The regulation names no approver for the plan: it stands as proposed.
            plan.state, plan.decided_at = Decision.APPROVED, timezone.now()
            plan.save(update_fields=["state", "decided_at"])
            complaint.status = Status.PLAN_APPROVED
        _meet_timers(complaint, "remedy")
        _event(complaint, actor, "remedy_proposed", description, plan=plan.pk, compensation=str(amount), approval=plan.approval_id,
               chain=[step["role"] for step in chain])
        _commit(complaint, ["status"])
        _audit(actor, "remedy_proposed", complaint, {"plan": plan.pk, "compensation": str(amount), "approval": plan.approval_id}, request)
    return plan


def complaint_carry_out(actor, complaint_id, *, note, expected_version, request=None) -> Complaint:
    """实施处理方案."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "carry_out")
        errors: dict = {}
        note = _long_text(errors, "note", note, required=True)
        _raise(errors)
        now = timezone.now()
        plan = complaint.remedies.filter(round=complaint.round, state=Decision.APPROVED, carried_out_at__isnull=True).order_by("-id").first()
        if plan is not None:
            plan.carried_out_at, plan.carry_out_note = now, note
            plan.save(update_fields=["carried_out_at", "carry_out_note"])
        complaint.status = Status.CARRIED_OUT
        _meet_timers(complaint, "carry_out", now)
        _start_timers(complaint, "carry_out", now)
        _event(complaint, actor, "carried_out", note, plan=plan.pk if plan else None)
        _commit(complaint, ["status"])
        _audit(actor, "carried_out", complaint, {"plan": plan.pk if plan else None, "round": complaint.round}, request)
    return complaint


def complaint_inform(actor, complaint_id, *, message, expected_version, request=None) -> Complaint:
    """通知客户处理结果 (the message is shown to the complainant on the tracking page)."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "inform")
        errors: dict = {}
        message = _long_text(errors, "message", message, required=True)
        _raise(errors)
        now = timezone.now()
        complaint.status = Status.INFORMED
        _meet_timers(complaint, "inform", now)
        _start_timers(complaint, "inform", now)
        _event(complaint, actor, "informed", message, public=True)
        _commit(complaint, ["status"])
        _audit(actor, "informed", complaint, {"round": complaint.round}, request)
    return complaint


def complaint_return_visit(actor, complaint_id, *, satisfied: bool, expected_version, note: str = "", request=None) -> ReturnVisit:
    """回访: satisfied → ready to close; not satisfied → handled again (another round), escalating after
    the pack's number of unsatisfied rounds."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "return_visit")
        errors: dict = {}
        note = _long_text(errors, "note", note, required=not satisfied)
        _raise(errors)
        now = timezone.now()
        role = getattr(getattr(actor, "role", None), "code", "")
        visit = ReturnVisit.objects.create(complaint=complaint, round=complaint.round, visited_by=actor, role_code=role, satisfied=bool(satisfied), note=note)
        _meet_timers(complaint, "return_visit", now)
        fields = ["status"]
        if satisfied:
            complaint.status = Status.SATISFIED
            _event(complaint, actor, "return_visit", note, public=True, satisfied=True)
        else:
            _event(complaint, actor, "return_visit", note, public=True, satisfied=False)
            fields += _reopen(complaint, actor, _("回访不满意，重新处理"), now)
        _commit(complaint, fields)
        _audit(actor, "return_visit", complaint, {"satisfied": bool(satisfied), "round": visit.round}, request)
    return visit


def _reopen(complaint, actor, reason: str, now) -> list[str]:
    complaint.status = Status.ASSIGNED
    complaint.round += 1
    complaint.closed_at = None
    complaint.archive_after = None
    _restart_handling_timers(complaint, now)
    _event(complaint, actor, "reopened", reason, public=True, round=complaint.round)
    fields = ["round", "closed_at", "archive_after"]
    rule = param(complaint, "return_visit") or {}
    rounds_again = complaint.round - 1  # times the case has been handled again (unsatisfied visits, reopenings)
    limit = rule.get("escalate_after")
    if limit and rounds_again >= limit and complaint.escalated_at is None:
        complaint.escalated_at = now
        fields.append("escalated_at")
        roles = rule.get("notify") or []
        users = set(_user_model().objects.filter(role__code__in=[r for r in roles if r not in ("owner", "manager")], is_active=True)
                    .values_list("pk", flat=True))
        for who in {"owner", "manager"} & set(roles):
            users.update(resolve_people(who, [str(complaint.pk)]).get(str(complaint.pk), []))
        users = sorted(users)
        _event(complaint, actor, "escalated", _("已重新处理 %(n)d 次，升级上报") % {"n": rounds_again}, roles=roles, users=users)
        notify.send(users, _("投诉升级：%(no)s") % {"no": complaint.tracking_no},
                    _("已重新处理 %(n)d 次（依据：%(source)s）") % {"n": rounds_again, "source": source(complaint, "return_visit")},
                    link=LINK.format(id=complaint.pk), category="complaints")
    return fields


def complaint_reopen(actor, complaint_id, *, reason, expected_version, request=None) -> Complaint:
    """Handles an informed, satisfied or closed case again (another round)."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        _not_waiting(complaint)
        _may(actor, complaint, "reopen")
        if complaint.status not in (Status.INFORMED, Status.SATISFIED, Status.CLOSED):
            raise Conflict(_("只有已告知客户、客户满意或已结案的投诉可以重新处理"), code="invalid_transition", details={"status": complaint.status})
        errors: dict = {}
        reason = _long_text(errors, "reason", reason, required=True)
        _raise(errors)
        fields = ["status", *_reopen(complaint, actor, reason, timezone.now())]
        _commit(complaint, fields)
        _audit(actor, "reopened", complaint, {"round": complaint.round, "reason": reason}, request)
    return complaint


REPORT_KINDS = {"post_handling": "report", "major_warning": "major_report"}


def complaint_report(actor, complaint_id, *, kind: str, text, expected_version, request=None) -> Complaint:
    """Records a report the regulation requires: "post_handling" (处理后报告/结果反馈) or "major_warning"
    (重大投诉预警报备); fulfils the timers the pack ties to it."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        if kind not in REPORT_KINDS:
            raise Invalid(_("未知的报告类型"), details={"fields": {"kind": [_("应为 post_handling 或 major_warning")]}})
        _may(actor, complaint, "investigate")
        if kind == "major_warning" and complaint.severity != Severity.MAJOR:
            raise Conflict(_("只有重大投诉需要预警报备"), code="invalid_transition")
        if kind == "post_handling" and complaint.status in (Status.REGISTERED, Status.ACCEPTED, Status.REJECTED):
            raise Conflict(_("投诉尚未处理，不能提交处理报告"), code="invalid_transition")
        errors: dict = {}
        text = _long_text(errors, "text", text, required=True)
        _raise(errors)
        _meet_timers(complaint, REPORT_KINDS[kind])
        _event(complaint, actor, REPORT_KINDS[kind], text)
        _commit(complaint, [])
        _audit(actor, "reported", complaint, {"kind": kind}, request)
    return complaint


def complaint_close(actor, complaint_id, *, summary, expected_version, corrective_actions: str = "", preventive_actions: str = "",
                    request=None) -> Complaint:
    """结案 with the summary (总结评价) and corrective and preventive actions."""
    with transaction.atomic():
        complaint = _load_step(actor, complaint_id, expected_version, "close")
        errors: dict = {}
        complaint.closing_summary = _long_text(errors, "summary", summary, required=True)
        complaint.corrective_actions = _long_text(errors, "corrective_actions", corrective_actions)
        complaint.preventive_actions = _long_text(errors, "preventive_actions", preventive_actions)
        _raise(errors)
        now = timezone.now()
        complaint.status, complaint.closed_at = Status.CLOSED, now
        complaint.archive_after = _archive_after(complaint, now)
        _meet_timers(complaint, "close", now)
        _event(complaint, actor, "closed", "", public=True)
        _commit(complaint, ["status", "closed_at", "archive_after", "closing_summary", "corrective_actions", "preventive_actions"])
        _audit(actor, "closed", complaint, {"round": complaint.round}, request)
    return complaint


def _archive_after(complaint, closed_at):
    rule = param(complaint, "archive_after")
    if rule["unit"] == "year_end":
        local = timezone.localtime(closed_at)
        return timezone.make_aware(dt.datetime(local.year + 1 + rule["amount"], 1, 1), local.tzinfo)
    return calendar.add(closed_at, rule["amount"], rule["unit"])


# ---------------------------------------------------------------------------------------------
# Waiting for the complainant


def complaint_wait_for_complainant(actor, complaint_id, *, note, expected_version, request=None) -> Complaint:
    """Stops the running clocks while the complainant is asked for something."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        _may(actor, complaint, "investigate")
        if not complaint.is_open:
            raise Conflict(_("已结束的投诉不能暂停"), code="invalid_transition")
        if complaint.waiting_since is not None:
            raise Conflict(_("投诉已在等待投诉人回复"), code="waiting")
        errors: dict = {}
        note = _long_text(errors, "note", note, required=True)
        _raise(errors)
        now = timezone.now()
        for deadline in _case_deadlines(complaint, [Deadline.State.DUE]):
            deadlines.deadline_pause(deadline, now)
        _pending_timers(complaint).filter(met_at__isnull=True, paused_at__isnull=True).update(paused_at=now)
        complaint.waiting_since = now
        _event(complaint, actor, "waiting", note, public=True)
        _commit(complaint, ["waiting_since"])
        _audit(actor, "waiting", complaint, {}, request)
    return complaint


def complaint_resume(actor, complaint_id, *, expected_version, note: str = "", request=None) -> Complaint:
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        _may(actor, complaint, "investigate")
        if complaint.waiting_since is None:
            raise Conflict(_("投诉没有在等待投诉人"), code="invalid_transition")
        errors: dict = {}
        note = _long_text(errors, "note", note)
        _raise(errors)
        now = timezone.now()
        for deadline in _case_deadlines(complaint, [Deadline.State.PAUSED]):
            deadlines.deadline_resume(deadline, now)
        for row in _pending_timers(complaint).filter(paused_at__isnull=False, met_at__isnull=True):
            row.paused_total += max(now - row.paused_at, dt.timedelta(0))
            row.paused_at = None
            row.save(update_fields=["paused_total", "paused_at"])
        waited = now - complaint.waiting_since
        complaint.waiting_since = None
        _event(complaint, actor, "resumed", note, public=True, waited_seconds=int(waited.total_seconds()))
        _commit(complaint, ["waiting_since"])
        _audit(actor, "resumed", complaint, {"waited_seconds": int(waited.total_seconds())}, request)
    return complaint


# ---------------------------------------------------------------------------------------------
# Extension of the resolution time limit


def complaint_request_extension(actor, complaint_id, *, amount: int, reason, expected_version, request=None) -> ExtensionRequest:
    """特殊情况延长处理时限: `amount` is the new total limit (in the pack's extension unit), at most the
    pack's maximum; approved through the pack's chain, it moves the resolution due time."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, expected_version)
        _may(actor, complaint, "investigate")
        rule = param(complaint, "extension")
        if not rule:
            raise Conflict(_("本投诉适用的制度不允许延长处理时限"), code="extension_not_allowed")
        deadline = _case_deadlines(complaint, OPEN_STATES).filter(policy_key=_policy_key("resolution")).first()
        if deadline is None or not complaint.is_open:
            raise Conflict(_("没有正在计时的处理时限"), code="invalid_transition")
        if complaint.extensions.filter(state=Decision.PENDING).exists():
            raise Conflict(_("已有待审批的延期申请"), code="extension_pending")
        errors: dict = {}
        reason = _long_text(errors, "reason", reason, required=True)
        try:
            amount = int(amount)
        except (TypeError, ValueError):
            errors.setdefault("amount", []).append(_("须为整数"))
            amount = 0
        if amount > rule["max_amount"]:
            errors.setdefault("amount", []).append(_("最长不超过 %(max)d（%(unit)s）") % {"max": rule["max_amount"], "unit": rule["unit"]})
        elif deadline.unit == rule["unit"] and amount <= deadline.amount:
            errors.setdefault("amount", []).append(_("须长于现在的时限 %(amount)d（%(unit)s）") % {"amount": deadline.amount, "unit": deadline.unit})
        elif amount < 1:
            errors.setdefault("amount", []).append(_("须为正整数"))
        _raise(errors)
        extension = ExtensionRequest.objects.create(complaint=complaint, amount=amount, unit=rule["unit"], reason=reason, requested_by=actor)
        extension.approval = approvals.start(
            KIND_EXTENSION, extension, actor, rule["chain"], chain_source=source(complaint, "extension"),
            title=_("投诉延期 %(no)s") % {"no": complaint.tracking_no},
            payload={"complaint": complaint.pk, "amount": amount, "unit": rule["unit"]},
        )
        extension.save(update_fields=["approval"])
        _event(complaint, actor, "extension_requested", reason, amount=amount, unit=rule["unit"], extension=extension.pk)
        _commit(complaint, [])
        _audit(actor, "extension_requested", complaint, {"amount": amount, "unit": rule["unit"]}, request)
    return extension


def _extend_resolution(complaint, extension) -> None:
    deadline = Deadline.objects.select_for_update().filter(
        target_type=TARGET_TYPE, target_id=str(complaint.pk), policy_key=_policy_key("resolution"), state__in=OPEN_STATES
    ).first()
    if deadline is None:
        return
    deadlines.deadline_extend(deadline, extension.amount, extension.unit,
                              source=deadline.source + " | " + _("延期已批准") + f" #{extension.approval_id}")


# ---------------------------------------------------------------------------------------------
# Penalties


def _penalty_create(actor, complaint, staff, amount: Decimal | None, reason: str) -> Penalty:
    rule = param(complaint, "penalty")
    if not rule:
        raise Conflict(_("本投诉适用的制度没有投诉责任处罚"), code="no_penalty_rule")
    low, high = Decimal(str(rule["min"])), (Decimal(str(rule["max"])) if rule.get("max") is not None else None)
    if amount is None:
        if rule.get("default") is not None:
            amount = Decimal(str(rule["default"]))
        elif high is not None and high == low:
            amount = low
        else:
            span = f"{low}–{high}" if high is not None else f"≥{low}"
            raise Invalid(_("请填写处罚金额（制度规定 %(span)s %(unit)s）") % {"span": span, "unit": rule["unit"]},
                          details={"fields": {"penalty_amount": [_("必填：%(span)s") % {"span": span}]}})
    if amount < low or (high is not None and amount > high):
        span = f"{low}–{high}" if high is not None else f"≥{low}"
        raise Invalid(_("处罚金额须在制度规定的范围内：%(span)s") % {"span": span}, details={"fields": {"penalty_amount": [span]}})
    if staff.pk == getattr(actor, "pk", None):
        raise Forbidden(_("不能对本人提出处罚"))
    citation = source(complaint, "penalty")[:300] or "complaints.penalty"
    penalty = Penalty.objects.create(complaint=complaint, staff=staff, amount=amount, unit=rule["unit"], reason=reason[:300],
                                     citation=citation, proposed_by=actor if getattr(actor, "is_authenticated", False) else None)
    penalty.approval = approvals.start(
        KIND_PENALTY, penalty, actor, rule["chain"], chain_source=citation,
        title=_("投诉责任处罚 %(no)s：%(staff)s") % {"no": complaint.tracking_no, "staff": staff},
        payload={"complaint": complaint.pk, "staff": staff.pk, "amount": str(amount), "unit": rule["unit"]},
    )
    penalty.save(update_fields=["approval"])
    _event(complaint, actor, "penalty_proposed", reason, penalty=penalty.pk, staff=staff.pk, amount=str(amount), unit=rule["unit"])
    return penalty


def penalty_propose(actor, complaint_id, *, staff, amount=None, reason: str = "", request=None) -> Penalty:
    """Proposes the pack's penalty on a staff member a standing complaint is attributed to."""
    with transaction.atomic():
        complaint = _load(actor, complaint_id, None)
        _may(actor, complaint, "investigate")
        if complaint.validity != Validity.VALID:
            raise Conflict(_("只有成立的投诉才能追究责任"), code="invalid_transition")
        errors: dict = {}
        staff = _user_ref(staff, errors, "staff", required=True)
        amount = _amount(amount, errors, "penalty_amount")
        reason = _long_text(errors, "reason", reason, limit=250)
        _raise(errors)
        penalty = _penalty_create(actor, complaint, staff, amount, reason or _("投诉 %(no)s 责任归属") % {"no": complaint.tracking_no})
        _commit(complaint, [])
        _audit(actor, "penalty_proposed", complaint, {"penalty": penalty.pk, "staff": staff.pk, "amount": str(penalty.amount)}, request)
    return penalty


# ---------------------------------------------------------------------------------------------
# Approvals


def _complaint_of(request: ApprovalRequest) -> Complaint | None:
    complaint_id = (request.payload or {}).get("complaint")
    return Complaint.objects.select_for_update().filter(pk=complaint_id).first() if complaint_id else None


def approval_decide(actor, approval_id, approve: bool, *, comment: str = "", expected_version=None, request=None) -> ApprovalRequest:
    """Decides the current step of a complaints approval (remedy plan, extension, penalty). The person
    complained about, and the staff member a penalty is on, may not decide."""
    approval = ApprovalRequest.objects.filter(pk=approval_id, kind__in=KINDS).first()
    if approval is None:
        raise NotFound(_("审批申请不存在"))
    complaint = Complaint.objects.filter(pk=(approval.payload or {}).get("complaint")).first()
    if complaint is not None and complaint.subject_staff_id == actor.pk:
        raise Forbidden(_("被投诉人不得审批本投诉的事项"), code="subject_staff")
    if approval.kind == KIND_PENALTY and str((approval.payload or {}).get("staff")) == str(actor.pk):
        raise Forbidden(_("不能审批对本人的处罚"), code="own_penalty")
    return approvals.decide(approval.pk, actor, approve, comment, expected_version=expected_version)


def _decider(request: ApprovalRequest):
    decision = request.decisions.order_by("-id").select_related("decided_by").first()
    return decision.decided_by if decision else None


def _check_deciders(request: ApprovalRequest, complaint) -> None:
    deciders = set(request.decisions.values_list("decided_by_id", flat=True))
    if complaint is not None and complaint.subject_staff_id in deciders:
        raise Forbidden(_("被投诉人不得审批本投诉的事项"), code="subject_staff")


def _bump(complaint, **changes) -> None:
    _refresh_timers(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(
        version=F("version") + 1, updated_at=timezone.now(), first_response_due=complaint.first_response_due,
        resolution_due=complaint.resolution_due, next_due_at=complaint.next_due_at, **changes,
    )


def _on_remedy(request: ApprovalRequest, approved: bool) -> None:
    plan = RemedyPlan.objects.select_for_update().get(pk=request.target_id)
    complaint = _complaint_of(request)
    _check_deciders(request, complaint)
    actor = _decider(request)
    plan.state = Decision.APPROVED if approved else Decision.REJECTED
    plan.decided_at = timezone.now()
    plan.save(update_fields=["state", "decided_at"])
    changes = {}
    if complaint.status == Status.PLAN_PENDING:
        changes["status"] = Status.PLAN_APPROVED if approved else _previous_result(complaint, "remedy")
        complaint.status = changes["status"]
    _event(complaint, actor, "remedy_approved" if approved else "remedy_rejected", request.decisions.order_by("-id").first().comment,
           plan=plan.pk, approval=request.pk)
    _bump(complaint, **changes)
    audit.record(actor, "complaints.remedy_approved" if approved else "complaints.remedy_rejected", complaint,
                 {"tracking_no": complaint.tracking_no, "plan": plan.pk, "approval": request.pk})


def _on_extension(request: ApprovalRequest, approved: bool) -> None:
    extension = ExtensionRequest.objects.select_for_update().get(pk=request.target_id)
    complaint = _complaint_of(request)
    _check_deciders(request, complaint)
    actor = _decider(request)
    extension.state = Decision.APPROVED if approved else Decision.REJECTED
    extension.decided_at = timezone.now()
    extension.save(update_fields=["state", "decided_at"])
    if approved:
        _extend_resolution(complaint, extension)
    _event(complaint, actor, "extension_approved" if approved else "extension_rejected", "", amount=extension.amount,
           unit=extension.unit, extension=extension.pk)
    _bump(complaint)
    audit.record(actor, "complaints.extension_approved" if approved else "complaints.extension_rejected", complaint,
                 {"tracking_no": complaint.tracking_no, "extension": extension.pk, "amount": extension.amount, "unit": extension.unit})


def _on_penalty(request: ApprovalRequest, approved: bool) -> None:
    penalty = Penalty.objects.select_for_update().get(pk=request.target_id)
    complaint = _complaint_of(request)
    _check_deciders(request, complaint)
    actor = _decider(request)
    penalty.state = Decision.APPROVED if approved else Decision.REJECTED
    penalty.decided_at = timezone.now()
    fields = ["state", "decided_at"]
    if approved:
        penalty.ledger_entry = ledger.post(
            f"staff:{penalty.staff_id}", ledger.period_of(), -penalty.amount, penalty.unit, penalty.reason, penalty.citation,
            source=penalty, actor=actor,
        )
        fields.append("ledger_entry")
        notify.send([penalty.staff_id], _("投诉责任处罚：%(no)s") % {"no": complaint.tracking_no},
                    _("%(amount)s %(unit)s；事由：%(reason)s；依据：%(citation)s")
                    % {"amount": penalty.amount, "unit": penalty.unit, "reason": penalty.reason, "citation": penalty.citation},
                    link="/complaints/penalties/", category="complaints")
    penalty.save(update_fields=fields)
    _event(complaint, actor, "penalty_approved" if approved else "penalty_rejected", penalty.reason, penalty=penalty.pk,
           staff=penalty.staff_id, amount=str(penalty.amount), unit=penalty.unit)
    _bump(complaint)


def register_approval_handlers() -> None:
    approvals.register(KIND_REMEDY, lambda r: _on_remedy(r, True), lambda r: _on_remedy(r, False))
    approvals.register(KIND_EXTENSION, lambda r: _on_extension(r, True), lambda r: _on_extension(r, False))
    approvals.register(KIND_PENALTY, lambda r: _on_penalty(r, True), lambda r: _on_penalty(r, False))


# ---------------------------------------------------------------------------------------------
# Deadline resolver ("owner" / "manager" of a case for escalation ladders)


def resolve_people(who: str, target_ids: list[str]) -> dict[str, list[int]]:
    rows = list(Complaint.objects.filter(pk__in=[int(i) for i in target_ids]).values("pk", "owner_id", "receiver_id", "department__path"))
    if who == "owner":
        return {str(r["pk"]): [u for u in [r["owner_id"] or r["receiver_id"]] if u] for r in rows}
    paths = {r["department__path"] for r in rows if r["department__path"]}
    ancestor_ids = {int(part) for path in paths for part in path.strip("/").split("/") if part.isdigit()}
    managers: dict[int, list[int]] = {}
    for user_id, department_id in _user_model().objects.filter(role__code="dept_manager", is_active=True, department_id__in=ancestor_ids).values_list("pk", "department_id"):
        managers.setdefault(department_id, []).append(user_id)
    fallback = list(_user_model().objects.filter(role__code="quality_manager", is_active=True).values_list("pk", flat=True))
    result = {}
    for r in rows:
        found = []
        path = r["department__path"] or ""
        # Nearest department upwards that has a manager.
        for part in reversed([p for p in path.strip("/").split("/") if p.isdigit()]):
            if managers.get(int(part)):
                found = managers[int(part)]
                break
        result[str(r["pk"])] = found or fallback
    return result


def register_deadline_resolver() -> None:
    deadlines.register_resolver(TARGET_TYPE, resolve_people)


# ---------------------------------------------------------------------------------------------
# Archiving


def complaints_archive_due(now=None) -> int:
    """Archives every finished case whose archive time has come, in one UPDATE."""
    now = now or timezone.now()
    with transaction.atomic():
        count = Complaint.objects.filter(archived=False, status__in=[Status.CLOSED, Status.REJECTED], archive_after__lte=now).update(
            archived=True, archived_at=now, version=F("version") + 1, updated_at=now
        )
        if count:
            audit.record(None, "complaints.archived", None, {"count": count, "at": now.isoformat()})
    return count


# ---------------------------------------------------------------------------------------------
# Timers waiting for holiday data
#
# A complaint is never refused because the working-day calendar lacks a year (CalendarDataMissing):
# registration keeps each timer it cannot compute as a PendingTimer, tells the calendar managers once,
# and `timers_start_pending` (job complaints.timers.start_pending, also run as soon as a year is entered)
# starts them from the registration time once the year is there.

GAP_REMINDER = dt.timedelta(days=1)


def calendar_page() -> str:
    from django.urls import NoReverseMatch, reverse

    try:
        return reverse("kernel:calendar")
    except NoReverseMatch:
        return "/kernel/calendar/"


def _notify_calendar_gap(year: int) -> int:
    """Asks the holders of calendar.manage to enter `year`: one notification each, not one per complaint
    (a holder who still has an unread one, or got one less than a day ago, is not told again)."""
    from zhidu.org.selectors import roles_with_permission

    ids = set(_user_model().objects.filter(is_active=True, role_id__in=roles_with_permission(perms.CALENDAR_MANAGE))
              .values_list("pk", flat=True))
    if not ids:
        return 0
    category = f"calendar.missing.{year}"
    told = Notification.objects.filter(user_id__in=ids, category=category).filter(
        Q(read_at__isnull=True) | Q(created_at__gte=timezone.now() - GAP_REMINDER)
    )
    ids -= set(told.values_list("user_id", flat=True))
    if not ids:
        return 0
    page = calendar_page()
    title = _("请录入 %(year)s 年节假日安排") % {"year": year}
    body = _(
        "投诉的处理时限需要 %(year)s 年的节假日安排才能按工作日计算，已登记为“待计算”，投诉照常受理。请在“节假日日历”页面"
        "（%(page)s）录入 %(year)s 年的放假与调休安排；录入后，待计算的时限自动从登记时起开始计时。"
    ) % {"year": year, "page": page}
    return notify.send(sorted(ids), title, body, link=page, category=category)


def _report_pending(complaint, actor, rows: list[PendingTimer]) -> None:
    """One timeline line per missing year, and the calendar managers told."""
    by_year: dict[int, list[str]] = {}
    for row in rows:
        timer = _timer_by_key(complaint, row.key) or {}
        by_year.setdefault(row.year, []).append(timer.get("label") or row.key)
    for year, labels in sorted(by_year.items()):
        _event(complaint, actor, "timers_pending",
               _("时限待计算：缺少 %(year)s 年节假日安排（%(timers)s）") % {"year": year, "timers": "、".join(labels)},
               year=year, timers=[row.key for row in rows if row.year == year])
        _notify_calendar_gap(year)


def _replay_pending(deadline: Deadline, row: PendingTimer) -> None:
    """Brings a timer started late to where it would be had it started on time: shifted by the time the
    case waited for the complainant, paused if it still waits, met (late or not) if its step was taken."""
    if row.paused_total:
        deadline.due_at += row.paused_total
        if deadline.next_escalation_at is not None:
            deadline.next_escalation_at += row.paused_total
        deadline.paused_total = row.paused_total
    # The clock ran until the step was taken or the case began waiting, whichever came first.
    stopped = min((t for t in (row.met_at, row.paused_at) if t is not None), default=None)
    if stopped is not None and deadline.due_at < stopped:
        deadline.breached_at = deadline.due_at
    if row.met_at is not None:
        deadline.state, deadline.met_at, deadline.next_escalation_at = Deadline.State.MET, row.met_at, None
    elif deadline.breached_at is not None:
        deadline.state = Deadline.State.BREACHED
    elif row.paused_at is not None:
        deadline.state, deadline.paused_at = Deadline.State.PAUSED, row.paused_at
    deadline.save(update_fields=["due_at", "next_escalation_at", "paused_total", "breached_at", "state", "met_at", "paused_at"])


def _start_pending(complaint_id) -> int:
    complaint = Complaint.objects.select_for_update().filter(pk=complaint_id).first()
    if complaint is None:
        return 0
    started, still_missing = [], []
    for row in PendingTimer.objects.select_for_update().filter(complaint_id=complaint_id).order_by("id"):
        timer = _timer_by_key(complaint, row.key)
        if timer is None:
            row.delete()
            continue
        try:
            with transaction.atomic():
                deadline = _begin_timer(complaint, timer, row.start_at)
        except calendar.CalendarDataMissing as exc:
            if exc.year != row.year:  # the year came, but the timer reaches into the next missing one
                row.year = exc.year
                row.save(update_fields=["year"])
                still_missing.append(row)
            continue
        except Conflict:
            # Fulfilled while waiting and started afresh since (a reopened case): the running timer counts.
            row.delete()
            continue
        _replay_pending(deadline, row)
        row.delete()
        started.append((timer, deadline))
    if still_missing:
        _report_pending(complaint, None, still_missing)
    if not started:
        return 0
    _refresh_timers(complaint)
    Complaint.objects.filter(pk=complaint.pk).update(
        first_response_due=complaint.first_response_due, resolution_due=complaint.resolution_due, next_due_at=complaint.next_due_at
    )
    due = "；".join(
        _("%(timer)s应于 %(due)s 前完成") % {"timer": timer.get("label") or timer["key"],
                                       "due": timezone.localtime(deadline.due_at).strftime("%Y-%m-%d %H:%M")}
        for timer, deadline in started
    )
    _event(complaint, None, "timers_started", _("时限开始计算：%(timers)s") % {"timers": due},
           timers=[timer["key"] for timer, _deadline in started])
    _audit(None, "timers_started", complaint, {"timers": {timer["key"]: deadline.due_at.isoformat() for timer, deadline in started}})
    return len(started)


def timers_start_pending(now=None) -> tuple[int, int]:
    """Starts every pending timer whose missing year the calendar now covers, counted from its original
    start (the registration time). Reads only the PendingTimer rows of covered years, by the (year,
    complaint) index; each case in its own transaction. Returns (timers started, timers still pending)."""
    covered = set(calendar.covered_years())
    years = [year for year in PendingTimer.objects.order_by().values_list("year", flat=True).distinct() if year in covered]
    started = 0
    if years:
        complaint_ids = list(PendingTimer.objects.filter(year__in=years).order_by("complaint_id").values_list("complaint_id", flat=True).distinct())
        for complaint_id in complaint_ids:
            with transaction.atomic():
                started += _start_pending(complaint_id)
    return started, PendingTimer.objects.count()
