"""/api/v1/grading: the grade scheme, per-customer grade/metrics/history, grade assignment and changes,
reviews (start, proposals, exclude/evidence, submit, cancel), distribution versus quota and review
progress. Thin: services and selectors do the work; errors come out as {code, message, details}."""

import datetime as dt
from decimal import Decimal
from typing import Annotated, Literal

from ninja import Path, Query, Router, Schema, Status
from pydantic import Field

from zhidu.customers.schemas import BodyId, Id
from zhidu.kernel.errors import ERROR_RESPONSES
from zhidu.kernel.idempotency import idempotent

from . import scheme, selectors, services
from .policy import SCHEMA

router = Router(tags=["grading"])
ERRORS = ERROR_RESPONSES

Text = Annotated[str, Field(max_length=1000)]
ShortText = Annotated[str, Field(max_length=300)]
GradeKey = Annotated[str, Field(max_length=40)]
Number = Annotated[int, Field(ge=0, le=10_000_000, strict=True)]
Version = Annotated[int, Field(ge=1, le=2**31, strict=True)]


def _user(request):
    return request.auth


class GradingGradeOut(Schema):
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
    bed_count: Number | None = None
    hospital_level: Number | None = None
    overdue_count: Number | None = None
    evaluation_score: Decimal | None = None
    nature: ShortText | None = None
    size: ShortText | None = None
    product: ShortText | None = None
    business_since: dt.date | None = None
    note: Text | None = None
    expected_version: Version | None = None


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
    grade: GradingGradeOut | None
    metrics: MetricsOut | None
    history: list[HistoryOut]


class GradeAssignIn(Schema):
    grade: GradeKey
    reason: Text
    citation: Text = ""
    evidence: Text = ""


class GradeChangeIn(Schema):
    to_grade: GradeKey
    reason: Text
    evidence: Text = ""
    citation: Text = ""


class GradeChangeOut(Schema):
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


class GradingReviewIn(Schema):
    department: BodyId | None = None
    title: ShortText = ""


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


class ReviewItemOut(Schema):
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


class ReviewItemPage(Schema):
    items: list[ReviewItemOut]
    next_cursor: int | None


class ReviewItemPatch(Schema):
    excluded: bool | None = None
    evidence: Text | None = None
    expected_version: Version | None = None


class VersionIn(Schema):
    expected_version: Version | None = None


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
def customer_grading(request, customer_id: Id = Path(...)):
    data = selectors.customer_grading(_user(request), customer_id)
    return {"customer_id": data.customer.pk, "name": data.customer.name, "grade": data.grade, "metrics": _metrics(data.metrics),
            "history": [{"id": h.pk, "from_grade": h.from_grade, "to_grade": h.to_grade, "reason": h.reason, "evidence": h.evidence,
                         "citation": h.citation, "reviewer": str(h.reviewer) if h.reviewer else None, "review_id": h.review_id,
                         "change_id": h.change_id, "at": h.at} for h in data.history]}


@router.put("/customers/{customer_id}/metrics", response={200: MetricsOut, **ERRORS}, summary="Record a customer's evaluation metrics (409 when `expected_version` is stale)")
def metrics_put(request, payload: MetricsIn, customer_id: Id = Path(...)):
    data = payload.model_dump(exclude={"expected_version"}, exclude_unset=True)
    row = services.metrics_set(_user(request), customer_id, data, expected_version=payload.expected_version, request=request)
    return _metrics(row)


@router.post("/customers/{customer_id}/grade", response={200: GradingGradeOut, **ERRORS}, summary="Assign a grade directly (quotas apply)")
def grade_assign(request, payload: GradeAssignIn, customer_id: Id = Path(...)):
    return services.grade_assign(customer_id, payload.grade, actor=_user(request), reason=payload.reason, citation=payload.citation,
                                 evidence=payload.evidence, request=request)


@router.post("/customers/{customer_id}/changes", response={201: GradeChangeOut, **ERRORS}, summary="Propose an upgrade or downgrade (Idempotency-Key honoured)")
@idempotent
def change_propose(request, payload: GradeChangeIn, customer_id: Id = Path(...)):
    change = services.grade_change_propose(_user(request), customer_id, payload.to_grade, reason=payload.reason,
                                           evidence=payload.evidence, citation=payload.citation, request=request)
    return Status(201, _change(change))


@router.get("/reviews", response={200: ReviewPage, **ERRORS}, summary="Reviews, newest first (keyset: pass next_cursor as after)")
def review_list(request, after: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    rows, cursor = selectors.review_list(_user(request), after=after, limit=limit)
    return {"items": [_review(r) for r in rows], "next_cursor": cursor}


@router.post("/reviews", response={201: ReviewOut, **ERRORS}, summary="Start a review: proposals computed set-based (Idempotency-Key honoured)")
@idempotent
def review_start(request, payload: GradingReviewIn):
    review = services.review_start(_user(request), department=payload.department, title=payload.title, request=request)
    return Status(201, _review(review))


@router.get("/reviews/{review_id}", response={200: ReviewOut, **ERRORS}, summary="One review")
def review_get(request, review_id: Id = Path(...)):
    return _review(selectors.review_get(_user(request), review_id))


@router.get("/reviews/{review_id}/items", response={200: ReviewItemPage, **ERRORS}, summary="A review's proposals")
def review_items(
    request,
    review_id: Id = Path(...),
    change: Literal["", "new", "up", "down", "same"] = "",
    after: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    _, rows, cursor = selectors.review_items(_user(request), review_id, change=change, after=after, limit=limit)
    return {"items": [_item(i) for i in rows], "next_cursor": cursor}


@router.patch("/reviews/{review_id}/items/{item_id}", response={200: ReviewItemOut, **ERRORS}, summary="Keep a customer's grade (excluded) or record evidence")
def review_item_patch(request, payload: ReviewItemPatch, review_id: Id = Path(...), item_id: Id = Path(...)):
    item = services.review_item_update(_user(request), review_id, item_id, excluded=payload.excluded, evidence=payload.evidence,
                                       expected_version=payload.expected_version, request=request)
    return _item(item)


@router.post("/reviews/{review_id}/submit", response={200: ReviewOut, **ERRORS}, summary="Send the review through the approval chain")
def review_submit(request, payload: VersionIn, review_id: Id = Path(...)):
    return _review(services.review_submit(_user(request), review_id, expected_version=payload.expected_version, request=request))


@router.post("/reviews/{review_id}/cancel", response={200: ReviewOut, **ERRORS}, summary="Cancel a review not yet submitted")
def review_cancel(request, review_id: Id = Path(...)):
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
def priority(request, ids: list[Id] = Query(..., max_length=1000)):
    user = _user(request)
    visible = set(selectors.customers_scoped(user).filter(pk__in=ids).values_list("pk", flat=True))
    return {str(k): v for k, v in selectors.priority_ranks(visible).items()}
