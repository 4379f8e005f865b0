"""Grading review over every customer (S01 pack: VIP / 优选 / 合格 with department quotas that block and
product quotas that warn), against the same scoring written by hand as set-based SQL in the same run.

Data: evaluation inputs (CustomerMetrics) for every customer and a grade from an earlier review for 70 %
of them, written through the product's bulk path (kernel.importing.insert_rows). The thresholds the S01
text leaves blank are set as an administrator would, through the pack parameter service (a new pack
version citing who set them). The review is started as the benchmark administrator over all customers;
the baseline runs inside a transaction that is rolled back, and so does applying the approved review, so
a rerun on the same database measures the same work."""

from __future__ import annotations

import datetime as dt
import random
import time
from decimal import Decimal

from django.db import connection, transaction
from django.utils import timezone

from bench.common import timed

CASE = "grading"
CHUNK = 5000
THRESHOLDS = {  # what the benchmark's administrator sets for the blanks of S01 L273 / L283
    "grading.threshold.t1.bed_count": 800,
    "grading.threshold.t1.sales_amount": 150,
    "grading.threshold.t2.bed_count": 300,
    "grading.threshold.t2.sales_amount": 50,
}
PRODUCTS = ["上肢假肢", "下肢假肢", "脊柱矫形器", "下肢矫形器", "上肢矫形器", "足部矫形器", "轮椅", "助行器", "康复训练器材",
            "儿童矫形器", "压力衣", "假肢配件"]
EARLIER = [("VIP", 0, 1, 10), ("PREFERRED", 1, 2, 25), ("QUALIFIED", 2, 3, 65)]  # key, order, priority rank, weight


def log(message: str) -> None:
    print(f"      {message}", flush=True)


def run(ctx) -> None:
    ctx.ensure_customers()
    admin = ctx.users["admin"]
    set_thresholds(admin)
    made = ensure_metrics(ctx.seed)
    if made:
        ctx.result(CASE, "generate metrics + earlier grades (insert_rows)", made["seconds"], unit="s",
                   note=f"{made['metrics']:,} metrics rows, {made['grades']:,} earlier grades")
    _review(ctx, admin)


# ---------------------------------------------------------------------------------------------------
# Data


def set_thresholds(admin) -> None:
    from zhidu.kernel import policy

    for key, value in THRESHOLDS.items():
        try:
            policy.value(key)
        except policy.ParameterMissing:
            policy.parameter_set(key, value, admin)


def ensure_metrics(seed: int) -> dict | None:
    from zhidu.customers.models import Customer
    from zhidu.grading.models import CustomerGrade, CustomerMetrics
    from zhidu.kernel import policy
    from zhidu.kernel.importing import insert_rows

    total = Customer.objects.count()
    if CustomerMetrics.objects.count() >= total:
        return None
    rng = random.Random(seed * 31 + 7)
    start = time.perf_counter()
    today = timezone.localdate()
    since = timezone.now() - dt.timedelta(days=183)
    version = policy.current_version()
    citation = "000_097510e39fec2ee7.txt Doc5 五、3.2 L303（阶段性评审）"
    metric_columns = ["customer_id", "sales_amount", "sales_growth", "bed_count", "hospital_level", "overdue_count", "evaluation_score",
                      "product", "business_since"]
    grade_columns = ["customer_id", "grade", "grade_order", "priority_rank", "score", "since", "citation", "pack_version_id"]
    customers = Customer.objects.order_by("pk").values_list("pk", "customer_type")
    # An interrupted run left whole chunks (one transaction each): go on after the last of them.
    last = CustomerMetrics.objects.order_by("-customer_id").values_list("customer_id", flat=True).first() or 0
    counts = {"metrics": 0, "grades": 0}
    weights = sum(w for *_x, w in EARLIER)
    while True:
        chunk = list(customers.filter(pk__gt=last)[:CHUNK])
        if not chunk:
            break
        last = chunk[-1][0]
        metrics, grades = [], []
        for pk, kind in chunk:
            medical = kind == "medical"
            level = rng.choices([0, 1, 2, 3, 4, 5], [10, 20, 25, 25, 12, 8])[0] if medical else None
            beds = int(rng.lognormvariate(5.3, 0.9)) if medical else None
            sales = Decimal(str(round(rng.lognormvariate(3.5, 1.3), 2)))
            growth = Decimal(str(round(rng.gauss(5, 15), 2)))
            overdue = 0 if rng.random() < 0.85 else rng.randint(1, 5)
            score = Decimal(str(round(min(100, max(0, rng.gauss(72, 12))), 2)))
            business = today - dt.timedelta(days=rng.randint(30, 3650)) if rng.random() < 0.95 else None
            metrics.append((pk, sales, growth, beds, level, overdue, score, rng.choice(PRODUCTS), business))
            if rng.random() < 0.7:
                x = rng.random() * weights
                for key, order, rank, weight in EARLIER:
                    x -= weight
                    if x < 0:
                        break
                grades.append((pk, key, order, rank, score, since, citation, version.pk if version else None))
        with transaction.atomic():
            insert_rows(CustomerMetrics, metric_columns, metrics)
            insert_rows(CustomerGrade, grade_columns, grades)
        counts["metrics"] += len(metrics)
        counts["grades"] += len(grades)
        if counts["metrics"] % 200_000 < CHUNK:
            log(f"metrics {counts['metrics']:,} ({time.perf_counter() - start:.0f} s)")
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    counts["seconds"] = time.perf_counter() - start
    return counts


# ---------------------------------------------------------------------------------------------------
# The review


def _baseline(admin) -> dict:
    """review_start's work written by hand: the score UPDATE, the proposals INSERT … SELECT with the S01
    rules as one CASE (and the change against the current grade), the same quota UPDATEs with window
    functions."""
    from zhidu.grading import scheme
    from zhidu.grading.models import Review

    t = scheme.thresholds()
    now = timezone.now()
    review = Review.objects.create(title="baseline", started_by=admin, form="baseline")
    excluded = "('blacklisted', 'terminated', 'prospect')"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE grading_customermetrics SET scored_at = %s, score = CASE WHEN evaluation_score > 100 THEN 100 "
            "WHEN evaluation_score < 0 THEN 0 WHEN evaluation_score IS NOT NULL THEN evaluation_score ELSE 0 END "
            f"WHERE customer_id IN (SELECT id FROM customers_customer WHERE status NOT IN {excluded})", [now])
        rule = ("COALESCE(m.overdue_count, 1) <= 0 AND (m.hospital_level >= {lvl} OR m.bed_count >= %s OR m.sales_amount >= %s)")
        vip, preferred = rule.format(lvl=4), rule.format(lvl=3)
        cursor.execute(
            "INSERT INTO grading_reviewitem (review_id, customer_id, department_id, product, current_grade, current_order, eligible_grade, "
            "proposed_grade, proposed_order, score, change, quota_note, provisional, excluded, evidence) "
            f"SELECT %s, c.id, c.department_id, COALESCE(m.product, ''), COALESCE(g.grade, ''), g.grade_order, "
            f"CASE WHEN {vip} THEN 'VIP' WHEN {preferred} THEN 'PREFERRED' ELSE 'QUALIFIED' END, "
            f"CASE WHEN {vip} THEN 'VIP' WHEN {preferred} THEN 'PREFERRED' ELSE 'QUALIFIED' END, "
            f"CASE WHEN {vip} THEN 0 WHEN {preferred} THEN 1 ELSE 2 END, m.score, "
            f"CASE WHEN g.grade IS NULL THEN 'new' WHEN (CASE WHEN {vip} THEN 0 WHEN {preferred} THEN 1 ELSE 2 END) < g.grade_order "
            f"THEN 'up' WHEN (CASE WHEN {vip} THEN 0 WHEN {preferred} THEN 1 ELSE 2 END) > g.grade_order THEN 'down' ELSE 'same' END, "
            f"'', %s, %s, '' "
            "FROM customers_customer c LEFT JOIN grading_customermetrics m ON m.customer_id = c.id "
            f"LEFT JOIN grading_customergrade g ON g.customer_id = c.id WHERE c.status NOT IN {excluded}",
            [review.pk] + [t["t1.bed_count"], t["t1.sales_amount"], t["t2.bed_count"], t["t2.sales_amount"]] * 5 + [False, False])
        items = cursor.rowcount
        for grade, below, below_order, per, pct, block in (("VIP", "PREFERRED", 1, "department_id", 15, True),
                                                            ("VIP", None, None, "product", 15, False),
                                                            ("PREFERRED", "QUALIFIED", 2, "department_id", 30, True),
                                                            ("PREFERRED", None, None, "product", 30, False)):
            inner = (f"SELECT id, proposed_grade, ROW_NUMBER() OVER (PARTITION BY {per}, proposed_grade ORDER BY COALESCE(score, -1) DESC, "
                     f"customer_id) AS rn, COUNT(*) OVER (PARTITION BY {per}) AS total FROM grading_reviewitem WHERE review_id = %s"
                     + (" AND product <> ''" if per == "product" else ""))
            over = f"SELECT id FROM ({inner}) ranked WHERE proposed_grade = %s AND rn * 10000 > total * %s"
            if block:
                cursor.execute(f"UPDATE grading_reviewitem SET proposed_grade = %s, proposed_order = %s, quota_note = %s, change = CASE "
                               f"WHEN current_grade = '' THEN 'new' WHEN current_order > %s THEN 'up' WHEN current_order < %s THEN 'down' "
                               f"ELSE 'same' END WHERE id IN ({over})",
                               [below, below_order, "over quota", below_order, below_order, review.pk, grade, pct * 100])
            else:
                cursor.execute(f"UPDATE grading_reviewitem SET quota_note = %s WHERE id IN ({over})", ["over quota (warn)", review.pk, grade, pct * 100])
    return {"items": items}


def _review(ctx, admin) -> None:
    from zhidu.grading import services
    from zhidu.grading.models import Review

    # A draft left by an interrupted run would refuse a new review of the same scope.
    for review in Review.objects.filter(state=Review.State.DRAFT, department__isnull=True):
        services.review_cancel(admin, review.pk)
    with transaction.atomic():
        base_seconds, base = timed(_baseline, admin)
        transaction.set_rollback(True)
    seconds, review = timed(services.review_start, admin, title="基准评审")
    counts = review.counts
    ctx.result(CASE, "review_start over all customers", seconds, base_seconds, unit="s", target="≤ 60 s at 1M",
               note=f"{counts['total']:,} customers: new {counts['new']:,}, up {counts['up']:,}, down {counts['down']:,}, "
                    f"same {counts['same']:,}, quota notes {counts['quota']:,}; baseline {base['items']:,} items")
    approver = admin
    with transaction.atomic():
        apply_seconds, _none = timed(services._review_apply, Review.objects.get(pk=review.pk), approver)
        transaction.set_rollback(True)
    ctx.result(CASE, "apply the approved review", apply_seconds, unit="s",
               note="what approval runs: grade history, changed and first grades, scores, visit tasks (rolled back afterwards)")
    services.review_cancel(admin, review.pk)
