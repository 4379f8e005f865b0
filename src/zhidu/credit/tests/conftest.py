"""The organisation of the customer tests plus a credit controller, and the S28 pack applied with the
numbers the seed leaves blank set by the general manager (as an administrator would on the pack page)."""

from types import SimpleNamespace

import pytest

from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401  (fixtures)
from zhidu.kernel.access import SecretLevel

LIMITS = {"A": 500000, "B": 100000, "C": 20000, "D": 0}
TERMS = {"A": 30, "B": 0, "C": 0, "D": 0}
CRITERIA = {"A": "信用调查良好，无逾期", "B": "偶有逾期", "C": "多次逾期", "D": "严重失信"}


@pytest.fixture
def credit(org, pack):  # noqa: F811  (the imported fixture)
    from zhidu.kernel import policy
    from zhidu.org.models import User

    controller = User.objects.create(username="controller", display_name="钱信用", role=org.roles["credit_controller"], department=org.root,
                                     clearance=SecretLevel.SECRET)
    controller2 = User.objects.create(username="controller2", display_name="孙信用", role=org.roles["credit_controller"], department=org.root,
                                      clearance=SecretLevel.SECRET)
    pack("s28-credit")
    for key, value in (("credit.grade_max_limits", LIMITS), ("credit.grade_payment_term_days", TERMS), ("credit.grade_criteria", CRITERIA)):
        policy.parameter_set(key, value, org.gm)
    return SimpleNamespace(controller=controller, controller2=controller2)


@pytest.fixture
def graded(org, credit, make_customer):  # noqa: F811  (the imported fixtures)
    """A customer of sales_a graded A with a 10,000 yuan limit and a 30-day term."""
    from zhidu.credit import services

    customer = make_customer(name="华东医疗器械有限公司")
    services.credit_terms_set(credit.controller, customer.pk, grade="A", credit_limit="10000", payment_term_days=30, reason="信用调查良好")
    return customer
