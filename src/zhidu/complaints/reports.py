"""Reads for the complaint pages that the case selectors do not give: labels and choices from the
pack, the case page's rows (timeline, time limits, escalation, approvals, the register sheet), and
the statistics of the dashboard and the weekly / monthly reports.

Every statistic starts from `selectors.complaints_filtered(user, …)`, so it covers exactly the cases
the viewer may see (data scope), and is a handful of GROUP BY queries over that set — never a loop
over cases."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal

from django.db.models import CharField, Count, F, Max, Q, Sum
from django.db.models.functions import Cast, TruncDate, TruncMonth
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zhidu.kernel import approvals, policy
from zhidu.kernel.errors import ApiError
from zhidu.kernel.models import Deadline
from zhidu.org import permissions as perms
from zhidu.org import selectors as org_selectors
from zhidu.org.models import Department, User

from . import selectors, services
from .forms import option_label
from .models import Decision, Investigation, Penalty, ReturnVisit, Severity, Status, Validity

OPTION_NAMES = (
    "channels", "categories", "complainant_types", "motives", "invalid_reasons", "major.reasons", "major.min_households",
    "severity_labels", "penalty", "extension", "deadlines", "steps", "public_channel",
)  # fmt: skip
REPEAT_MIN = 2
TOP_REPEATS = 20


# ---------------------------------------------------------------- pack options and labels


def current_options() -> dict:
    """The complaints.* values in force now (a value the pack leaves unset is None)."""
    values = {}
    for name in OPTION_NAMES:
        try:
            values[name] = policy.value(f"complaints.{name}")
        except ApiError:
            values[name] = None
    return values


def case_options(complaint) -> dict:
    """The values of the pack the case was registered under."""
    values = {}
    for name in OPTION_NAMES:
        try:
            values[name] = services.param(complaint, name)
        except ApiError:
            values[name] = None
    return values


def _english() -> bool:
    return (get_language() or "").startswith("en")


def severity_choices() -> list[tuple[str, str]]:
    """The severities with the names the pack in force gives them (S23: 一般性/恶性); in English the
    catalogue's names, as packs give no English for these."""
    labels = {} if _english() else current_options().get("severity_labels") or {}
    return [(value, labels.get(value) or str(label)) for value, label in Severity.choices]


def severity_text(complaint) -> str:
    if _english():
        return str(Severity(complaint.severity).label) if complaint.severity in Severity.values else complaint.severity
    return selectors.severity_label(complaint)


def _labels(options) -> dict[str, str]:
    return {o["key"]: option_label(o) for o in options or [] if isinstance(o, dict) and o.get("key")}


def option_text(complaint, name: str, key: str) -> str:
    """The name the case's pack gives an option key, in the active language."""
    if not key:
        return ""
    try:
        options = services.param(complaint, name) or []
    except ApiError:
        options = []
    return _labels(options).get(key, key)


def case_labels(complaint) -> dict:
    """The case's coded values in words, from its own pack."""
    options = case_options(complaint)
    categories = {o["key"]: o for o in options.get("categories") or []}
    category = categories.get(complaint.category)
    category_label = option_label(category) if category else complaint.category
    if category and category.get("parent") in categories:
        category_label = f"{option_label(categories[category['parent']])} / {category_label}"
    reasons = _labels(options.get("major.reasons"))
    return {
        "channel": _labels(options.get("channels")).get(complaint.channel, complaint.channel),
        "category": category_label,
        "severity": severity_text(complaint),
        "status": complaint.get_status_display(),
        "validity": complaint.get_validity_display(),
        "invalid_reason": _labels(options.get("invalid_reasons")).get(complaint.invalid_reason, complaint.invalid_reason),
        "complainant_type": _labels(options.get("complainant_types")).get(complaint.complainant_type, complaint.complainant_type),
        "motive": _labels(options.get("motives")).get(complaint.motive, complaint.motive),
        "major_reasons": [reasons.get(key, services.AUTO_MAJOR.get(key, key)) for key in complaint.major_reasons or []],
    }


# ---------------------------------------------------------------- people and departments


def departments_qs():
    return Department.objects.order_by("path", "name")


def department_choices() -> list:
    return [node.department for node in org_selectors.departments_tree()]


def handlers_for(user, exclude=None):
    """Active staff holding complaints.handle that `user` may pick as a case's owner (their data scope;
    everyone for a scope-all role)."""
    qs = (
        org_selectors.users_visible_to(user)
        .filter(is_active=True, role_id__in=org_selectors.roles_with_permission(perms.COMPLAINTS_HANDLE))
        .order_by("department__name", "display_name", "username")
    )
    return qs.exclude(pk=exclude) if exclude else qs


def staff_choices():
    """Every active staff member: the person complained about or made responsible may work anywhere."""
    return User.objects.select_related("department").filter(is_active=True).order_by("department__name", "display_name", "username")


# ---------------------------------------------------------------- the case page


EVENT_LABELS = {
    "registered": gettext_noop("登记"),
    "decided_valid": gettext_noop("判定成立"),
    "decided_invalid": gettext_noop("判定不成立"),
    "classified": gettext_noop("分类"),
    "assigned": gettext_noop("指定受理"),
    "investigated": gettext_noop("调查"),
    "remedy_proposed": gettext_noop("提出处理方案"),
    "remedy_approved": gettext_noop("方案批准"),
    "remedy_rejected": gettext_noop("方案驳回"),
    "carried_out": gettext_noop("实施方案"),
    "informed": gettext_noop("告知投诉人"),
    "return_visit": gettext_noop("回访"),
    "reopened": gettext_noop("重新处理"),
    "escalated": gettext_noop("升级"),
    "report": gettext_noop("处理后报告"),
    "major_report": gettext_noop("重大投诉预警报备"),
    "extension_requested": gettext_noop("申请延期"),
    "extension_approved": gettext_noop("延期批准"),
    "extension_rejected": gettext_noop("延期驳回"),
    "waiting": gettext_noop("等待投诉人"),
    "resumed": gettext_noop("恢复处理"),
    "closed": gettext_noop("结案"),
    "archived": gettext_noop("归档"),
    "penalty_proposed": gettext_noop("提出处罚"),
    "penalty_approved": gettext_noop("处罚批准"),
    "penalty_rejected": gettext_noop("处罚驳回"),
    "timers_pending": gettext_noop("时限待计算"),
    "timers_started": gettext_noop("时限开始计算"),
}


def event_label(kind: str) -> str:
    return _(EVENT_LABELS[kind]) if kind in EVENT_LABELS else kind


def timeline_rows(events) -> list[dict]:
    return [
        {"at": e.at, "kind": e.kind, "label": event_label(e.kind), "actor": e.actor, "note": e.note, "public": e.public, "data": e.data}
        for e in events
    ]


@dataclass
class DeadlineRow:
    key: str
    label: str
    started_at: object
    due_at: object
    state: str
    state_label: str
    met_at: object
    breached_at: object
    late: bool  # breached, or met after its breach, or running past its due time
    escalation_level: int
    ladder: list
    next_escalation_at: object
    source: str
    ladder_source: str
    amount: int
    unit: str


UNIT_LABELS = {
    "minutes": gettext_noop("分钟"), "hours": gettext_noop("小时"), "calendar_days": gettext_noop("日"), "working_days": gettext_noop("个工作日"), "working_hours": gettext_noop("个工作小时"),
    "trading_days": gettext_noop("个交易日"), "months": gettext_noop("个月"), "same_day": gettext_noop("当日"),
}  # fmt: skip


def unit_label(unit: str) -> str:
    return _(UNIT_LABELS[unit]) if unit in UNIT_LABELS else unit


def deadline_rows(complaint, deadlines) -> list[DeadlineRow]:
    timers = {}
    try:
        timers = {t["key"]: t for t in services.param(complaint, "deadlines") or []}
    except ApiError:
        pass
    now = timezone.now()
    names = _role_names({step.get("notify", "") for d in deadlines for step in d.ladder or []})
    rows = []
    for d in deadlines:
        key = d.policy_key.removeprefix(services.DEADLINE_PREFIX)
        timer = timers.get(key, {})
        late = d.state == Deadline.State.BREACHED or d.breached_at is not None or (d.state == Deadline.State.DUE and d.due_at <= now)
        rows.append(
            DeadlineRow(
                key=key,
                label=timer_label(timer) or d.title or key,
                started_at=d.started_at,
                due_at=d.due_at,
                state=d.state,
                state_label=d.get_state_display(),
                met_at=d.met_at,
                breached_at=d.breached_at,
                late=late,
                escalation_level=d.escalation_level,
                ladder=[{"after": after_label(step.get("after", "")), "notify": _notify_label(step.get("notify", ""), names)} for step in d.ladder or []],
                next_escalation_at=d.next_escalation_at,
                source=d.source,
                ladder_source=d.ladder_source,
                amount=d.amount,
                unit=unit_label(d.unit),
            )
        )
    return rows


@dataclass
class PendingTimerRow:
    """A timer registration could not compute for lack of holiday data (shown as 待计算)."""

    key: str
    label: str
    started_at: object
    year: int
    met_at: object
    amount: object
    unit: str
    reason: str


def pending_timer_rows(complaint) -> list[PendingTimerRow]:
    timers = {}
    try:
        timers = {t["key"]: t for t in services.param(complaint, "deadlines") or []}
    except ApiError:
        pass
    rows = []
    for pending in complaint.pending_timers.all():
        timer = timers.get(pending.key, {})
        rows.append(
            PendingTimerRow(
                key=pending.key,
                label=timer_label(timer) or pending.key,
                started_at=pending.start_at,
                year=pending.year,
                met_at=pending.met_at,
                amount=timer.get("amount", ""),
                unit=unit_label(timer.get("unit", "")),
                reason=_("缺少 %(year)s 年节假日安排，无法按工作日计算；管理员录入后自动从登记时起开始计时") % {"year": pending.year},
            )
        )
    return rows


def timer_label(timer: dict) -> str:
    if _english() and timer.get("label_en"):
        return timer["label_en"]
    return timer.get("label", "")


def after_label(text: str) -> str:
    """A ladder step's delay ("1 working_days") in words."""
    parts = str(text or "").split()
    if len(parts) != 2:
        return str(text or "")
    amount, unit = parts
    if amount.lstrip("-") == "0":
        return _("立即")
    return f"{amount} {unit_label(unit)}"


def _role_names(codes) -> dict[str, str]:
    """The names of the roles among `codes` (one query)."""
    from zhidu.org.models import Role

    codes = {c for c in codes if c and c not in ("owner", "manager")}
    return dict(Role.objects.filter(code__in=codes).values_list("code", "name")) if codes else {}


def _notify_label(who: str, names: dict[str, str]) -> str:
    if who == "owner":
        return _("受理负责人")
    if who == "manager":
        return _("部门负责人")
    return _(names[who]) if who in names else who


def escalation_summary(complaint, deadlines) -> dict:
    """The case's highest escalation step reached and the time limits breached, for the case header."""
    level = max((d.escalation_level for d in deadlines), default=0)
    breached = [d for d in deadlines if d.state == Deadline.State.BREACHED or d.breached_at is not None]
    return {"level": level, "breached": len(breached), "escalated_at": complaint.escalated_at, "round": complaint.round}


APPROVAL_KIND_LABELS = {services.KIND_REMEDY: gettext_noop("处理方案"), services.KIND_EXTENSION: gettext_noop("延长处理时限"), services.KIND_PENALTY: gettext_noop("处罚")}


def case_approvals(user, detail) -> list[dict]:
    """The approvals of the case (plans, extensions, penalties), newest first, with whether `user` decides
    the current step now."""
    items = []
    for kind, rows in ((services.KIND_REMEDY, detail.remedies), (services.KIND_EXTENSION, detail.extensions), (services.KIND_PENALTY, detail.penalties)):
        for row in rows:
            if getattr(row, "approval_id", None):
                items.append((kind, row))
    ids = [row.approval_id for _kind, row in items]
    if not ids:
        return []
    waiting = set(approvals.pending_for(user, limit=None).filter(pk__in=ids).values_list("pk", flat=True))
    from zhidu.kernel.models import ApprovalRequest

    requests = {r.pk: r for r in ApprovalRequest.objects.filter(pk__in=ids).prefetch_related("decisions__decided_by")}
    names = _role_names({step.get("role", "") for r in requests.values() for step in r.chain or []})
    out = []
    for kind, row in items:
        request = requests.get(row.approval_id)
        if request is None:
            continue
        may_decide = request.pk in waiting and detail.complaint.subject_staff_id != user.pk and not (
            kind == services.KIND_PENALTY and row.staff_id == user.pk
        )
        out.append(
            {
                "kind": kind,
                "kind_label": _(APPROVAL_KIND_LABELS[kind]),
                "row": row,
                "request": request,
                "chain": [{**step, "label": _chain_label(step, names)} for step in request.chain or []],
                "current_step": request.current_step,
                "state": request.state,
                "state_label": request.get_state_display(),
                "decisions": list(request.decisions.all()),
                "may_decide": may_decide,
            }
        )
    out.sort(key=lambda item: item["request"].pk, reverse=True)
    return out


def _chain_label(step: dict, names: dict[str, str]) -> str:
    """An approval step's name: the pack's words, or in English the role's name from the catalogue."""
    if step.get("label") and not _english():
        return step["label"]
    return _notify_label(step.get("role", ""), names) if step.get("role") else step.get("label", "")


def register_sheet(detail) -> dict:
    """The register form's sections from the case record."""
    remedies = list(detail.remedies)
    visits = list(detail.return_visits)
    investigations = list(detail.investigations)
    approved = [p for p in remedies if p.state == Decision.APPROVED]
    return {
        "investigation": investigations[-1] if investigations else None,
        "remedy": (approved or remedies)[-1] if remedies else None,
        "visit": visits[-1] if visits else None,
        "penalties": [p for p in detail.penalties if p.state == Decision.APPROVED],
        "inform": next((e for e in reversed(list(detail.events)) if e.kind == "informed"), None),
    }


# ---------------------------------------------------------------- my penalties


def penalty_rows(user, penalties) -> list[dict]:
    rows = []
    for p in penalties:
        rows.append(
            {
                "id": p.pk,
                "tracking_no": p.complaint.tracking_no,
                "complaint_id": p.complaint_id,
                "amount": p.amount,
                "unit": _("元") if p.unit == "yuan" else _("分"),
                "reason": p.reason,
                "citation": p.citation,
                "state": p.state,
                "state_label": p.get_state_display(),
                "created_at": p.created_at,
                "decided_at": p.decided_at,
                "ledger_entry_id": p.ledger_entry_id,
            }
        )
    return rows


def penalty_totals(user) -> list[dict]:
    """Approved penalties of `user` summed per unit."""
    rows = Penalty.objects.filter(staff_id=user.pk, state=Decision.APPROVED).values("unit").annotate(total=Sum("amount"), count=Count("id")).order_by("unit")
    return [{"unit": _("元") if r["unit"] == "yuan" else _("分"), "total": r["total"], "count": r["count"]} for r in rows]


# ---------------------------------------------------------------- statistics


@dataclass
class Period:
    kind: str  # "week", "month" or "custom"
    start: dt.date  # first day
    end: dt.date  # day after the last day
    label: str

    def bounds(self):
        tz = timezone.get_current_timezone()
        return (
            dt.datetime.combine(self.start, dt.time.min, tzinfo=tz),
            dt.datetime.combine(self.end, dt.time.min, tzinfo=tz),
        )

    def previous(self) -> Period:
        if self.kind == "week":
            return week_of(self.start - dt.timedelta(days=7))
        if self.kind == "month":
            return month_of(self.start - dt.timedelta(days=1))
        length = self.end - self.start
        return Period("custom", self.start - length, self.start, "")

    def next(self) -> Period:
        if self.kind == "week":
            return week_of(self.end)
        if self.kind == "month":
            return month_of(self.end)
        length = self.end - self.start
        return Period("custom", self.end, self.end + length, "")


def week_of(day: dt.date) -> Period:
    start = day - dt.timedelta(days=day.weekday())
    iso = start.isocalendar()
    return Period("week", start, start + dt.timedelta(days=7), _("%(year)d 年第 %(week)d 周") % {"year": iso[0], "week": iso[1]})


def month_of(day: dt.date) -> Period:
    start = day.replace(day=1)
    end = (start + dt.timedelta(days=32)).replace(day=1)
    return Period("month", start, end, _("%(year)d 年 %(month)d 月") % {"year": start.year, "month": start.month})


def period_from(kind: str, value: str | None, today: dt.date | None = None) -> Period:
    """?period=week&at=2026-11-23 (any day of the week) or ?period=month&at=2026-11 (or a day)."""
    today = today or timezone.localdate()
    day = today
    if value:
        try:
            day = dt.date.fromisoformat(value if len(value) > 7 else f"{value}-01")
        except ValueError:
            day = today
    return week_of(day) if kind == "week" else month_of(day)


def _in_period(qs, period: Period):
    start, end = period.bounds()
    return qs.filter(created_at__gte=start, created_at__lt=end)


def _series(rows, key: str, labels: dict | None = None, empty: str = "") -> dict:
    labels = labels or {}
    out_labels, values, keys = [], [], []
    for row in rows:
        value = row[key]
        keys.append(value)
        out_labels.append(str(labels.get(value, value)) if value not in (None, "") else (empty or _("未分类")))
        values.append(row["count"])
    return {"labels": out_labels, "values": values, "keys": keys, "rows": list(zip(out_labels, values))}


def breakdowns(qs) -> dict:
    """Counts of `qs` by category, department, severity, channel and status (GROUP BY each)."""
    qs = qs.order_by()
    options = current_options()
    severity = dict(severity_choices())
    categories = {o["key"]: o for o in options.get("categories") or []}

    def top_category(key):
        option = categories.get(key)
        while option and option.get("parent") in categories:
            option = categories[option["parent"]]
        return option["key"] if option else key

    by_category: dict = {}
    for row in qs.values("category").annotate(count=Count("id")):
        top = top_category(row["category"])
        by_category[top] = by_category.get(top, 0) + row["count"]
    category_rows = sorted(({"category": k, "count": v} for k, v in by_category.items()), key=lambda r: -r["count"])
    department_rows = list(qs.values("department__name").annotate(count=Count("id")).order_by("-count"))
    return {
        "category": _series(category_rows, "category", {k: option_label(v) for k, v in categories.items()}),
        "department": _series(department_rows, "department__name", empty=_("未指定部门")),
        "severity": _series(list(qs.values("severity").annotate(count=Count("id")).order_by("severity")), "severity", severity),
        "channel": _series(list(qs.values("channel").annotate(count=Count("id")).order_by("-count")), "channel", _labels(options.get("channels"))),
        "status": _series(list(qs.values("status").annotate(count=Count("id")).order_by("status")), "status", dict(Status.choices)),
    }


def totals(qs, period: Period) -> dict:
    """Headline numbers of the period: registered, standing / not standing, major, closed (of those
    registered in the period), open now, overdue now."""
    start, end = period.bounds()
    now = timezone.now()
    base = qs.order_by()
    new = _in_period(base, period).aggregate(
        registered=Count("id"),
        valid=Count("id", filter=Q(validity=Validity.VALID)),
        invalid=Count("id", filter=Q(validity=Validity.INVALID)),
        malicious=Count("id", filter=Q(malicious=True)),
        major=Count("id", filter=Q(severity=Severity.MAJOR)),
        reopened=Count("id", filter=Q(round__gt=1)),
    )
    closed = base.filter(closed_at__gte=start, closed_at__lt=end).aggregate(closed=Count("id"))
    open_now = base.filter(status__in=[s for s in Status.values if s not in (Status.REJECTED, Status.CLOSED)]).aggregate(
        open=Count("id"), overdue=Count("id", filter=Q(next_due_at__lte=now))
    )
    return {**new, **closed, **open_now}


def _deadline_scope(qs):
    """The kernel Deadline rows of the cases in `qs` (target_id holds the case id as text)."""
    ids = qs.order_by().annotate(text_id=Cast("id", CharField())).values("text_id")
    return Deadline.objects.filter(target_type=services.TARGET_TYPE, target_id__in=ids)


def on_time_rates(qs, period: Period) -> list[dict]:
    """For each time limit, of the timers due in the period: how many were kept (met without a breach)
    and how many were late (breached, met after breach, or still running past the due time)."""
    start, end = period.bounds()
    now = timezone.now()
    rows = (
        _deadline_scope(qs)
        .filter(due_at__gte=start, due_at__lt=end)
        .exclude(state=Deadline.State.PAUSED)
        .values("policy_key")
        .annotate(
            total=Count("id", filter=Q(state__in=[Deadline.State.MET, Deadline.State.BREACHED]) | Q(state=Deadline.State.DUE, due_at__lte=now)),
            on_time=Count("id", filter=Q(state=Deadline.State.MET, breached_at__isnull=True, met_at__lte=F("due_at"))),
        )
        .order_by("policy_key")
    )
    labels = {t["key"]: timer_label(t) or t["key"] for t in current_options().get("deadlines") or []}
    out = []
    for row in rows:
        key = row["policy_key"].removeprefix(services.DEADLINE_PREFIX)
        total = row["total"]
        out.append(
            {
                "key": key,
                "label": labels.get(key, key),
                "total": total,
                "on_time": row["on_time"],
                "late": total - row["on_time"],
                "rate": round(100 * row["on_time"] / total, 1) if total else None,
            }
        )
    return out


def satisfaction(qs, period: Period) -> dict:
    """Return visits made in the period on the cases in `qs`: satisfied and not."""
    start, end = period.bounds()
    row = (
        ReturnVisit.objects.filter(complaint__in=qs.order_by().values("id"), at__gte=start, at__lt=end)
        .aggregate(total=Count("id"), satisfied=Count("id", filter=Q(satisfied=True)))
    )
    total = row["total"] or 0
    satisfied = row["satisfied"] or 0
    return {
        "total": total,
        "satisfied": satisfied,
        "unsatisfied": total - satisfied,
        "rate": round(100 * satisfied / total, 1) if total else None,
        "series": {"labels": [_("满意"), _("不满意")], "values": [satisfied, total - satisfied]} if total else {"labels": [], "values": []},
    }


def repeat_complainants(qs, period: Period, user=None, limit: int = TOP_REPEATS) -> list[dict]:
    """Complainants (by phone, else name) with more than one case registered in the period."""
    from zhidu.kernel.access import mask

    rows = (
        _in_period(qs.order_by(), period)
        .exclude(complainant_phone="")
        .values("complainant_phone")
        .annotate(count=Count("id"), name=Max("complainant_name"), last=Max("created_at"))
        .filter(count__gte=REPEAT_MIN)
        .order_by("-count", "complainant_phone")[:limit]
    )
    return [
        {"phone": mask("phone", r["complainant_phone"], user) if user else r["complainant_phone"], "name": r["name"], "count": r["count"], "last": r["last"], "raw_phone": r["complainant_phone"]}
        for r in rows
    ]


def trend(qs, *, months: int = 12, today: dt.date | None = None) -> dict:
    """Cases registered per month over the last `months` months (one GROUP BY)."""
    today = today or timezone.localdate()
    first = today.replace(day=1)
    for _i in range(months - 1):
        first = (first - dt.timedelta(days=1)).replace(day=1)
    start = dt.datetime.combine(first, dt.time.min, tzinfo=timezone.get_current_timezone())
    rows = (
        qs.order_by().filter(created_at__gte=start).annotate(month=TruncMonth("created_at")).values("month").annotate(count=Count("id")).order_by("month")
    )
    counts = {}
    for r in rows:
        month = r["month"]
        if isinstance(month, dt.datetime):
            month = timezone.localtime(month).date() if timezone.is_aware(month) else month.date()
        counts[(month.year, month.month)] = r["count"]
    labels, values = [], []
    day = first
    for _i in range(months):
        labels.append(f"{day.year}-{day.month:02d}")
        values.append(counts.get((day.year, day.month), 0))
        day = (day + dt.timedelta(days=32)).replace(day=1)
    return {"labels": labels, "values": values}


def daily(qs, period: Period) -> dict:
    rows = _in_period(qs.order_by(), period).annotate(day=TruncDate("created_at")).values("day").annotate(count=Count("id")).order_by("day")
    counts = {r["day"]: r["count"] for r in rows}
    labels, values = [], []
    day = period.start
    while day < period.end:
        labels.append(day.strftime("%m-%d"))
        values.append(counts.get(day, 0))
        day += dt.timedelta(days=1)
    return {"labels": labels, "values": values}


def penalties_in(qs, period: Period) -> list[dict]:
    start, end = period.bounds()
    rows = (
        Penalty.objects.filter(complaint__in=qs.order_by().values("id"), state=Decision.APPROVED, decided_at__gte=start, decided_at__lt=end)
        .values("unit")
        .annotate(total=Sum("amount"), count=Count("id"))
        .order_by("unit")
    )
    return [{"unit": _("元") if r["unit"] == "yuan" else _("分"), "total": r["total"] or Decimal(0), "count": r["count"]} for r in rows]


def findings(qs, period: Period, limit: int = 50) -> dict:
    """For the monthly analysis: causes and management loopholes found, and the corrective / preventive
    actions of the cases closed in the period."""
    start, end = period.bounds()
    investigations = list(
        Investigation.objects.filter(complaint__in=qs.order_by().values("id"), at__gte=start, at__lt=end)
        .select_related("complaint")
        .order_by("-id")[:limit]
    )
    closed = list(
        qs.order_by().filter(closed_at__gte=start, closed_at__lt=end).exclude(corrective_actions="", preventive_actions="")
        .only("id", "tracking_no", "closing_summary", "corrective_actions", "preventive_actions", "closed_at")
        .order_by("-closed_at")[:limit]
    )
    return {"investigations": investigations, "closed": closed}


def report(user, period: Period, filters: dict | None = None) -> dict:
    """The weekly / monthly report (S03) and monthly analysis (S23) of the cases `user` may see."""
    scope = selectors.complaints_filtered(user, None, filters or {})
    in_period = _in_period(scope, period)
    return {
        "period": period,
        "totals": totals(scope, period),
        "breakdowns": breakdowns(in_period),
        "on_time": on_time_rates(scope, period),
        "satisfaction": satisfaction(scope, period),
        "repeats": repeat_complainants(scope, period, user),
        "penalties": penalties_in(scope, period),
        "findings": findings(scope, period),
        "daily": daily(scope, period),
    }


def dashboard(user, period: Period) -> dict:
    """The dashboard's numbers: this period's report without the long lists, plus a 12-month trend."""
    scope = selectors.complaints_filtered(user, None, {})
    in_period = _in_period(scope, period)
    parts = breakdowns(in_period)
    rates = on_time_rates(scope, period)
    sat = satisfaction(scope, period)
    return {
        "period": period,
        "totals": totals(scope, period),
        "on_time": rates,
        "satisfaction": sat,
        "repeats": repeat_complainants(scope, period, user, limit=10),
        "charts": {
            "severity": parts["severity"],
            "channel": parts["channel"],
            "category": parts["category"],
            "department": parts["department"],
            "trend": trend(scope),
            "on_time": {"labels": [r["label"] for r in rates if r["rate"] is not None], "values": [r["rate"] for r in rates if r["rate"] is not None]},
            "satisfaction": sat["series"],
        },
    }

