"""The customers' test organisation plus a grading reviewer in 销售一部 (role 营销事业部经理, who holds
grading.review), and helpers to make admitted customers with evaluation metrics."""

import pytest

from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401


@pytest.fixture
def reviewer(org):  # noqa: F811
    from zhidu.kernel.access import SecretLevel
    from zhidu.org.models import User

    return User.objects.create(username="reviewer_a", display_name="评审员", role=org.roles["marketing_manager"],
                               department=org.dept_a, clearance=SecretLevel.SECRET)


@pytest.fixture
def graded_customer(org, reviewer):  # noqa: F811
    """An admitted customer of 销售一部 (owner sales_a) with the given metrics."""
    from zhidu.customers import services as customer_services
    from zhidu.grading import services

    counter = {"n": 0}

    def make(user=None, department_user=None, status="admitted", **metrics):
        counter["n"] += 1
        owner = department_user or org.sales_a
        from zhidu.kernel import policy

        kind = next(t["key"] for t in policy.value("customers.types") if set(t["required_fields"]) <= {"name", "address"})
        customer = customer_services.customer_create(owner, {"customer_type": kind, "name": f"评级客户{counter['n']:03d}", "address": "测试路 1 号"},
                                                     confirm_duplicates=True)
        if status:
            customer_services.customer_set_status(owner, customer.pk, status, "准入")
        if metrics:
            services.metrics_set(user or reviewer, customer.pk, metrics)
        customer.refresh_from_db()
        return customer

    return make


@pytest.fixture
def set_param(org):  # noqa: F811
    from zhidu.kernel import policy

    def set_(key, value):
        policy.parameter_set(key, value, org.gm)
        policy.clear_cache()

    return set_
