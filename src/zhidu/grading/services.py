"""Every write of grading: one function per business action, each in a transaction and audited.

The review is set-based: scoring, eligibility, quota caps and applying the approved result are each one
SQL statement over all customers of the review (INSERT … SELECT, UPDATE with CASE / window functions),
never a loop of saves. Works on SQLite (3.25+, window functions) and PostgreSQL.

Errors: `Invalid` (422), `Conflict` (409, code "quota_exceeded" / "stale_version" …), `Forbidden` (403),
`NotFound` (404), and an ApiError code "thresholds_missing" (409) naming the blank thresholds.
"""

import calendar as pycalendar
import datetime as dt
import json
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import (Case, CharField, Count, DateField, DateTimeField, DecimalField, Exists, F, IntegerField, JSONField, OuterRef, Q,
                              Subquery, Value, When)
from django.db.models.functions import Cast, Coalesce
from django.db.models.lookups import GreaterThan, LessThan
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.customers.models import Customer
from zhidu.kernel import approvals, audit, deadlines, policy, schedules
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import ScheduledTask
from zhidu.org import permissions as perms
from zhidu.org.models import Department, User

from . import scheme, selectors
from .models import CustomerGrade, CustomerMetrics, EvaluationRecord, GradeChange, GradeHistory, HospitalLevel, Review, ReviewItem
from .policy import TEXT_METRICS

REVIEW_APPROVAL_KIND = "grading.review"
CHANGE_APPROVAL_KIND = "grading.change"
DOWNGRADE_KEY = "grading.downgrade.deadline"
VISIT_KIND = "grading.visit"
REVIEW_TASK_KIND = "grading.review"
CUSTOMER_TARGET = "customers.customer"
REASON_MAX = 300
EVIDENCE_MAX = 500

METRIC_FIELDS = ("sales_amount", "sales_growth", "bed_count", "hospital_level", "overdue_count", "evaluation_score",
                 "nature", "size", "product", "business_since", "note")
# Exclusive bounds of the decimal metrics, from their columns' precision (max_digits − decimal_places).
DECIMAL_BOUNDS = {"sales_amount": Decimal("1e11"), "sales_growth": Decimal("1e6"), "evaluation_score": Decimal("1e4")}


# ---------------------------------------------------------------- helpers


def _require(user, *codes) -> None:
    if user is None:
        return
    if not any(user.has_perm_code(code) for code in codes):
        label = "、".join(str(perms.ALL[c]) for c in codes)
        raise Forbidden(_("无权执行此操作：需要“%(permission)s”权限。") % {"permission": label}, details={"permission": codes[0]})


def _text(value, field: str, limit: int, required: bool = True) -> str:
    text = " ".join(str(value or "").split())
    if required and not text:
        message = _("请填写%(field)s") % {"field": field}
        raise Invalid(message, details={"fields": {field: [message]}})
    if len(text) > limit:
        message = _("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": limit, "length": len(text)}
        raise Invalid(message, details={"fields": {field: [message]}})
    return text


def _customer(user, customer) -> Customer:
    customer_id = getattr(customer, "pk", customer)
    qs = selectors.customers_visible_for_write(user) if user is not None else Customer.objects.all()
    found = qs.select_related("department").filter(pk=customer_id).first()
    if found is None:
        raise NotFound(_("客户不存在"))
    return found


def _version():
    return policy.current_version()


def _provisional_until(customer_id: int, today: dt.date) -> dt.date | None:
    months = policy.value("grading.provisional_months")
    if not months:
        return None
    since = CustomerMetrics.objects.filter(customer_id=customer_id).values_list("business_since", flat=True).first()
    if since is None:
        created = Customer.objects.filter(pk=customer_id).values_list("created_at", flat=True).first()
        since = timezone.localdate(created) if created else today
    until = _add_months(since, months)
    return until if until > today else None


def _add_months(day: dt.date, months: int) -> dt.date:
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    if year > dt.MAXYEAR:
        return dt.date.max
    if year < dt.MINYEAR:
        return dt.date.min
    return dt.date(year, month, min(day.day, pycalendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------- quotas


def quota_check(customer: Customer, grade_key: str, *, exclude_customer: bool = True) -> list[dict]:
    """Quotas the customer would break by taking `grade_key`. Raises Conflict (code quota_exceeded) for a
    `block` quota; returns the `warn` ones as warnings [{grade, per, max_percent, count, limit, message}]."""
    warnings = []
    product = CustomerMetrics.objects.filter(customer_id=customer.pk).values_list("product", flat=True).first() or ""
    for quota in scheme.quotas():
        if quota["grade"] != grade_key:
            continue
        if quota["per"] == "department":
            group = CustomerGrade.objects.filter(customer__department_id=customer.department_id)
            group_label = str(customer.department)
        else:
            if not product:
                continue
            group = CustomerGrade.objects.filter(customer__grading_metrics__product=product)
            group_label = product
        others = group.exclude(customer_id=customer.pk)
        total = others.count() + 1
        count = others.filter(grade=grade_key).count() + 1
        limit = int(total * quota["max_percent"] // 100)
        if count <= limit:
            continue
        message = _("%(group)s 的“%(grade)s”客户将达到 %(count)d 户，超过上限 %(pct)s%%（%(total)d 户中最多 %(limit)d 户）") % {
            "group": group_label, "grade": scheme.grade(grade_key).display, "count": count,
            "pct": f"{quota['max_percent']:g}", "total": total, "limit": limit}
        item = {**quota, "count": count, "limit": limit, "total": total, "message": message, "source": scheme.source("grading.quotas")}
        if quota["enforcement"] == "block":
            raise Conflict(message, code="quota_exceeded", details=item)
        warnings.append(item)
    return warnings


# ---------------------------------------------------------------- grade assignment


def _write_grade(customer: Customer, grade_key: str, *, actor, reason: str, evidence: str = "", citation: str,
                 review=None, change=None, score=None, request=None) -> tuple[CustomerGrade, str]:
    definition = scheme.grade(grade_key)
    now = timezone.now()
    today = timezone.localdate(now)
    row = CustomerGrade.objects.select_for_update().filter(customer_id=customer.pk).first()
    old = row.grade if row else ""
    values = {"grade": definition.key, "grade_order": definition.order, "priority_rank": definition.priority_rank,
              "provisional_until": _provisional_until(customer.pk, today), "since": now, "citation": citation[:300],
              "pack_version": _version()}
    if score is not None:
        values["score"] = score
    if row is None:
        row = CustomerGrade.objects.create(customer=customer, **values)
    else:
        CustomerGrade.objects.filter(pk=row.pk).update(version=F("version") + 1, **values)
        row.refresh_from_db()
    GradeHistory.objects.create(customer=customer, from_grade=old, to_grade=definition.key, reason=reason[:300],
                                evidence=evidence[:500], citation=citation[:300], reviewer=actor, review=review,
                                change=change, score=row.score, at=now, pack_version=values["pack_version"])
    audit.record(actor, "grading.grade", customer, {"from": old, "to": definition.key, "reason": reason, "evidence": evidence,
                                                    "citation": citation, "review": getattr(review, "pk", None),
                                                    "change": getattr(change, "pk", None)}, request=request)
    _visit_sync_one(customer, definition, actor)
    return row, old


def grade_assign(customer, grade_key, *, actor, reason, citation, request=None, evidence: str = "") -> dict:
    """Gives a customer a grade directly (first grade at admission, re-entry at the lowest grade). Quotas
    apply (block raises Conflict quota_exceeded; warn comes back in "warnings"). Returns grade_of(...)."""
    _require(actor, perms.GRADING_ADMIT, perms.GRADING_REVIEW)
    reason = _text(reason, "reason", REASON_MAX)
    citation = _text(citation, "citation", 300, required=False)
    evidence = _text(evidence, "evidence", EVIDENCE_MAX, required=False)
    scheme.grade(grade_key)
    with transaction.atomic():
        target = _customer(actor, customer)
        warnings = quota_check(target, grade_key)
        _write_grade(target, grade_key, actor=actor, reason=reason, evidence=evidence, citation=citation, request=request)
    result = selectors.grade_of(target) or {}
    result["warnings"] = warnings
    return result


# ---------------------------------------------------------------- metrics (evaluation inputs)


def _clean_metrics(data: dict) -> tuple[dict, dict]:
    cleaned, errors = {}, {}
    for field in METRIC_FIELDS:
        if field not in data:
            continue
        raw = data[field]
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            cleaned[field] = "" if field in ("nature", "size", "product", "note") else (0 if field == "overdue_count" else None)
            continue
        try:
            if field in ("sales_amount", "sales_growth", "evaluation_score"):
                value = Decimal(str(raw).replace(",", "").strip())
                if not value.is_finite() or abs(value.quantize(Decimal("0.01"))) >= DECIMAL_BOUNDS[field]:
                    raise InvalidOperation
                if field == "evaluation_score" and not (0 <= value <= 100):
                    errors[field] = [_("评价表得分应在 0–100 之间")]
                    continue
                if field == "sales_amount" and value < 0:
                    errors[field] = [_("不能为负数")]
                    continue
                cleaned[field] = value.quantize(Decimal("0.01"))
            elif field in ("bed_count", "overdue_count", "hospital_level"):
                if isinstance(raw, bool):
                    raise ValueError
                number = Decimal(str(raw).strip())
                if number != number.to_integral_value() or number < 0 or number > 10_000_000:
                    raise ValueError
                cleaned[field] = int(number)
                if field == "hospital_level" and cleaned[field] not in HospitalLevel.values:
                    errors[field] = [_("医院等级应为 0–5（0 无、1 一级、2 二级乙等、3 二级甲等、4 三级乙等、5 三级甲等）")]
            elif field == "business_since":
                cleaned[field] = raw if isinstance(raw, dt.date) else dt.date.fromisoformat(str(raw).strip()[:10])
            else:
                limit = 300 if field == "note" else (60 if field == "product" else 40)
                text = " ".join(str(raw).split())
                if len(text) > limit:
                    errors[field] = [_("不能超过 %(limit)d 个字符（当前 %(length)d 个）") % {"limit": limit, "length": len(text)}]
                    continue
                cleaned[field] = text
        except (InvalidOperation, ValueError, TypeError):
            errors[field] = [_("格式不正确：%(value)s") % {"value": str(raw)[:40]}]
    return cleaned, errors


def metrics_set(user, customer_id, data: dict, *, expected_version: int | None = None, form: str = "", request=None) -> CustomerMetrics:
    """Records a customer's evaluation inputs (an evaluation record is kept of every entry)."""
    _require(user, perms.GRADING_REVIEW, perms.GRADING_ADMIT)
    cleaned, errors = _clean_metrics(data or {})
    unknown = sorted(set(data or {}) - set(METRIC_FIELDS))
    if unknown:
        errors["__all__"] = [_("未知字段：%(fields)s") % {"fields": "、".join(unknown)}]
    if errors:
        raise Invalid(_("评价指标有误，请修改后重新提交"), details={"fields": errors})
    with transaction.atomic():
        customer = _customer(user, customer_id)
        row = CustomerMetrics.objects.select_for_update().filter(customer=customer).first()
        if row is not None and expected_version is not None and row.version != expected_version:
            raise Conflict(_("该客户的评价指标已被他人修改，请刷新后重试"), code="stale_version",
                           details={"current_version": row.version, "expected_version": expected_version})
        if row is None:
            row = CustomerMetrics.objects.create(customer=customer, updated_by=user, **cleaned)
        else:
            CustomerMetrics.objects.filter(pk=row.pk).update(version=F("version") + 1, updated_by=user, updated_at=timezone.now(), **cleaned)
            row.refresh_from_db()
        values = {k: (str(v) if isinstance(v, (Decimal, dt.date)) else v) for k, v in cleaned.items()}
        EvaluationRecord.objects.create(customer=customer, form=form or policy.value("grading.evaluation_form"), values=values,
                                        note=cleaned.get("note", ""), by=user)
        audit.record(user, "grading.metrics", customer, values, request=request)
    return row


# ---------------------------------------------------------------- the set-based review


def _metric_ref(metric: str) -> str:
    return f"grading_metrics__{metric}"


def _condition_q(cond: dict, thresholds: dict) -> Q:
    metric = cond["metric"]
    value = thresholds[cond["threshold"]] if cond.get("threshold") else cond["value"]
    ref = _metric_ref(metric)
    op = cond.get("op", "gte")
    if op == "gte":
        return Q(**{f"{ref}__gte": value})
    if op == "lte":
        return Q(**{f"{ref}__lte": value})
    if op == "eq":
        return Q(**{ref: value})
    return Q(**{f"{ref}__in": value if isinstance(value, list) else [value]})


def _rules_q(rules: dict, thresholds: dict) -> Q:
    q = Q()
    for cond in rules.get("all_of") or []:
        q &= _condition_q(cond, thresholds)
    any_of = rules.get("any_of") or []
    if any_of:
        alternatives = Q()
        for cond in any_of:
            alternatives |= _condition_q(cond, thresholds)
        q &= alternatives
    return q


def _score_expression(thresholds: dict):
    """Σ weight × points / 100 over the evaluation form's criteria, as one SQL expression over the
    metrics columns of a CustomerMetrics row (a blank metric scores 0)."""
    total = None
    for criterion in policy.value("grading.criteria"):
        metric = criterion["metric"]
        if metric == "score":
            continue
        if metric in TEXT_METRICS:
            whens = [When(**{metric: key}, then=Value(Decimal(str(points)))) for key, points in criterion["map"].items()]
        elif not criterion.get("bands"):
            whens = [When(**{f"{metric}__gt": 100}, then=Value(Decimal(100))), When(**{f"{metric}__lt": 0}, then=Value(Decimal(0))),
                     When(**{f"{metric}__isnull": False}, then=Cast(metric, DecimalField(max_digits=7, decimal_places=2)))]
        else:
            bands = []
            for band in criterion["bands"]:
                limit = thresholds[band["threshold"]] if band.get("threshold") else band["min"]
                bands.append((Decimal(str(limit)), Decimal(str(band["points"]))))
            lower = criterion.get("lower_is_better")
            bands.sort(key=lambda b: b[0], reverse=not lower)
            lookup = "lte" if lower else "gte"
            whens = [When(**{f"{metric}__{lookup}": limit}, then=Value(points)) for limit, points in bands]
        points = Case(*whens, default=Value(Decimal(0)), output_field=DecimalField(max_digits=7, decimal_places=2))
        term = points * Value(Decimal(str(criterion["weight"])) / Decimal(100))
        total = term if total is None else total + term
    return total


def _review_window_check(on: dt.date) -> None:
    window = policy.value("grading.review.window")
    if not window:
        return
    if on.month != window["month"] or not (window["day_from"] <= on.day <= window["day_to"]):
        raise Invalid(
            _("制度规定分级评审在每年 %(month)d 月 %(start)d 日至 %(end)d 日进行（%(source)s），今天不在评审期内")
            % {"month": window["month"], "start": window["day_from"], "end": window["day_to"], "source": scheme.source("grading.review.window")},
            code="outside_review_window", details={"window": window},
        )


def _items_table() -> str:
    return connection.ops.quote_name(ReviewItem._meta.db_table)


def review_start(user, *, department=None, title: str = "", on: dt.date | None = None, request=None) -> Review:
    """Opens a review of the customers of `department` (its subtree; None = every customer the user
    may see) and computes every proposal set-based:
    1. scores: one UPDATE of the metrics table with the weighted criteria;
    2. proposals: one INSERT … SELECT of eligible grades (the pack's rules, highest grade first);
    3. quotas: per grade and quota one UPDATE that ranks by score with window functions and moves the
       customers beyond a `block` cap one grade down (a `warn` quota only marks them).
    The change against the current grade (new / up / down / same) is written by the INSERT and again by
    a quota UPDATE for the customers it moves, never by a pass over every item."""
    _require(user, perms.GRADING_REVIEW)
    on = on or timezone.localdate()
    thresholds = scheme.thresholds()  # fails first, naming every blank threshold
    _review_window_check(on)
    grades = scheme.grades()
    dept = None
    if department not in (None, ""):
        dept = Department.objects.filter(pk=getattr(department, "pk", department)).first()
        if dept is None:
            raise Invalid(_("部门不存在"), details={"fields": {"department": [_("部门不存在")]}})
    customers = selectors.customers_visible_for_write(user).exclude(status__in=["blacklisted", "terminated", "prospect"])
    if dept is not None:
        customers = customers.filter(department__path__startswith=dept.path)
    if Review.objects.filter(state__in=[Review.State.DRAFT, Review.State.SUBMITTED], department=dept).exists():
        raise Conflict(_("该范围已有未完成的分级评审，请先完成或撤销"), code="review_open")
    form_name = policy.value("grading.review.form")
    title = _text(title, "title", 200, required=False) or _("%(form)s %(date)s") % {"form": form_name, "date": on.isoformat()}
    now = timezone.now()
    with transaction.atomic():
        review = Review.objects.create(title=title, department=dept, form=form_name, started_by=user,
                                       citation=scheme.source("grading.review.every_months")[:300], pack_version=_version())
        # 1. scores
        score = _score_expression(thresholds)
        if score is not None:
            CustomerMetrics.objects.filter(customer__in=customers.values("pk")).update(score=score, scored_at=now)
        # 2. proposals
        eligible = Case(*[When(_rules_q(g.rules, thresholds), then=Value(g.key)) for g in grades[:-1]],
                        default=Value(grades[-1].key), output_field=CharField())
        eligible_order = Case(*[When(_rules_q(g.rules, thresholds), then=Value(g.order)) for g in grades[:-1]],
                              default=Value(grades[-1].order), output_field=IntegerField())
        months = policy.value("grading.provisional_months")
        provisional = Value(False)
        if months:
            cutoff = _add_months(on, -months)
            provisional = Case(When(Q(grading_metrics__business_since__gt=cutoff) | Q(grading_metrics__business_since__isnull=True, created_at__date__gt=cutoff), then=Value(True)),
                               default=Value(False))
        columns = ["review_id", "customer_id", "department_id", "product", "current_grade", "current_order", "eligible_grade",
                   "proposed_grade", "proposed_order", "score", "change", "quota_note", "provisional", "excluded", "evidence"]
        select = customers.order_by().annotate(
            x_review=Value(review.pk), x_customer=F("pk"), x_department=F("department_id"),
            x_product=Coalesce(F("grading_metrics__product"), Value("")),
            x_current=Coalesce(F("grading_grade__grade"), Value("")), x_current_order=F("grading_grade__grade_order"),
            x_eligible=eligible, x_proposed=eligible, x_proposed_order=eligible_order, x_score=F("grading_metrics__score"),
            x_change=_change(eligible_order, F("grading_grade__grade_order"), Q(grading_grade__grade__isnull=True) | Q(grading_grade__grade="")),
            x_note=Value(""), x_provisional=provisional, x_excluded=Value(False), x_evidence=Value(""),
        ).values("x_review", "x_customer", "x_department", "x_product", "x_current", "x_current_order", "x_eligible", "x_proposed",
                 "x_proposed_order", "x_score", "x_change", "x_note", "x_provisional", "x_excluded", "x_evidence")
        sql, params = select.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {_items_table()} ({', '.join(columns)}) {sql}", params)
        # 3. quotas (highest grade first, so a capped customer may meet the next grade's cap)
        notes = {}
        for g_index, g in enumerate(grades[:-1]):
            for quota in [q for q in scheme.quotas() if q["grade"] == g.key]:
                below = grades[g_index + 1]
                notes[(g.key, quota["per"])] = _apply_quota(review, quota, g, below)
        review.counts = _counts(review)
        review.save(update_fields=["counts"])
        task = ScheduledTask.objects.filter(kind=REVIEW_TASK_KIND, state=ScheduledTask.State.OPEN,
                                            target_type="org.department" if dept else "grading.company",
                                            target_id=str(dept.pk) if dept else "all").first()
        if task:
            Review.objects.filter(pk=review.pk).update(schedule_task=task)
            review.schedule_task = task
        audit.record(user, "grading.review_started", review, {"department": getattr(dept, "pk", None), "counts": review.counts,
                                                              "thresholds": thresholds}, request=request)
    return review


def _change(proposed_order, current_order, no_current: Q):
    """new / up / down / same: the proposed grade against the current one (order 0 = highest)."""
    return Case(
        When(no_current, then=Value(ReviewItem.Change.NEW)),
        When(LessThan(proposed_order, current_order), then=Value(ReviewItem.Change.UP)),
        When(GreaterThan(proposed_order, current_order), then=Value(ReviewItem.Change.DOWN)),
        default=Value(ReviewItem.Change.SAME), output_field=CharField())


def _apply_quota(review: Review, quota: dict, grade: scheme.Grade, below: scheme.Grade) -> int:
    """Ranks the review's customers proposed for `grade` within their department (or product) by score,
    best first, and moves those beyond floor(total × max% / 100) to the grade below (block) or marks them
    (warn). One UPDATE with ROW_NUMBER() / COUNT() window functions."""
    table = _items_table()
    partition = "department_id" if quota["per"] == "department" else "product"
    basis_points = int(round(quota["max_percent"] * 100))
    inner = (
        f"SELECT id, proposed_grade, ROW_NUMBER() OVER (PARTITION BY {partition}, proposed_grade "
        f"ORDER BY COALESCE(score, -1) DESC, customer_id) AS rn, COUNT(*) OVER (PARTITION BY {partition}) AS total "
        f"FROM {table} WHERE review_id = %s" + (" AND product <> ''" if quota["per"] == "product" else "")
    )
    over = f"SELECT id FROM ({inner}) ranked WHERE proposed_grade = %s AND rn * 10000 > total * %s"
    per_label = _("部门") if quota["per"] == "department" else _("品种")
    if quota["enforcement"] == "block":
        note = _("超过%(per)s“%(grade)s”比例上限 %(pct)s%%，降为“%(below)s”") % {
            "per": per_label, "grade": grade.display, "pct": f"{quota['max_percent']:g}", "below": below.display}
        change = (f"CASE WHEN current_grade = '' THEN '{ReviewItem.Change.NEW}' WHEN current_order > %s THEN '{ReviewItem.Change.UP}' "
                  f"WHEN current_order < %s THEN '{ReviewItem.Change.DOWN}' ELSE '{ReviewItem.Change.SAME}' END")
        sql = (f"UPDATE {table} SET proposed_grade = %s, proposed_order = %s, quota_note = %s, change = {change} "
               f"WHERE id IN ({over})")
        params = [below.key, below.order, note[:200], below.order, below.order, review.pk, grade.key, basis_points]
    else:
        note = _("超过%(per)s“%(grade)s”比例上限 %(pct)s%%（提醒）") % {
            "per": per_label, "grade": grade.display, "pct": f"{quota['max_percent']:g}"}
        sql = f"UPDATE {table} SET quota_note = %s WHERE id IN ({over})"
        params = [note[:200], review.pk, grade.key, basis_points]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.rowcount


def _counts(review: Review) -> dict:
    counts = {"total": 0, "new": 0, "up": 0, "down": 0, "same": 0, "quota": 0, "excluded": 0, "provisional": 0}
    for row in ReviewItem.objects.filter(review=review).values("change").annotate(n=Count("id")).order_by():
        counts[row["change"]] = row["n"]
        counts["total"] += row["n"]
    extra = ReviewItem.objects.filter(review=review).aggregate(
        quota=Count("id", filter=~Q(quota_note="")), excluded=Count("id", filter=Q(excluded=True)),
        provisional=Count("id", filter=Q(provisional=True)))
    counts.update(extra)
    by_grade = {}
    for row in ReviewItem.objects.filter(review=review, excluded=False).values("proposed_grade").annotate(n=Count("id")).order_by():
        by_grade[row["proposed_grade"]] = row["n"]
    counts["by_grade"] = by_grade
    return counts


def _review_locked(user, review_id, expected_version=None) -> Review:
    review = selectors.review_get(user, review_id)
    review = Review.objects.select_for_update().get(pk=review.pk)
    if expected_version is not None and review.version != expected_version:
        raise Conflict(_("该评审已被他人修改，请刷新后重试"), code="stale_version",
                       details={"current_version": review.version, "expected_version": expected_version})
    return review


def review_item_update(user, review_id, item_id, *, excluded: bool | None = None, evidence: str | None = None,
                       expected_version: int | None = None, request=None) -> ReviewItem:
    """The reviewer keeps a customer at the current grade (excluded) or records the evidence for a change."""
    _require(user, perms.GRADING_REVIEW)
    with transaction.atomic():
        review = _review_locked(user, review_id, expected_version)
        if review.state != Review.State.DRAFT:
            raise Conflict(_("评审已提交，不能再修改"), code="review_not_draft")
        item = ReviewItem.objects.filter(review=review, pk=item_id,
                                         customer__in=selectors.customers_visible_for_write(user).values("pk")).first()
        if item is None:
            raise NotFound(_("评审条目不存在"))
        changes = {}
        if excluded is not None and item.change != ReviewItem.Change.NEW:
            changes["excluded"] = bool(excluded)
        if evidence is not None:
            changes["evidence"] = _text(evidence, "evidence", EVIDENCE_MAX, required=False)
        ReviewItem.objects.filter(pk=item.pk).update(**changes)
        Review.objects.filter(pk=review.pk).update(version=F("version") + 1)
        item.refresh_from_db()
        review.counts = _counts(review)
        Review.objects.filter(pk=review.pk).update(counts=review.counts)
        audit.record(user, "grading.review_item", review, {"item": item.pk, "customer": item.customer_id, **changes}, request=request)
    return item


def review_submit(user, review_id, *, expected_version: int | None = None, request=None) -> Review:
    """Sends the review's result through the pack's approval chain. Downgrades start the pack's
    downgrade deadline (S01: 5 days) on the kernel's deadlines."""
    _require(user, perms.GRADING_REVIEW)
    with transaction.atomic():
        review = _review_locked(user, review_id, expected_version)
        if review.state != Review.State.DRAFT:
            raise Conflict(_("评审已提交"), code="review_not_draft")
        counts = _counts(review)
        chain = policy.get("grading.change.chain")
        approval = approvals.start(
            REVIEW_APPROVAL_KIND, review, user, chain,
            title=_("分级评审：%(title)s（升级 %(up)d，降级 %(down)d，首次定级 %(new)d）") % {
                "title": review.title, "up": counts["up"], "down": counts["down"], "new": counts["new"]},
            payload={"review": review.pk, "counts": counts})
        due_at = None
        downgrades = ReviewItem.objects.filter(review=review, change=ReviewItem.Change.DOWN, excluded=False).exists()
        if downgrades:
            due_at = _downgrade_deadline(review, _("分级评审 %(title)s 的降级") % {"title": review.title}, f"/grading/reviews/{review.pk}/")
        Review.objects.filter(pk=review.pk).update(state=Review.State.SUBMITTED, approval=approval, submitted_at=timezone.now(),
                                                   downgrade_due_at=due_at, counts=counts, version=F("version") + 1)
        review.refresh_from_db()
        audit.record(user, "grading.review_submitted", review, {"approval": approval.pk, "counts": counts,
                                                                "downgrade_due_at": due_at.isoformat() if due_at else None}, request=request)
    return review


def _downgrade_deadline(target, title: str, link: str):
    param = policy.get(DOWNGRADE_KEY)
    if not param.value:
        return None
    ladder = policy.get("grading.downgrade.ladder")
    deadline = deadlines.deadline_start(target, DOWNGRADE_KEY, timezone.now(), param.value["amount"], param.value["unit"],
                                        param.source, ladder=ladder.value, ladder_source=ladder.source, title=title, link=link)
    return deadline.due_at


def _close_deadline(target) -> None:
    open_deadline = deadlines.open_for_target(target, DOWNGRADE_KEY)
    if open_deadline is not None:
        deadlines.deadline_met(open_deadline)


def review_cancel(user, review_id, *, request=None) -> Review:
    _require(user, perms.GRADING_REVIEW)
    with transaction.atomic():
        review = _review_locked(user, review_id)
        if review.state != Review.State.DRAFT:
            raise Conflict(_("只能撤销待提交的评审"), code="review_not_draft")
        Review.objects.filter(pk=review.pk).update(state=Review.State.CANCELLED, version=F("version") + 1)
        review.refresh_from_db()
        audit.record(user, "grading.review_cancelled", review, {}, request=request)
    return review


def on_review_approved(approval) -> None:
    review = Review.objects.select_for_update().get(pk=int(approval.target_id))
    approver = approval.decisions.order_by("-id").first().decided_by
    _review_apply(review, approver)


def on_review_rejected(approval) -> None:
    review = Review.objects.select_for_update().get(pk=int(approval.target_id))
    Review.objects.filter(pk=review.pk).update(state=Review.State.REJECTED, decided_at=timezone.now(), version=F("version") + 1)
    _close_deadline(review)
    approver = approval.decisions.order_by("-id").first().decided_by
    audit.record(approver, "grading.review_rejected", review, {"approval": approval.pk})


def _review_apply(review: Review, approver) -> None:
    """Applies the approved review in a few statements: history (INSERT … SELECT), changed grades
    (UPDATE with correlated subqueries), first grades (INSERT … SELECT), then visits."""
    now = timezone.now()
    grades = scheme.grades()
    rank = Case(*[When(proposed_grade=g.key, then=Value(g.priority_rank)) for g in grades], output_field=IntegerField())
    changed = ReviewItem.objects.filter(review=review, excluded=False).exclude(change=ReviewItem.Change.SAME)
    reason = _("%(form)s：%(title)s") % {"form": review.form, "title": review.title}
    citation = review.citation or scheme.source("grading.review.every_months")
    version = _version()
    months = policy.value("grading.provisional_months")
    today = timezone.localdate(now)
    no_date = Cast(Value(None), DateField())
    provisional_until = Case(When(provisional=True, then=Value(_add_months(today, months), output_field=DateField())), default=no_date,
                             output_field=DateField()) if months else no_date
    table = connection.ops.quote_name(GradeHistory._meta.db_table)
    # history
    history = changed.annotate(
        x_customer=F("customer_id"), x_from=F("current_grade"), x_to=F("proposed_grade"),
        x_reason=Value(reason[:300]), x_evidence=F("evidence"), x_citation=Value(citation[:300]),
        x_reviewer=Value(approver.pk), x_review=Value(review.pk), x_score=F("score"), x_at=Value(now),
        x_pack=Cast(Value(version.pk if version else None), IntegerField()),
    ).values("x_customer", "x_from", "x_to", "x_reason", "x_evidence", "x_citation", "x_reviewer", "x_review", "x_score", "x_at", "x_pack")
    sql, params = history.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (customer_id, from_grade, to_grade, reason, evidence, citation, reviewer_id, review_id, "
                       f"score, at, pack_version_id) {sql}", params)
    # changed grades
    item = ReviewItem.objects.filter(review=review, customer_id=OuterRef("customer_id"))
    CustomerGrade.objects.filter(customer_id__in=changed.filter(change__in=[ReviewItem.Change.UP, ReviewItem.Change.DOWN]).values("customer_id")).update(
        grade=Subquery(item.values("proposed_grade")[:1]),
        grade_order=Subquery(item.values("proposed_order")[:1]),
        priority_rank=Subquery(item.annotate(r=rank).values("r")[:1]),
        provisional_until=Subquery(item.annotate(p=provisional_until).values("p")[:1]),
        score=Subquery(item.values("score")[:1]),
        since=Value(now), citation=Value(citation[:300]), pack_version=Value(version.pk if version else None),
        version=F("version") + 1)
    # first grades
    table = connection.ops.quote_name(CustomerGrade._meta.db_table)
    first = changed.filter(change=ReviewItem.Change.NEW).annotate(
        x_customer=F("customer_id"), x_grade=F("proposed_grade"), x_order=F("proposed_order"), x_rank=rank,
        x_until=provisional_until, x_score=F("score"), x_since=Value(now), x_citation=Value(citation[:300]),
        x_pack=Cast(Value(version.pk if version else None), IntegerField()), x_version=Value(1),
    ).values("x_customer", "x_grade", "x_order", "x_rank", "x_until", "x_score", "x_since", "x_citation", "x_pack", "x_version")
    sql, params = first.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (customer_id, grade, grade_order, priority_rank, provisional_until, score, since, "
                       f"citation, pack_version_id, version) {sql}", params)
    # scores of unchanged customers
    CustomerGrade.objects.filter(customer_id__in=ReviewItem.objects.filter(review=review, change=ReviewItem.Change.SAME).values("customer_id")).update(
        score=Subquery(item.values("score")[:1]))
    Review.objects.filter(pk=review.pk).update(state=Review.State.APPLIED, decided_at=now, version=F("version") + 1)
    _close_deadline(review)
    visits_sync(customer_ids=changed.values("customer_id"), actor=approver, cancel_first=True)
    if review.schedule_task_id:
        task = ScheduledTask.objects.filter(pk=review.schedule_task_id, state=ScheduledTask.State.OPEN).first()
        if task:
            schedules.task_done(task, approver, note=review.title)
    counts = _counts(review)
    audit.record(approver, "grading.review_applied", review, {"counts": counts})


# ---------------------------------------------------------------- single grade change


def grade_change_propose(user, customer_id, to_grade: str, *, reason: str, evidence: str = "", citation: str = "",
                         request=None) -> GradeChange:
    """Proposes an upgrade or downgrade of one customer; it goes through the pack's approval chain, and a
    downgrade carries the pack's downgrade deadline (S01: 5 days, L305)."""
    _require(user, perms.GRADING_REVIEW)
    reason = _text(reason, "reason", REASON_MAX)
    evidence = _text(evidence, "evidence", EVIDENCE_MAX, required=False)
    target = scheme.grade(to_grade)
    with transaction.atomic():
        customer = _customer(user, customer_id)
        current = CustomerGrade.objects.filter(customer=customer).first()
        if current is not None and current.grade == target.key:
            raise Conflict(_("该客户已是“%(grade)s”") % {"grade": target.display}, code="same_grade")
        if GradeChange.objects.filter(customer=customer, state=GradeChange.State.PENDING).exists():
            raise Conflict(_("该客户已有审批中的等级变更"), code="change_pending")
        is_down = current is not None and target.order > current.grade_order
        if not is_down:
            quota_check(customer, target.key)  # a blocked upgrade is refused now, not at approval
        citation = _text(citation, "citation", 300, required=False) or scheme.source(
            DOWNGRADE_KEY if is_down else "grading.grades")
        change = GradeChange.objects.create(customer=customer, from_grade=current.grade if current else "", to_grade=target.key,
                                            is_downgrade=is_down, reason=reason, evidence=evidence, citation=citation, proposed_by=user)
        label = _("降级") if is_down else _("升级")
        approval = approvals.start(CHANGE_APPROVAL_KIND, change, user, policy.get("grading.change.chain"),
                                   title=_("客户%(label)s：%(name)s %(from)s → %(to)s") % {
                                       "label": label, "name": customer.name, "from": change.from_grade or "—", "to": target.display},
                                   payload={"customer": customer.pk, "from": change.from_grade, "to": target.key, "reason": reason})
        due_at = _downgrade_deadline(change, _("客户降级：%(name)s") % {"name": customer.name}, f"/grading/customers/{customer.pk}/") if is_down else None
        GradeChange.objects.filter(pk=change.pk).update(approval=approval, due_at=due_at)
        change.refresh_from_db()
        audit.record(user, "grading.change_proposed", customer, {"change": change.pk, "from": change.from_grade, "to": target.key,
                                                                 "reason": reason, "evidence": evidence, "citation": citation,
                                                                 "due_at": due_at.isoformat() if due_at else None}, request=request)
    return change


def on_change_approved(approval) -> None:
    change = GradeChange.objects.select_for_update().select_related("customer", "customer__department").get(pk=int(approval.target_id))
    approver = approval.decisions.order_by("-id").first().decided_by
    if not change.is_downgrade:
        quota_check(change.customer, change.to_grade)
    _write_grade(change.customer, change.to_grade, actor=approver, reason=change.reason, evidence=change.evidence,
                 citation=change.citation, change=change)
    GradeChange.objects.filter(pk=change.pk).update(state=GradeChange.State.APPLIED, decided_at=timezone.now())
    _close_deadline(change)


def on_change_rejected(approval) -> None:
    change = GradeChange.objects.select_for_update().get(pk=int(approval.target_id))
    GradeChange.objects.filter(pk=change.pk).update(state=GradeChange.State.REJECTED, decided_at=timezone.now())
    _close_deadline(change)


# ---------------------------------------------------------------- visits and review schedule


def _visit_title(grade: scheme.Grade) -> str:
    return _("拜访“%(grade)s”客户（每 %(n)d 个月）") % {"grade": grade.display, "n": grade.visit_every_months}


def _visit_sync_one(customer: Customer, grade: scheme.Grade, actor) -> None:
    schedules_open = ScheduledTask.objects.filter(kind=VISIT_KIND, target_type=CUSTOMER_TARGET, target_id=str(customer.pk),
                                                  state=ScheduledTask.State.OPEN).first()
    wanted = {"amount": grade.visit_every_months, "unit": "months"} if grade.visit_every_months else None
    if schedules_open is not None and schedules_open.recurrence == wanted:
        return
    if schedules_open is not None:
        ScheduledTask.objects.filter(pk=schedules_open.pk).update(state=ScheduledTask.State.CANCELLED)
    if wanted:
        first = _add_months(timezone.localdate(), grade.visit_every_months)
        schedules.schedule_recurring(VISIT_KIND, customer, first, grade.visit_every_months, "months", title=_visit_title(grade),
                                     source=scheme.source("grading.grades"), assignee=customer.owner)


def visits_sync(*, customer_ids=None, actor=None, cancel_first: bool = False) -> int:
    """Makes the open visit tasks match the grades in force, set-based: cancels (one UPDATE) the visit
    tasks of customers whose grade has no visit frequency (or, with cancel_first, of `customer_ids`),
    then creates the missing tasks with one INSERT … SELECT. Returns the number of tasks created."""
    grades = scheme.grades()
    no_visit = [g.key for g in grades if not g.visit_every_months]
    open_tasks = ScheduledTask.objects.filter(kind=VISIT_KIND, target_type=CUSTOMER_TARGET, state=ScheduledTask.State.OPEN)
    cancel = CustomerGrade.objects.filter(grade__in=no_visit)
    if customer_ids is not None and cancel_first:
        cancel = CustomerGrade.objects.filter(Q(grade__in=no_visit) | Q(customer_id__in=customer_ids))
    elif customer_ids is not None:
        cancel = cancel.filter(customer_id__in=customer_ids)
    open_tasks.filter(target_id__in=cancel.annotate(t=Cast("customer_id", CharField())).values("t")).update(state=ScheduledTask.State.CANCELLED)
    version = _version()
    source = scheme.source("grading.grades")[:300]
    today = timezone.localdate()
    now = timezone.now()
    table = connection.ops.quote_name(ScheduledTask._meta.db_table)
    visited = [g for g in grades if g.visit_every_months]
    if not visited:
        return 0

    def by_grade(values, output_field):
        return Case(*[When(grade=g.key, then=Value(values[g.key], output_field=output_field)) for g in visited], output_field=output_field)

    has_task = ScheduledTask.objects.filter(kind=VISIT_KIND, target_type=CUSTOMER_TARGET, state=ScheduledTask.State.OPEN,
                                            target_id=Cast(OuterRef("customer_id"), CharField()))
    missing = CustomerGrade.objects.filter(grade__in=[g.key for g in visited]).exclude(Exists(has_task))
    if customer_ids is not None:
        missing = missing.filter(customer_id__in=customer_ids)
    rows = missing.order_by().annotate(
        x_kind=Value(VISIT_KIND), x_type=Value(CUSTOMER_TARGET), x_target=Cast("customer_id", CharField()),
        x_title=by_grade({g.key: _visit_title(g) for g in visited}, CharField()),
        x_due=by_grade({g.key: _add_months(today, g.visit_every_months) for g in visited}, DateField()),
        x_state=Value(ScheduledTask.State.OPEN),
        x_recurrence=by_grade({g.key: {"amount": g.visit_every_months, "unit": "months"} for g in visited}, JSONField()),
        x_source=Value(source), x_assignee=F("customer__owner_id"),
        x_pack=Value(version.pk if version else None, output_field=IntegerField()), x_created=Value(now, output_field=DateTimeField()),
    ).values("x_kind", "x_type", "x_target", "x_title", "x_due", "x_state", "x_recurrence", "x_source", "x_assignee", "x_pack", "x_created")
    sql, params = rows.query.sql_with_params()
    # One INSERT … SELECT for every grade at once (one statement per grade would judge "has a task" by
    # planner statistics that do not yet know the tasks the previous statement wrote); a task another
    # process opened meanwhile is kept (the partial unique index on open tasks), as
    # bulk_create(ignore_conflicts=True) did.
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {table} (kind, target_type, target_id, title, due_on, state, recurrence, source, assignee_id, "
                       f"pack_version_id, created_at) {sql} ON CONFLICT DO NOTHING", params)
        return max(cursor.rowcount, 0)


def visit_done(user, task_id, *, note: str = "", request=None):
    """A visit made: closes the task and opens the next one by the grade's frequency."""
    _require(user, perms.GRADING_REVIEW, perms.GRADING_VIEW)
    task = ScheduledTask.objects.filter(pk=task_id, kind=VISIT_KIND).first()
    if task is None or not selectors.customers_scoped(user).filter(pk=int(task.target_id)).exists():
        raise NotFound(_("拜访任务不存在"))
    return schedules.task_done(task, user, note=_text(note, "note", REASON_MAX, required=False), request=request)


def reviews_schedule(now=None) -> int:
    """Opens the next company-wide review task by the pack: within the review window when the pack sets
    one (S20: 25–30 March), else every `grading.review.every_months` months. Idempotent."""
    today = timezone.localdate(now)
    if ScheduledTask.objects.filter(kind=REVIEW_TASK_KIND, target_type="grading.company", target_id="all",
                                    state=ScheduledTask.State.OPEN).exists():
        return 0
    window = policy.value("grading.review.window")
    every = policy.value("grading.review.every_months")
    if window:
        due = dt.date(today.year, window["month"], window["day_to"])
        if due < today:
            due = dt.date(today.year + 1, window["month"], window["day_to"])
    else:
        due = _add_months(today, every)
    schedules.schedule_recurring(REVIEW_TASK_KIND, ("grading.company", "all"), due, every, "months",
                                 title=_("客户分级评审（%(form)s）") % {"form": policy.value("grading.review.form")},
                                 source=scheme.source("grading.review.every_months"))
    return 1


# ---------------------------------------------------------------- wiring


def _resolver(model):
    """"owner": who started the review / proposed the change; "manager": the active department managers
    of the review's department (or of the customer's department for a change)."""
    owner_field = "started_by_id" if model is Review else "proposed_by_id"
    department_field = "department_id" if model is Review else "customer__department_id"

    def resolve(who: str, target_ids: list[str]) -> dict:
        rows = list(model.objects.filter(pk__in=[int(t) for t in target_ids]).values_list("pk", owner_field, department_field))
        if who == "owner":
            return {str(pk): [owner] for pk, owner, _dept in rows}
        managers: dict = {}
        departments = {dept for _pk, _owner, dept in rows}
        holders = User.objects.filter(role__code="dept_manager", is_active=True)
        holders = holders.filter(Q(department_id__in=[d for d in departments if d is not None]) |
                                 (Q(department__isnull=True) if None in departments else Q(pk__in=[])))
        for user_id, dept in holders.values_list("pk", "department_id"):
            managers.setdefault(dept, []).append(user_id)
        return {str(pk): managers.get(dept, []) for pk, _owner, dept in rows}

    return resolve


def register() -> None:
    approvals.register(REVIEW_APPROVAL_KIND, on_approved=on_review_approved, on_rejected=on_review_rejected)
    approvals.register(CHANGE_APPROVAL_KIND, on_approved=on_change_approved, on_rejected=on_change_rejected)
    deadlines.register_resolver("grading.review", _resolver(Review))
    deadlines.register_resolver("grading.gradechange", _resolver(GradeChange))


def metrics_json(values: dict) -> str:
    return json.dumps(values, ensure_ascii=False, default=str)
