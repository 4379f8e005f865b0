"""Demo credit data, written through the services: grades and limits for a few customers, orders (one
waiting for credit approval), receivables (one overdue), an investigation, a suspended customer and a
registration change waiting for the customer's report.

When the pack in force leaves the grade maxima unset (a pack that does not implement S28, or S28 before
an administrator sets the blank numbers), customers get a grade with no credit limit, so their credit
orders wait for approval: exactly what the regulation then allows."""

import datetime as dt
import logging

from django.utils import timezone

from zhidu.kernel import policy
from zhidu.kernel.errors import ApiError
from zhidu.kernel.policy import ParameterMissing

from . import services

log = logging.getLogger(__name__)
PLAN = [
    # grade, wished limit, wished term (days)
    ("A", 200000, 30),
    ("B", 50000, 0),
    ("C", 10000, 0),
    ("D", 0, 0),
    ("A", 150000, 30),
    ("B", 30000, 0),
]


def _optional(key):
    try:
        return policy.value(key)
    except ParameterMissing:
        return None


def load(users: dict, customers: list) -> None:
    from zhidu.admission.services import blacklist_check

    controller = users.get("credit") or users.get("credit_controller") or users["gm"]
    grades = services.grades()
    caps = _optional("credit.grade_max_limits") or {}
    terms = _optional("credit.grade_payment_term_days") or {}
    chosen = []
    for customer in customers:
        if customer.status not in ("active", "admitted"):
            continue
        try:
            blacklist_check(customer)
        except ApiError:
            continue
        chosen.append(customer)
        if len(chosen) == len(PLAN):
            break
    today = timezone.localdate()
    for index, (customer, (grade, wished, term)) in enumerate(zip(chosen, PLAN)):
        if grade not in grades:
            grade = next(iter(grades))
        limit = min(wished, caps[grade]) if grade in caps else 0
        days = min(term, terms[grade]) if grade in terms else 0
        if not grades[grade]["credit_allowed"]:
            limit, days = 0, 0
        try:
            services.credit_terms_set(controller, customer.pk, grade=grade, credit_limit=limit, payment_term_days=days, reason="演示：首次评定信用等级")
            owner = customer.owner
            services.receivable_create(owner, customer.pk, {
                "reference": f"YS-{customer.pk:05d}", "amount": 8000 + 1000 * index,
                "invoiced_on": today - dt.timedelta(days=45 if index == 1 else 10),
                "due_on": today - dt.timedelta(days=15) if index == 1 else today + dt.timedelta(days=20),
            })  # fmt: skip
            payment = "credit" if grades[grade]["credit_allowed"] else "cash"
            services.order_create(owner, customer.pk, {"reference": f"DD-{customer.pk:05d}-1", "product": "膝关节假肢组件", "quantity": 2,
                                                       "unit_price": 3500, "payment": payment, "ordered_on": today - dt.timedelta(days=3)})
            if index == 0:
                services.order_create(owner, customer.pk, {"reference": f"DD-{customer.pk:05d}-2", "product": "大腿假肢接受腔", "quantity": 20,
                                                           "unit_price": 12000, "payment": "credit"})
                services.investigation_record(controller, customer.pk, {"channel": "bank", "summary": "银行往来正常，无不良记录"})
            if index == 2:
                services.registration_change_record(owner, customer.pk, {"kind": "legal_representative", "description": "法定代表人变更",
                                                                         "changed_on": today - dt.timedelta(days=3)})
            if index == 3:
                services.trade_stop(controller, customer.pk, "支票被拒付，暂停供货待查")
        except ApiError as exc:  # a blacklisted demo customer, or a year without holiday data
            log.warning("credit demo: %s: %s", customer.pk, exc.message)
