"""Every read of complaints, scoped by the viewer's data scope (owner / department / subtree / all, plus
the cases they received). The UI, the API, statistics and export all read through here.

Overdue list: `next_due_at <= now` on the indexed column (see models.py), combinable with the other
filters; keyset pagination by id, newest first, never a COUNT over the table.
"""

import hmac
import re
from dataclasses import dataclass, field

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.customers.search import MIN_PHONE_DIGITS
from zhidu.kernel.access import scope_q, user_unmasked_fields
from zhidu.kernel.errors import ApiError, NotFound
from zhidu.kernel.models import Deadline
from zhidu.org import permissions as perms

from . import services
from .models import Complaint, ComplaintEvent, Decision, Penalty, Severity, Status

MAX_LIMIT = 200
FILTERS = ("status", "department", "owner", "receiver", "severity", "channel", "category", "validity", "customer",
           "overdue", "archived", "mine", "created_from", "created_to")
ACTIONS = ("decide", "classify", "assign", "investigate", "remedy", "carry_out", "inform", "return_visit", "reopen", "close",
           "report", "major_report", "extension", "wait", "resume", "penalty")
OPTION_LISTS = ("channels", "categories", "complainant_types", "motives", "invalid_reasons", "major.reasons")


@dataclass
class Page:
    items: list
    next_cursor: int | None


@dataclass
class ComplaintDetail:
    complaint: Complaint
    events: list
    investigations: list
    remedies: list
    return_visits: list
    extensions: list
    penalties: list
    deadlines: list
    actions: list
    labels: dict = field(default_factory=dict)


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def truthy(value) -> bool:
    return value is True or str(value).lower() in ("1", "true", "yes", "on")


def complaints_visible(user) -> QuerySet:
    """Cases inside the user's data scope (by owner and handling department) plus those they received.
    Users without complaints.view see nothing."""
    if not (getattr(user, "is_authenticated", False) and user.has_perm_code(perms.COMPLAINTS_VIEW)):
        return Complaint.objects.none()
    scope = scope_q(user)
    if not scope:  # scope "all": an empty Q would vanish inside the OR below
        return Complaint.objects.all()
    return Complaint.objects.filter(scope | Q(receiver_id=user.pk))


def _department_q(value) -> Q:
    from zhidu.org.models import Department

    department = Department.objects.filter(pk=_int(value)).first()
    if department is None:
        return Q(pk__in=[])
    return Q(department_id__in=Department.objects.filter(path__startswith=department.path).values("pk"))


def search_q(q: str | None, user=None) -> Q | None:
    """Tracking-number prefix, complainant name or subject substring, and — for 4 or more digits — the
    complainant's phone ending. For a viewer whose phones are masked, only exactly the last 4 digits (what
    the masked number shows) or the full number match, as in the customer search: longer endings would
    reveal the hidden digits one search at a time."""
    q = (q or "").strip()
    if not q:
        return None
    condition = Q(tracking_no__startswith=q.upper()) | Q(complainant_name__icontains=q) | Q(subject__icontains=q)
    digits = re.sub(r"\D", "", q)
    if len(digits) >= MIN_PHONE_DIGITS and len(digits) == len(q.replace(" ", "").replace("-", "")):
        if user is None or "phone" in user_unmasked_fields(user) or len(digits) == MIN_PHONE_DIGITS:
            condition |= Q(complainant_phone__endswith=digits)
        else:
            condition |= Q(complainant_phone=digits)
    return condition


def complaints_filtered(user, q: str | None = None, filters: dict | None = None) -> QuerySet:
    """The visible cases matching `q` and `filters` (see complaint_list), unordered and unpaged."""
    qs = complaints_visible(user)
    filters = dict(filters or {})
    if not truthy(filters.get("archived")):
        qs = qs.filter(archived=False)
    for key, value in filters.items():
        if value in (None, "", []):
            continue
        if key == "status":
            statuses = value if isinstance(value, (list, tuple)) else str(value).split(",")
            qs = qs.filter(status__in=[s for s in statuses if s])
        elif key == "department":
            qs = qs.filter(_department_q(value))
        elif key in ("owner", "receiver"):
            qs = qs.filter(**{f"{key}_id": _int(value)})
        elif key == "customer":  # only a file the viewer may read: the filter must not reveal hidden links
            from zhidu.customers.selectors import customers_visible

            qs = qs.filter(customer__in=customers_visible(user).filter(pk=_int(value)).values("pk"))
        elif key in ("severity", "channel", "category", "validity"):
            qs = qs.filter(**{key: value})
        elif key == "overdue" and truthy(value):
            qs = qs.filter(next_due_at__lte=timezone.now())
        elif key == "mine" and truthy(value):
            qs = qs.filter(Q(owner_id=user.pk) | Q(receiver_id=user.pk))
        elif key == "created_from":
            qs = qs.filter(created_at__date__gte=value)
        elif key == "created_to":
            qs = qs.filter(created_at__date__lte=value)
    search = search_q(q, user)
    if search is not None:
        qs = qs.filter(search)
    return qs


def complaint_list(user, q: str | None = None, filters: dict | None = None, after: int | None = None, limit: int = 50) -> Page:
    """A keyset page of visible cases, newest first. `filters`: status (str, comma list or list),
    department (id, subtree included), owner, receiver, customer, severity, channel, category, validity,
    overdue (true: a time limit has passed), archived (default false: archived cases hidden), mine
    (owner or receiver is the viewer), created_from / created_to (dates)."""
    limit = max(1, min(_int(limit) or 50, MAX_LIMIT))
    qs = complaints_filtered(user, q, filters).select_related("owner", "department", "receiver", "customer").order_by("-id")
    if after:
        qs = qs.filter(id__lt=_int(after))
    items = list(qs[: limit + 1])
    next_cursor = items[limit - 1].pk if len(items) > limit else None
    return Page(items[:limit], next_cursor)


def complaint_get(user, complaint_id) -> Complaint:
    complaint = complaints_visible(user).filter(pk=_int(complaint_id)).select_related(
        "owner", "department", "receiver", "customer", "subject_staff", "subject_department"
    ).first()
    if complaint is None:
        raise NotFound(_("投诉不存在"))
    return complaint


def visible_customer_ids(user, complaints) -> set[int]:
    """The customers linked to `complaints` whose file `user` may read (data scope, clearance, access
    grants): only those are named to the viewer. One query."""
    ids = {c.customer_id for c in complaints if c.customer_id}
    if not ids:
        return set()
    from zhidu.customers.selectors import customers_visible

    return set(customers_visible(user).filter(pk__in=ids).values_list("pk", flat=True))


def complaint_deadlines(complaint) -> list[Deadline]:
    """The case's timers (kernel Deadline rows: due / paused / met / breached, with breached_at)."""
    return list(Deadline.objects.filter(target_type=services.TARGET_TYPE, target_id=str(complaint.pk)).order_by("id"))


def option_label(complaint_or_policy, name: str, key: str) -> str:
    """The label the case's pack gives an option key (channels, categories, complainant_types, motives,
    invalid_reasons, major.reasons)."""
    if not key:
        return ""
    if name == "major.reasons" and key in services.AUTO_MAJOR:
        return _(services.AUTO_MAJOR[key])
    try:
        options = services.param(complaint_or_policy, name) or []
    except ApiError:
        options = []
    return next((o["label"] for o in options if o["key"] == key), key)


def severity_label(complaint) -> str:
    try:
        labels = services.param(complaint, "severity_labels") or {}
    except ApiError:
        labels = {}
    return labels.get(complaint.severity) or str(Severity(complaint.severity).label)


def labels(complaint) -> dict:
    return {
        "status": str(Status(complaint.status).label),
        "channel": option_label(complaint, "channels", complaint.channel),
        "category": option_label(complaint, "categories", complaint.category),
        "severity": severity_label(complaint),
        "validity": str(complaint.get_validity_display()),
        "complainant_type": option_label(complaint, "complainant_types", complaint.complainant_type),
        "motive": option_label(complaint, "motives", complaint.motive),
        "invalid_reason": option_label(complaint, "invalid_reasons", complaint.invalid_reason),
        "major_reasons": [option_label(complaint, "major.reasons", key) for key in complaint.major_reasons or []],
    }


def _ok(check) -> bool:
    try:
        check()
    except ApiError:
        return False
    return True


def available_actions(user, complaint) -> list[str]:
    """The actions `user` may take on the case now (the services enforce the same rules)."""
    if complaint.archived or not getattr(user, "is_authenticated", False) or complaint.subject_staff_id == user.pk:
        return []
    may = lambda step: _ok(lambda: services._may(user, complaint, step))  # noqa: E731
    if complaint.waiting_since is not None:
        return ["resume"] if may("investigate") else []
    actions = []
    for action, step in (("decide", "validity"), ("assign", "assign"), ("investigate", "investigate"), ("remedy", "remedy"),
                         ("carry_out", "carry_out"), ("inform", "inform"), ("return_visit", "return_visit"), ("close", "close")):
        if may(step) and _ok(lambda step=step: services._expect_step(complaint, step)):
            actions.append(action)
    if "assign" not in actions and complaint.status in (Status.ASSIGNED, Status.INVESTIGATED, Status.PLAN_PENDING, Status.PLAN_APPROVED,
                                                        Status.CARRIED_OUT) and may("assign"):
        actions.append("assign")
    if complaint.status in (Status.INFORMED, Status.SATISFIED, Status.CLOSED) and may("reopen"):
        actions.append("reopen")
    if complaint.is_open and may("investigate"):
        actions += ["classify", "wait"]
        if complaint.status not in (Status.REGISTERED, Status.ACCEPTED):
            actions.append("report")
        if complaint.severity == Severity.MAJOR:
            actions.append("major_report")
        if _ok(lambda: services.param(complaint, "extension")) and services.param(complaint, "extension") and \
                complaint.resolution_due and not complaint.extensions.filter(state=Decision.PENDING).exists():
            actions.append("extension")
        if complaint.validity == "valid" and _ok(lambda: services.param(complaint, "penalty")) and services.param(complaint, "penalty"):
            actions.append("penalty")
    return [a for a in ACTIONS if a in actions]


def complaint_detail(user, complaint_id) -> ComplaintDetail:
    complaint = complaint_get(user, complaint_id)
    return ComplaintDetail(
        complaint=complaint,
        events=list(complaint.events.select_related("actor").order_by("id")),
        investigations=list(complaint.investigations.select_related("responsible_user", "responsible_department", "investigated_by")),
        remedies=list(complaint.remedies.select_related("proposed_by", "approval")),
        return_visits=list(complaint.return_visits.select_related("visited_by")),
        extensions=list(complaint.extensions.select_related("requested_by", "approval")),
        penalties=list(complaint.penalties.select_related("staff", "approval", "ledger_entry")),
        deadlines=complaint_deadlines(complaint),
        actions=available_actions(user, complaint),
        labels=labels(complaint),
    )


def complaint_timeline(user, complaint_id, after: int | None = None, limit: int = 100) -> Page:
    complaint = complaint_get(user, complaint_id)
    limit = max(1, min(_int(limit) or 100, MAX_LIMIT))
    qs = ComplaintEvent.objects.filter(complaint=complaint).select_related("actor").order_by("id")
    if after:
        qs = qs.filter(id__gt=_int(after))
    items = list(qs[: limit + 1])
    return Page(items[:limit], items[limit - 1].pk if len(items) > limit else None)


def penalties_for(user, after: int | None = None, limit: int = 50) -> Page:
    """The user's own complaint penalties, newest first, with reason, citation, state and ledger entry."""
    limit = max(1, min(_int(limit) or 50, MAX_LIMIT))
    qs = Penalty.objects.filter(staff_id=user.pk).select_related("complaint", "ledger_entry").order_by("-id")
    if after:
        qs = qs.filter(id__lt=_int(after))
    items = list(qs[: limit + 1])
    return Page(items[:limit], items[limit - 1].pk if len(items) > limit else None)


def _phone_digits(value: str) -> str:
    return re.sub(r"\D", "", value or "")


def complaint_track(tracking_no: str, phone_or_code: str) -> dict | None:
    """The public view of one case for its complainant: matched by tracking number plus either the access
    code given at registration or the complainant's phone number. None when nothing matches."""
    tracking_no = (tracking_no or "").strip().upper()
    secret = (phone_or_code or "").strip()
    if not tracking_no or not secret or len(tracking_no) > 30 or len(secret) > 40:
        return None
    complaint = Complaint.objects.filter(tracking_no=tracking_no).first()
    if complaint is None:
        return None
    code_ok = hmac.compare_digest(secret.upper().encode(), complaint.access_code.encode())
    digits = _phone_digits(secret)
    phone_ok = len(digits) >= 7 and hmac.compare_digest(digits.encode(), _phone_digits(complaint.complainant_phone).encode())
    if not (code_ok or phone_ok):
        return None
    events = complaint.events.filter(public=True).order_by("id")
    return {
        "tracking_no": complaint.tracking_no,
        "status": complaint.status,
        "status_label": str(Status(complaint.status).label),
        "subject": complaint.subject,
        "registered_at": complaint.created_at,
        "first_response_due": complaint.first_response_due,
        "resolution_due": complaint.resolution_due,
        "closed_at": complaint.closed_at,
        "reply_text": complaint.reply_text if complaint.validity == "invalid" else "",
        "events": [{"at": e.at, "kind": e.kind, "note": e.note if e.kind in PUBLIC_NOTE_KINDS else ""} for e in events],
    }


# Events whose note is written for the complainant; other public events show only that they happened.
PUBLIC_NOTE_KINDS = ("decided_invalid", "informed", "waiting")
