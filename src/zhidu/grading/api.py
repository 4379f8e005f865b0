"""/api/v1/grading: the grade scheme, per-customer grade/metrics/history, grade assignment and changes,
reviews (start, proposals, exclude/evidence, submit, cancel), distribution versus quota and review
progress. Thin: services and selectors do the work; errors come out as {code, message, details}."""

import datetime as dt
from decimal import Decimal
from typing import Literal

from ninja import Query, Router, Schema, Status

from zhidu.kernel.errors import ERROR_RESPONSES
from zhidu.kernel.idempotency import idempotent

from . import scheme, selectors, services
from .policy import SCHEMA

router = Router(tags=["grading"])
ERRORS = ERROR_RESPONSES


def _user(request):
    return request.auth


class GradeOut(Schema):
    grade: str
    label: str
    priority_rank: int | None
    has_priority: bool
    discount_rate: float | None
    visit_every_months: int | None
    provisional_until: dt.date | None
    since: dt.datetime
    score: Decimal | None
    citation: str
    warnings: list[dict] = []


class SchemeGrade(Schema):
    key: str
    label: str
    order: int
    priority_rank: int
    has_priority: bool
    visit_every_months: int | None
    discount_rate: float | None
    rules: dict


class SchemeOut(Schema):
    grades: list[SchemeGrade]
    criteria: list[dict]
    quotas: list[dict]
    thresholds: list[dict]
    evaluation_form: str
    review_form: str
    review_every_months: int
    review_window: dict | None
    provisional_months: int
    downgrade_deadline: dict | None
    sources: dict


class MetricsIn(Schema):
    sales_amount: Decimal | None = None
    sales_growth: Decimal | None = None
    bed_count: int | None = None
    hospital_level: int | None = None
    overdue_count: int | None = None
    evaluation_score: Decimal | None = None
    nature: str | None = None
    size: str | None = None
    product: str | None = None
    business_since: dt.date | None = None
    note: str | None = None
    expected_version: int | None = None


class MetricsOut(Schema):
    customer_id: int
    sales_amount: Decimal | None
    sales_growth: Decimal | None
    bed_count: int | None
    hospital_level: int | None
    overdue_count: int
    evaluation_score: Decimal | None
    nature: str
    size: str
    product: str
    business_since: dt.date | None
    score: Decimal | None
    note: str
    version: int


class HistoryOut(Schema):
    id: int
    from_grade: str
    to_grade: str
    reason: str
    evidence: str
    citation: str
    reviewer: str | None
    review_id: int | None
    change_id: int | None
    at: dt.datetime


class CustomerGradingOut(Schema):
    customer_id: int
    name: str
    grade: GradeOut | None
    metrics: MetricsOut | None
    history: list[HistoryOut]


class AssignIn(Schema):
    grade: str
    reason: str
    citation: str = ""
    evidence: str = ""


class ChangeIn(Schema):
    to_grade: str
    reason: str
    evidence: str = ""
    citation: str = ""


class ChangeOut(Schema):
    id: int
    customer_id: int
    from_grade: str
    to_grade: str
    is_downgrade: bool
    reason: str
    evidence: str
    citation: str
    state: str
    approval_id: int | None
    due_at: dt.datetime | None


class ReviewIn(Schema):
    department: int | None = None
    title: str = ""


class ReviewOut(Schema):
    id: int
    title: str
    department_id: int | None
    state: str
    form: str
    citation: str
    counts: dict
    approval_id: int | None
    downgrade_due_at: dt.datetime | None
    started_at: dt.datetime
    version: int


class ReviewPage(Schema):
    items: list[ReviewOut]
    next_cursor: int | None


class ItemOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    current_grade: str
    eligible_grade: str
    proposed_grade: str
    change: str
    score: Decimal | None
    quota_note: str
    provisional: bool
    excluded: bool
    evidence: str


class ItemPage(Schema):
    items: list[ItemOut]
    next_cursor: int | None


class ItemPatch(Schema):
    excluded: bool | None = None
    evidence: str | None = None
    expected_version: int | None = None


class VersionIn(Schema):
    expected_version: int | None = None


class DistributionCell(Schema):
    grade: str
    count: int
    percent: float
    max_percent: float | None
    limit: int | None
    enforcement: str | None
    over: bool


class DistributionRow(Schema):
    key: str | None
    label: str
    total: int
    cells: list[DistributionCell]


def _review(r) -> dict:
    return {"id": r.pk, "title": r.title, "department_id": r.department_id, "state": r.state, "form": r.form, "citation": r.citation,
            "counts": r.counts or {}, "approval_id": r.approval_id, "downgrade_due_at": r.downgrade_due_at, "started_at": r.started_at,
            "version": r.version}


def _item(i) -> dict:
    return {"id": i.pk, "customer_id": i.customer_id, "customer_name": i.customer.name, "current_grade": i.current_grade,
            "eligible_grade": i.eligible_grade, "proposed_grade": i.proposed_grade, "change": i.change, "score": i.score,
            "quota_note": i.quota_note, "provisional": i.provisional, "excluded": i.excluded, "evidence": i.evidence}


def _change(c) -> dict:
    return {"id": c.pk, "customer_id": c.customer_id, "from_grade": c.from_grade, "to_grade": c.to_grade, "is_downgrade": c.is_downgrade,
            "reason": c.reason, "evidence": c.evidence, "citation": c.citation, "state": c.state, "approval_id": c.approval_id,
            "due_at": c.due_at}


def _metrics(m) -> dict | None:
    if m is None:
        return None
    return {"customer_id": m.customer_id, **{f: getattr(m, f) for f in ("sales_amount", "sales_growth", "bed_count", "hospital_level",
            "overdue_count", "evaluation_score", "nature", "size", "product", "business_since", "score", "note", "version")}}


@router.get("/scheme", response={200: SchemeOut, **ERRORS}, summary="The grade scheme, criteria, quotas and thresholds in force")
def scheme_get(request):
    selectors.require_view(_user(request))
    from zhidu.kernel import policy

    rates = scheme.discount_rates()
    thresholds = []
    for slot in scheme.referenced_thresholds():
        key = f"grading.threshold.{slot}"
        try:
            value = policy.value(key)
        except policy.ParameterMissing:
            value = None
        thresholds.append({"key": key, "label": str(SCHEMA[key].label), "value": value, "source": scheme.source(key)})
    keys = ("grading.grades", "grading.criteria", "grading.quotas", "grading.review.every_months", "grading.review.window",
            "grading.provisional_months", "grading.downgrade.deadline", "grading.change.chain", "grading.discount_rates")
    return {
        "grades": [{"key": g.key, "label": g.display, "order": g.order, "priority_rank": g.priority_rank, "has_priority": g.has_priority,
                    "visit_every_months": g.visit_every_months, "discount_rate": rates.get(g.key), "rules": g.rules} for g in scheme.grades()],
        "criteria": policy.value("grading.criteria"),
        "quotas": scheme.quotas(),
        "thresholds": thresholds,
        "evaluation_form": policy.value("grading.evaluation_form"),
        "review_form": policy.value("grading.review.form"),
        "review_every_months": policy.value("grading.review.every_months"),
        "review_window": policy.value("grading.review.window"),
        "provisional_months": policy.value("grading.provisional_months"),
        "downgrade_deadline": policy.value("grading.downgrade.deadline"),
        "sources": {k: scheme.source(k) for k in keys},
    }


@router.get("/customers/{customer_id}", response={200: CustomerGradingOut, **ERRORS}, summary="A customer's grade, metrics and grade history")
def customer_grading(request, customer_id: int):
    data = selectors.customer_grading(_user(request), customer_id)
    return {"customer_id": data.customer.pk, "name": data.customer.name, "grade": data.grade, "metrics": _metrics(data.metrics),
            "history": [{"id": h.pk, "from_grade": h.from_grade, "to_grade": h.to_grade, "reason": h.reason, "evidence": h.evidence,
                         "citation": h.citation, "reviewer": str(h.reviewer) if h.reviewer else None, "review_id": h.review_id,
                         "change_id": h.change_id, "at": h.at} for h in data.history]}


@router.put("/customers/{customer_id}/metrics", response={200: MetricsOut, **ERRORS}, summary="Record a customer's evaluation metrics (409 when `expected_version` is stale)")
def metrics_put(request, customer_id: int, payload: MetricsIn):
    data = payload.model_dump(exclude={"expected_version"}, exclude_unset=True)
    row = services.metrics_set(_user(request), customer_id, data, expected_version=payload.expected_version, request=request)
    return _metrics(row)


@router.post("/customers/{customer_id}/grade", response={200: GradeOut, **ERRORS}, summary="Assign a grade directly (quotas apply)")
def grade_assign(request, customer_id: int, payload: AssignIn):
    return services.grade_assign(customer_id, payload.grade, actor=_user(request), reason=payload.reason, citation=payload.citation,
                                 evidence=payload.evidence, request=request)


@router.post("/customers/{customer_id}/changes", response={201: ChangeOut, **ERRORS}, summary="Propose an upgrade or downgrade (Idempotency-Key honoured)")
@idempotent
def change_propose(request, customer_id: int, payload: ChangeIn):
    change = services.grade_change_propose(_user(request), customer_id, payload.to_grade, reason=payload.reason,
                                           evidence=payload.evidence, citation=payload.citation, request=request)
    return Status(201, _change(change))


@router.get("/reviews", response={200: ReviewPage, **ERRORS}, summary="Reviews, newest first (keyset: pass next_cursor as after)")
def review_list(request, after: int | None = None, limit: int = 50):
    rows, cursor = selectors.review_list(_user(request), after=after, limit=limit)
    return {"items": [_review(r) for r in rows], "next_cursor": cursor}


@router.post("/reviews", response={201: ReviewOut, **ERRORS}, summary="Start a review: proposals computed set-based (Idempotency-Key honoured)")
@idempotent
def review_start(request, payload: ReviewIn):
    review = services.review_start(_user(request), department=payload.department, title=payload.title, request=request)
    return Status(201, _review(review))


@router.get("/reviews/{review_id}", response={200: ReviewOut, **ERRORS}, summary="One review")
def review_get(request, review_id: int):
    return _review(selectors.review_get(_user(request), review_id))


@router.get("/reviews/{review_id}/items", response={200: ItemPage, **ERRORS}, summary="A review's proposals")
def review_items(request, review_id: int, change: Literal["", "new", "up", "down", "same"] = "", after: int | None = None, limit: int = 50):
    _, rows, cursor = selectors.review_items(_user(request), review_id, change=change, after=after, limit=limit)
    return {"items": [_item(i) for i in rows], "next_cursor": cursor}


@router.patch("/reviews/{review_id}/items/{item_id}", response={200: ItemOut, **ERRORS}, summary="Keep a customer's grade (excluded) or record evidence")
def review_item_patch(request, review_id: int, item_id: int, payload: ItemPatch):
    item = services.review_item_update(_user(request), review_id, item_id, excluded=payload.excluded, evidence=payload.evidence,
                                       expected_version=payload.expected_version, request=request)
    return _item(item)


@router.post("/reviews/{review_id}/submit", response={200: ReviewOut, **ERRORS}, summary="Send the review through the approval chain")
def review_submit(request, review_id: int, payload: VersionIn):
    return _review(services.review_submit(_user(request), review_id, expected_version=payload.expected_version, request=request))


@router.post("/reviews/{review_id}/cancel", response={200: ReviewOut, **ERRORS}, summary="Cancel a review not yet submitted")
def review_cancel(request, review_id: int):
    return _review(services.review_cancel(_user(request), review_id, request=request))


@router.get("/distribution", response={200: list[DistributionRow], **ERRORS}, summary="Grade distribution versus quota per department or product")
def distribution(request, per: Literal["department", "product"] = "department"):
    rows = selectors.distribution(_user(request), per=per)
    return [{"key": None if r["key"] is None else str(r["key"]), "label": str(r["label"]), "total": r["total"],
             "cells": [{"grade": c["grade"].key, "count": c["count"], "percent": c["percent"],
                        "max_percent": c["quota"]["max_percent"] if c["quota"] else None, "limit": c["limit"],
                        "enforcement": c["quota"]["enforcement"] if c["quota"] else None, "over": c["over"]} for c in r["cells"]]}
            for r in rows]


@router.get("/priority", response={200: dict[str, int], **ERRORS}, summary="\"四优先\" rank per customer id (lower first)")
def priority(request, ids: list[int] = Query(...)):
    user = _user(request)
    visible = set(selectors.customers_scoped(user).filter(pk__in=ids[:1000]).values_list("pk", flat=True))
    return {str(k): v for k, v in selectors.priority_ranks(visible).items()}
