"""Every read of the customer archive, scoped by the viewer's data scope and clearance (plus any
time-limited read grant). The UI, the API, search and export all read through here."""

from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.access import SecretLevel, clearance_q, mask, scope_arms, scope_q, user_clearance
from zhidu.kernel.errors import NotFound
from zhidu.org import permissions as perms

from .models import AccessRequest, Contact, Customer, CustomerDocument, TimelineEvent
from .search import indexed_name_ids, search_parts, search_q

MAX_LIMIT = 200
NAME_BATCH_MAX = 4000  # ids per step through SQLite's name index (bound parameters of one IN)
FILTERS = ("department", "owner", "status", "customer_type", "region", "review_due")


@dataclass
class Page:
    """A keyset page: `items` newest first, `next_cursor` the id to pass as `after`, or None at the end."""

    items: list
    next_cursor: int | None


@dataclass
class CustomerDetail:
    customer: Customer
    contacts: list[dict]  # phone masked for the viewer unless the role unmasks "phone"
    documents: list[CustomerDocument]  # those at or below the viewer's clearance (or the grant's level)
    id_number: str  # masked unless the role unmasks "id_number"
    via_grant: bool = False
    grant_until: object = None
    extra: dict = field(default_factory=dict)


def active_grants(user, now=None) -> QuerySet:
    """The viewer's approved, unexpired read grants."""
    return AccessRequest.objects.filter(
        requested_by_id=user.pk, state=AccessRequest.State.APPROVED, granted_until__gt=now or timezone.now()
    )


def _can_view(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm_code(perms.CUSTOMERS_VIEW))


def customers_writable(user) -> QuerySet:
    """Files inside the user's own scope and clearance (what write services may touch; grants only read)."""
    if not _can_view(user):
        return Customer.objects.none()
    return Customer.objects.filter(scope_q(user) & clearance_q(user))


def customers_visible(user) -> QuerySet:
    """Files the user may read: inside their scope and at or below their clearance, or reached through
    an active access grant. Users without customers.view (security admin, auditor) see nothing."""
    if not _can_view(user):
        return Customer.objects.none()
    return Customer.objects.filter((scope_q(user) & clearance_q(user)) | Q(pk__in=active_grants(user).values("customer_id")))


def _visible_arms(user) -> list[Q]:
    """customers_visible's condition as OR-ed arms, each within the viewer's clearance: the arms of the
    data scope, and the active grants when the viewer holds any."""
    if not _can_view(user):
        return [Q(pk__in=[])]
    arms = [arm & clearance_q(user) for arm in scope_arms(user)]
    if active_grants(user).exists():
        arms.append(Q(pk__in=active_grants(user).values("customer_id")))
    return arms


def customer_list(user, q: str | None = None, filters: dict | None = None, after: int | None = None, limit: int = 50) -> Page:
    """A keyset page of the visible files, newest first (never counts the table).

    `q` matches (OR): code exactly or as prefix, name substring, full-pinyin prefix, initials prefix, and
    — for 4 or more digits — the suffix of a contact's phone. `filters`: department (id; its subtree is
    included), owner (id), status, customer_type, region, review_due (true: files whose next review
    date is today or earlier)."""
    limit = max(1, min(_int_or_none(limit) or 50, MAX_LIMIT))
    base = customers_filtered(user, None, filters)
    parts = search_parts(q, user)
    arms = _visible_arms(user)
    conditions = [arm & condition for arm in arms for condition in (parts.conditions if parts else [Q()])]
    if len(conditions) == 1 and (parts is None or parts.indexed_name is None):
        return _keyset(base.filter(conditions[0]).select_related("owner", "department"), after, limit)
    # Visibility and search are ORs across columns. The page of an OR is the page of the union of each
    # arm's page: every arm is one query an index serves newest first (limit + 1 rows), then the
    # newest ids of their union are read.
    after = _int_or_none(after)
    if after:
        base = base.filter(pk__lt=after)
    ids = set()
    for condition in conditions:
        ids.update(base.filter(condition).order_by("-id").values_list("pk", flat=True)[: limit + 1])
    if parts is not None and parts.indexed_name is not None:
        ids.update(_indexed_name_ids(base, parts.indexed_name, after, limit + 1))
    newest = sorted(ids, reverse=True)[: limit + 1]
    rows = list(base.filter(pk__in=newest).select_related("owner", "department").order_by("-id")) if newest else []
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].pk if more and rows else None)


def _indexed_name_ids(base, text: str, after: int | None, wanted: int) -> list[int]:
    """SQLite: the newest `wanted` ids of `base` whose name contains `text`, walking the name index
    newest first in growing batches and keeping the ids `base` lets through (scope, clearance,
    filters), so a frequent text stops early and a rare one reads only its matches."""
    found: list[int] = []
    before, batch = after, 4 * wanted
    while len(found) < wanted:
        candidates = indexed_name_ids(text, before, batch)
        if not candidates:
            break
        found.extend(sorted(base.filter(pk__in=candidates).values_list("pk", flat=True), reverse=True))
        if len(candidates) < batch:
            break
        before, batch = candidates[-1], min(batch * 4, NAME_BATCH_MAX)
    return found[:wanted]


def customers_filtered(user, q: str | None = None, filters: dict | None = None) -> QuerySet:
    """The visible files matching the list's search `q` and `filters` (see customer_list), unordered and
    unpaged: the list pages it, the export streams all of it."""
    qs = customers_visible(user)
    for key, value in (filters or {}).items():
        if value in (None, ""):
            continue
        if key == "department":
            qs = qs.filter(_department_filter(value))
        elif key == "owner":
            qs = qs.filter(owner_id=_int_or_none(value))
        elif key in ("status", "customer_type", "region"):
            qs = qs.filter(**{key: value})
        elif key == "review_due" and truthy(value):
            qs = qs.filter(next_review_on__lte=timezone.localdate())
    search = search_q(q, user)
    if search is not None:
        qs = qs.filter(search)
    return qs


def customer_get(user, customer_id, request=None) -> CustomerDetail:
    """One file with masked contacts and the documents the viewer may see. NotFound when the file is
    outside the viewer's scope and clearance and no grant covers it. Reading a file of 秘密 or above, or
    one reached through a grant, is audited as a confidential read."""
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(_("客户不存在")) from None
    customer = customers_visible(user).select_related("owner", "department").filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在"))
    in_own_rights = customers_writable(user).filter(pk=customer.pk).exists()
    grant = None if in_own_rights else active_grants(user).filter(customer_id=customer.pk).order_by("-granted_until").first()
    via_grant = grant is not None
    if customer.secret_level >= SecretLevel.SECRET or via_grant:
        audit.record(
            user,
            "customer.read_confidential",
            target=customer,
            details={"secret_level": customer.secret_level, "via_grant": grant.pk if grant else None},
            request=request,
        )
    documents = list(customer.documents.filter(secret_level__lte=_document_level(user, customer, via_grant)).order_by("-id"))
    return CustomerDetail(
        customer=customer,
        contacts=contacts_masked(user, customer),
        documents=documents,
        id_number=mask("id_number", customer.id_number, user),
        via_grant=via_grant,
        grant_until=grant.granted_until if grant else None,
    )


def _document_level(user, customer, via_grant: bool) -> int:
    """The highest document level the viewer may see on this file: their clearance, or through a grant
    the file's own level."""
    return max(user_clearance(user), customer.secret_level if via_grant else 0)


def _readable(user, customer_id) -> tuple[Customer, bool]:
    """The file if the viewer may read it, and whether only through a grant; NotFound otherwise."""
    customer_id = _int_or_none(customer_id)
    customer = customers_visible(user).filter(pk=customer_id).first() if customer_id else None
    if customer is None:
        raise NotFound(_("客户不存在"))
    via_grant = not customers_writable(user).filter(pk=customer.pk).exists()
    return customer, via_grant


def customer_documents(user, customer_id, after: int | None = None, limit: int = 50) -> Page:
    """A keyset page (newest first) of the file's documents at or below the level the viewer may see."""
    limit = max(1, min(_int_or_none(limit) or 50, MAX_LIMIT))
    customer, via_grant = _readable(user, customer_id)
    qs = CustomerDocument.objects.filter(customer=customer, secret_level__lte=_document_level(user, customer, via_grant)).select_related("uploaded_by")
    return _keyset(qs, after, limit)


def document_for_download(user, customer_id, document_id, request=None) -> CustomerDocument:
    """One document the viewer may see, to be sent to them. Fetching one above 公开, or through a grant,
    is audited as a confidential read. NotFound for a document out of reach, so its existence is not
    revealed."""
    customer, via_grant = _readable(user, customer_id)
    document_id = _int_or_none(document_id)
    document = (
        CustomerDocument.objects.filter(pk=document_id, customer=customer, secret_level__lte=_document_level(user, customer, via_grant)).first()
        if document_id
        else None
    )
    if document is None or not document.file:
        raise NotFound(_("文件不存在"))
    if document.secret_level > SecretLevel.PUBLIC or via_grant:
        audit.record(
            user,
            "customer.read_confidential",
            target=customer,
            # The title of a classified document stays out of the audit trail (read by 公开-cleared auditors).
            details={"document_id": document.pk, "secret_level": document.secret_level, "via_grant": via_grant},
            request=request,
        )
    return document


def contacts_masked(user, customer) -> list[dict]:
    """The contacts of a file the caller has already checked, phones masked for the viewer."""
    return [
        {
            "id": c.pk,
            "name": c.name,
            "title": c.title,
            "phone": mask("phone", c.phone, user),
            "email": c.email,
            "is_primary": c.is_primary,
        }
        for c in customer.contacts.order_by("-is_primary", "id")
    ]


def primary_contacts(customer_ids: list[int]) -> dict[int, tuple[str, str, str, str]]:
    """customer id -> (name, title, phone, email) of its primary contact (else its first), one query;
    phones as stored (the caller masks them for its viewer)."""
    found: dict[int, tuple[str, str, str, str]] = {}
    if not customer_ids:
        return found
    rows = (
        Contact.objects.filter(customer_id__in=customer_ids)
        .order_by("customer_id", "-is_primary", "id")
        .values_list("customer_id", "name", "title", "phone", "email")
    )
    for customer_id, *values in rows:
        found.setdefault(customer_id, tuple(values))
    return found


def customer_timeline(user, customer_id, after: int | None = None, limit: int = 50) -> Page:
    """The file's timeline, newest first, as a keyset page."""
    limit = max(1, min(_int_or_none(limit) or 50, MAX_LIMIT))
    customer_id = _int_or_none(customer_id)
    if customer_id is None or not customers_visible(user).filter(pk=customer_id).exists():
        raise NotFound(_("客户不存在"))
    qs = TimelineEvent.objects.filter(customer_id=customer_id).select_related("actor")
    return _keyset(qs, after, limit)


def customer_counts(user) -> dict:
    """Counts of the files the user can see by status, type and department, for the dashboard
    (three GROUP BY queries): {"by_status": [{"status", "count"}], "by_type": [{"customer_type", "count"}],
    "by_department": [{"department_id", "department__name", "count"}]}."""
    qs = customers_visible(user).order_by()
    return {
        "by_status": list(qs.values("status").annotate(count=Count("id")).order_by("status")),
        "by_type": list(qs.values("customer_type").annotate(count=Count("id")).order_by("customer_type")),
        "by_department": list(qs.values("department_id", "department__name").annotate(count=Count("id")).order_by("-count")),
    }


def access_requests_for(user, customer_id=None, limit: int = 50, *, to_approve: bool = False, before: int | None = None) -> list[AccessRequest]:
    """The user's own access requests, newest first; with `to_approve`, instead the pending requests
    whose approval waits at a step this user decides (kernel.approvals.pending_for). `before`: keyset
    cursor (an id; only older requests)."""
    from zhidu.kernel import approvals

    from .services import ACCESS_APPROVAL_KIND

    if to_approve:
        # pending_for with no limit is the unsliced queryset, so it can be narrowed further here.
        waiting = approvals.pending_for(user, limit=None).filter(kind=ACCESS_APPROVAL_KIND).values("pk")
        qs = AccessRequest.objects.filter(state=AccessRequest.State.PENDING, approval__in=waiting)
    else:
        qs = AccessRequest.objects.filter(requested_by_id=user.pk)
    qs = qs.select_related("customer", "requested_by")
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    before = _int_or_none(before)
    if before:
        qs = qs.filter(pk__lt=before)
    return list(qs.order_by("-id")[: max(1, min(_int_or_none(limit) or 50, MAX_LIMIT))])


def _department_filter(value) -> Q:
    """The department and its subtree, as a list of ids on the indexed department column (a join with
    LIKE on the path kept the planners from the (department, status, -id) index)."""
    from zhidu.org.models import Department

    department_id = _int_or_none(value)
    department = Department.objects.filter(pk=department_id).only("path").first() if department_id else None
    if department is None:
        return Q(pk__in=[])
    return Q(department_id__in=list(Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True)))


def _keyset(qs, after, limit) -> Page:
    after = _int_or_none(after)
    if after:
        qs = qs.filter(pk__lt=after)
    rows = list(qs.order_by("-id")[: limit + 1])
    more = len(rows) > limit
    rows = rows[:limit]
    return Page(rows, rows[-1].pk if more and rows else None)


def truthy(value) -> bool:
    """A flag from a query string or a JSON body: true, "1", "true", "on", "yes"."""
    return value is True or str(value).strip().lower() in ("1", "true", "on", "yes")


def _int_or_none(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
