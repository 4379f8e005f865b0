"""Demo grading data: evaluation metrics for the demo customers and a first grade for the admitted and
active ones, through the services (quotas apply: a customer over a blocking quota gets the next grade)."""

import datetime as dt
import random

from zhidu.kernel.errors import Conflict

from . import scheme, services

PRODUCTS = ["假肢", "矫形器", "康复辅具"]


def load(users: dict, customers: list) -> None:
    actor = users["gm"]  # scope all and the highest clearance: every demo file is within reach
    rng = random.Random(20261124)
    grades = scheme.grades()
    citation = scheme.source("grading.grades")
    for customer in customers:
        if customer.status in ("prospect", "blacklisted", "terminated"):
            continue
        level = rng.choices([0, 2, 3, 4, 5], weights=[50, 15, 15, 10, 10])[0]
        services.metrics_set(actor, customer.pk, {
            "sales_amount": round(rng.uniform(5, 900), 2),
            "sales_growth": round(rng.uniform(-20, 40), 1),
            "bed_count": rng.randint(20, 800) if level else None,
            "hospital_level": level,
            "overdue_count": rng.choices([0, 1, 2], weights=[80, 15, 5])[0],
            "evaluation_score": rng.randint(45, 98),
            "product": rng.choice(PRODUCTS),
            "business_since": (dt.date(2026, 1, 1) - dt.timedelta(days=rng.randint(30, 2000))).isoformat(),
        }, form="")
        wanted = 0 if level >= 5 else (1 if level >= 3 else len(grades) - 1)
        for grade in grades[wanted:]:
            try:
                services.grade_assign(customer, grade.key, actor=actor, reason="演示数据：首次定级", citation=citation)
                break
            except Conflict:
                continue
    services.reviews_schedule()
