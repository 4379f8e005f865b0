"""Every read of admission and the blacklist, scoped by the viewer's data scope (and, for the customer a
listing names, the viewer's clearance). The UI, the API and the export read through here."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel.access import DataScope, clearance_q, scope_q, user_scope
from zhidu.kernel.errors import Forbidden, NotFound
from zhidu.org import permissions as perms

from .models import AdmissionApplication, BlacklistEntry, BlacklistScope, BlacklistState

MAX_LIMIT = 200


@dataclass
class Page:
    items: list
    next_cursor: int | None


def can_view(user) -> bool:
    return bool(
        getattr(user, "is_authenticated", False)
        and (user.has_perm_code(perms.GRADING_VIEW) or user.has_perm_code(perms.GRADING_ADMIT))
    )


def require_view(user) -> None:
    if not can_view(user):
        raise Forbidden(_("您没有查看客户准入与黑名单的权限"), details={"permission": perms.GRADING_VIEW})


def _waiting_for(user) -> Q:
    """Applications at a step the user's role decides, from the part of the tree their scope covers
    (as zhidu.kernel.approvals decides it)."""
    role = getattr(user, "role", None)
    if role is None:
        return Q(pk__in=[])
    q = Q(approval__state="pending", approval__current_role=role.code)
    scope = user_scope(user)
    department = getattr(user, "department", None)
    if department is not None and scope == DataScope.DEPARTMENT:
        q &= Q(department_id=department.pk)
    elif department is not None and scope == DataScope.SUBTREE:
        q &= Q(department__path__startswith=department.path)
    return q


def _or(*parts: Q) -> Q:
    """OR of scope filters, where an empty Q (scope "all") means every row."""
    if any(not part for part in parts):
        return Q()
    result = parts[0]
    for part in parts[1:]:
        result |= part
    return result


def applications_visible(user, for_approval: bool = False) -> QuerySet:
    """Applications inside the viewer's scope (by applicant and department), plus those waiting at a
    step the viewer's role decides. Once admitted, the customer must be at or below the viewer's
    clearance."""
    if not can_view(user):
        return AdmissionApplication.objects.none()
    return AdmissionApplication.objects.filter(_or(scope_q(user, owner_field="owner", department_field="department"), _waiting_for(user))).filter(
        Q(customer__isnull=True) | clearance_q(user, level_field="customer__secret_level")
    )


def application_list(user, *, state: str = "", checklist: str = "", q: str = "", waiting: bool = False, after=None, limit: int = 50) -> Page:
    """A keyset page, newest first. `waiting`: only those waiting for the viewer's decision."""
    limit = max(1, min(_int(limit) or 50, MAX_LIMIT))
    qs = applications_visible(user).select_related("owner", "department", "customer")
    if waiting:
        qs = qs.filter(_waiting_for(user)).exclude(owner=user)
    if state:
        qs = qs.filter(state=state)
    if checklist:
        qs = qs.filter(checklist_key=checklist)
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(credit_code=q.upper()))
    return _keyset(qs, after, limit)


def application_get(user, application_id) -> AdmissionApplication:
    application = (
        applications_visible(user).select_related("owner", "department", "customer", "previous", "approval", "decided_by")
        .filter(pk=_int(application_id) or 0).first()
    )
    if application is None:
        raise NotFound(_("准入申请不存在"))
    return application


def application_parts(application) -> dict:
    """Items (each with its evidence), investigations by stage, set-up steps and what is still missing."""
    from .services import missing_for_submission

    items = list(application.items.all())
    evidence = {}
    for doc in application.evidence.select_related("uploaded_by").order_by("id"):
        evidence.setdefault(doc.item_id, []).append(doc)
    for item in items:
        item.documents = evidence.get(item.pk, [])
    investigations = list(application.investigations.select_related("recorded_by").order_by("id"))
    stages = []
    for stage in application.stages:
        records = [i for i in investigations if i.stage == stage["key"]]
        stages.append({**stage, "records": records, "passed": any(r.conclusion == "pass" for r in records)})
    fields = [{**f, "answer": (application.answers or {}).get(f["key"], "")} for f in application.report_fields]
    missing = missing_for_submission(application) if application.state == "draft" else []
    return {
        "items": items,
        "stages": stages,
        "report_fields": fields,
        "setup_steps": list(application.setup_steps.select_related("done_by")),
        "missing": missing,
        "decisions": list(application.approval.decisions.select_related("decided_by").order_by("id")) if application.approval_id else [],
    }


def evidence_get(user, application_id, evidence_id):
    application = application_get(user, application_id)
    doc = application.evidence.filter(pk=_int(evidence_id) or 0).first()
    if doc is None:
        raise NotFound(_("证明文件不存在"))
    return doc


# ---------------------------------------------------------------- blacklist


def blacklist_visible(user) -> QuerySet:
    """The company list for everyone who may view admission; a department's list for viewers whose
    scope covers that department. The listed customer must be at or below the viewer's clearance."""
    if not can_view(user):
        return BlacklistEntry.objects.none()
    department_q = scope_q(user, owner_field="listed_by", department_field="department")
    if user.department_id:
        department_q = _or(department_q, Q(department_id=user.department_id))
    return BlacklistEntry.objects.filter((Q(scope=BlacklistScope.COMPANY) | (Q(scope=BlacklistScope.DEPARTMENT) & department_q))).filter(
        clearance_q(user, level_field="customer__secret_level")
    )


def blacklist_filtered(user, *, scope: str = "", state: str = "", department=None, q: str = "") -> QuerySet:
    qs = blacklist_visible(user)
    if scope:
        qs = qs.filter(scope=scope)
    if state == "excluding":
        qs = qs.exclude(state=BlacklistState.READMITTED)
    elif state:
        qs = qs.filter(state=state)
    if department:
        qs = qs.filter(department_id=_int(department))
    q = (q or "").strip()
    if q:
        qs = qs.filter(Q(name__contains=q) | Q(credit_code=q.upper()))
    return qs


def blacklist_list(user, *, after=None, limit: int = 50, **filters) -> Page:
    limit = max(1, min(_int(limit) or 50, MAX_LIMIT))
    qs = blacklist_filtered(user, **filters).select_related("department", "customer", "listed_by")
    return _keyset(qs, after, limit)


def blacklist_entry_get(user, entry_id) -> BlacklistEntry:
    entry = blacklist_visible(user).select_related("department", "customer", "listed_by", "ended_by").filter(pk=_int(entry_id) or 0).first()
    if entry is None:
        raise NotFound(_("黑名单记录不存在"))
    return entry


def blacklist_report(user) -> dict:
    """The blacklist report (S01 L311: 以报表的形式备案/上报): per list (company, each department) the
    listings in their period, ended but not re-admitted, re-admitted, listed this year, and ending within
    30 days. One grouped query over the viewer's visible entries."""
    today = timezone.localdate()
    year_start = today.replace(month=1, day=1)
    soon = today + dt.timedelta(days=30)
    rows = (
        blacklist_visible(user)
        .values("scope", "department_id", "department__name")
        .annotate(
            active=Count("id", filter=Q(state=BlacklistState.ACTIVE)),
            ended=Count("id", filter=Q(state__in=[BlacklistState.EXPIRED, BlacklistState.LIFTED])),
            readmitted=Count("id", filter=Q(state=BlacklistState.READMITTED)),
            this_year=Count("id", filter=Q(listed_on__gte=year_start)),
            ending_soon=Count("id", filter=Q(state=BlacklistState.ACTIVE, valid_until__isnull=False, valid_until__lte=soon)),
        )
        .order_by("scope", "department__name")
    )
    lists = []
    totals = {"active": 0, "ended": 0, "readmitted": 0, "this_year": 0, "ending_soon": 0}
    for row in rows:
        label = str(BlacklistScope.COMPANY.label) if row["scope"] == BlacklistScope.COMPANY else row["department__name"]
        lists.append({**row, "label": label})
        for key in totals:
            totals[key] += row[key]
    return {"lists": lists, "totals": totals, "as_of": today}


def _keyset(qs, after, limit) -> Page:
    after = _int(after)
    if after:
        qs = qs.filter(pk__lt=after)
    items = list(qs.order_by("-pk")[: limit + 1])
    next_cursor = items[limit - 1].pk if len(items) > limit else None
    return Page(items[:limit], next_cursor)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
