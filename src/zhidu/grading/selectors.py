"""Every read of grading, scoped by the viewer's data scope and clearance through the customers they may
see. Cross-app reads (no user scope, used by other modules): priority_ranks, grade_of, lowest_grade_key —
their callers pass customers they have already read through their own scoped selectors."""

from dataclasses import dataclass

from django.db.models import Count, F, QuerySet
from django.utils.translation import gettext as _

from zhidu.customers.models import Customer
from zhidu.customers.selectors import customers_visible, customers_writable
from zhidu.kernel.access import scope_q
from zhidu.kernel.errors import Forbidden, NotFound
from zhidu.org import permissions as perms
from zhidu.org.models import Department

from . import scheme
from .models import CustomerGrade, CustomerMetrics, EvaluationRecord, GradeChange, GradeHistory, Review, ReviewItem

MAX_LIMIT = 200


# ---------------------------------------------------------------- cross-app


def priority_ranks(customer_ids) -> dict[int, int]:
    """customer id -> "四优先" rank (1 = served first). Customers without a grade are absent. No user
    scope: the caller passes ids it may already read (the API narrows them by customers_scoped)."""
    ids = [int(pk) for pk in customer_ids if pk is not None]
    if not ids:
        return {}
    result = {}
    for start in range(0, len(ids), 5000):
        rows = CustomerGrade.objects.filter(customer_id__in=ids[start:start + 5000]).values_list("customer_id", "priority_rank")
        result.update({cid: rank for cid, rank in rows if rank is not None})
    return result


def grade_of(customer) -> dict | None:
    """The grade in force: {"grade", "label", "priority_rank", "discount_rate", "provisional_until",
    "since", "citation"}, or None for an ungraded customer. No user scope: the caller passes a customer
    it has already read through a scoped selector."""
    customer_id = getattr(customer, "pk", customer)
    row = CustomerGrade.objects.filter(customer_id=customer_id).first()
    if row is None:
        return None
    definition = scheme.grades_by_key().get(row.grade)
    return {
        "grade": row.grade,
        "label": definition.display if definition else row.grade,
        "priority_rank": row.priority_rank,
        "has_priority": bool(definition and definition.has_priority),
        "discount_rate": scheme.discount_rates().get(row.grade),
        "visit_every_months": definition.visit_every_months if definition else None,
        "provisional_until": row.provisional_until,
        "since": row.since,
        "score": row.score,
        "citation": row.citation,
    }


def lowest_grade_key() -> str:
    """The grade a newly admitted or re-admitted customer starts at (S01: 合格)."""
    return scheme.lowest().key


# ---------------------------------------------------------------- scoped reads


def can_view(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm_code(perms.GRADING_VIEW))


def require_view(user) -> None:
    if not can_view(user):
        raise Forbidden(_("您没有查看客户分级的权限"))


def customers_scoped(user) -> QuerySet:
    """Customers this user may see grading data of."""
    if not can_view(user):
        return Customer.objects.none()
    return customers_visible(user)


def customers_visible_for_write(user) -> QuerySet:
    """Customers inside the user's own scope and clearance (what grading writes may touch)."""
    return customers_writable(user)


def customer_get(user, customer_id) -> Customer:
    try:
        customer_id = int(customer_id)
    except (TypeError, ValueError):
        raise NotFound(_("客户不存在")) from None
    customer = customers_scoped(user).select_related("department", "owner").filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在"))
    return customer


@dataclass
class CustomerGrading:
    customer: Customer
    grade: dict | None
    metrics: CustomerMetrics | None
    history: list
    changes: list
    evaluations: list


def customer_grading(user, customer_id) -> CustomerGrading:
    customer = customer_get(user, customer_id)
    return CustomerGrading(
        customer=customer,
        grade=grade_of(customer),
        metrics=CustomerMetrics.objects.filter(customer=customer).first(),
        history=list(GradeHistory.objects.filter(customer=customer).select_related("reviewer").order_by("-id")[:100]),
        changes=list(GradeChange.objects.filter(customer=customer).select_related("proposed_by").order_by("-id")[:50]),
        evaluations=list(EvaluationRecord.objects.filter(customer=customer).select_related("by").order_by("-id")[:20]),
    )


def graded_customers(user, *, grade: str = "", department: int | None = None, after: int | None = None, limit: int = 50):
    """A keyset page (by customer id, newest first) of graded customers the user may see."""
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    qs = CustomerGrade.objects.filter(customer__in=customers_scoped(user).values("pk")).select_related("customer", "customer__department")
    if grade:
        qs = qs.filter(grade=grade)
    if department:
        qs = qs.filter(customer__department_id=department)
    if after:
        qs = qs.filter(customer_id__lt=after)
    rows = list(qs.order_by("-customer_id")[: limit + 1])
    next_cursor = rows[limit - 1].customer_id if len(rows) > limit else None
    return rows[:limit], next_cursor


def reviews_visible(user) -> QuerySet:
    """Reviews of departments inside the viewer's data scope, and those they started (a company-wide
    review needs scope all)."""
    require_view(user)
    qs = Review.objects.select_related("department", "started_by", "approval")
    return qs.filter(scope_q(user, owner_field="started_by"))


def review_list(user, *, after: int | None = None, limit: int = 50):
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    qs = reviews_visible(user).order_by("-id")
    if after:
        qs = qs.filter(id__lt=after)
    rows = list(qs[: limit + 1])
    return rows[:limit], (rows[limit - 1].pk if len(rows) > limit else None)


def review_get(user, review_id) -> Review:
    try:
        review_id = int(review_id)
    except (TypeError, ValueError):
        raise NotFound(_("评审不存在")) from None
    review = reviews_visible(user).filter(pk=review_id).first()
    if review is None:
        raise NotFound(_("评审不存在"))
    return review


def review_items(user, review_id, *, change: str = "", after: int | None = None, limit: int = 50):
    """A keyset page of a review's proposals (by item id), optionally only up / down / new / same."""
    review = review_get(user, review_id)
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    qs = review_items_visible(user, review).select_related("customer")
    if change:
        qs = qs.filter(change=change)
    if after:
        qs = qs.filter(id__gt=after)
    rows = list(qs.order_by("id")[: limit + 1])
    return review, rows[:limit], (rows[limit - 1].pk if len(rows) > limit else None)


def review_items_visible(user, review: Review) -> QuerySet:
    """The review's proposals for the customers the viewer may see (a review of a department may hold
    customers outside the viewer's own scope or above their clearance)."""
    return ReviewItem.objects.filter(review=review, customer__in=customers_scoped(user).values("pk"))


def review_progress(user) -> list[dict]:
    """Per review: items by change and state — the review-progress report."""
    rows = []
    for review in reviews_visible(user).order_by("-id")[:50]:
        rows.append({"review": review, "counts": review.counts or {}})
    return rows


def distribution(user, *, per: str = "department") -> list[dict]:
    """Grade distribution versus quota: per department (or product) — total customers graded, count and
    percent per grade, the quota and whether it is exceeded. One grouped query."""
    require_view(user)
    grades = scheme.grades()
    quotas = [q for q in scheme.quotas() if q["per"] == per]
    base = CustomerGrade.objects.filter(customer__in=customers_scoped(user).values("pk"))
    if per == "product":
        base = base.annotate(group_key=F("customer__grading_metrics__product"))
    else:
        base = base.annotate(group_key=F("customer__department_id"))
    counts: dict = {}
    for row in base.values("group_key", "grade").annotate(n=Count("pk")).order_by():
        counts.setdefault(row["group_key"], {})[row["grade"]] = row["n"]
    names = {}
    if per == "department":
        names = dict(Department.objects.filter(pk__in=[k for k in counts if k is not None]).values_list("pk", "name"))
    result = []
    for group, by_grade in sorted(counts.items(), key=lambda kv: str(names.get(kv[0], kv[0] or ""))):
        total = sum(by_grade.values())
        cells = []
        for g in grades:
            n = by_grade.get(g.key, 0)
            quota = next((q for q in quotas if q["grade"] == g.key), None)
            limit = int(total * quota["max_percent"] // 100) if quota else None
            cells.append({
                "grade": g, "count": n, "percent": round(n * 100 / total, 1) if total else 0,
                "quota": quota, "limit": limit, "over": quota is not None and n > limit,
            })
        label = names.get(group, group) if per == "department" else (group or _("（未填品种）"))
        result.append({"key": group, "label": label, "total": total, "cells": cells})
    return result


def pending_changes(user, *, after: int | None = None, limit: int = 50):
    limit = max(1, min(int(limit or 50), MAX_LIMIT))
    qs = GradeChange.objects.filter(customer__in=customers_scoped(user).values("pk")).select_related("customer", "proposed_by").order_by("-id")
    if after:
        qs = qs.filter(id__lt=after)
    rows = list(qs[: limit + 1])
    return rows[:limit], (rows[limit - 1].pk if len(rows) > limit else None)
