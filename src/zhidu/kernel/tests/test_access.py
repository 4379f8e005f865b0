"""scope_q: which rows a data scope reaches, and that the subtree scope stays an indexed filter."""

import pytest
from django.db import connection

from zhidu.customers.models import Customer
from zhidu.kernel.access import DataScope, scope_q
from zhidu.org.models import Department, Role, User

pytestmark = pytest.mark.django_db


def _department(code, parent=None):
    department = Department.objects.create(name=code, code=code, parent=parent)
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    return department


@pytest.fixture
def tree():
    sales = _department("sales")
    east = _department("east", sales)
    other = _department("other")
    return {"sales": sales, "east": east, "other": other}


def _user(username, department, scope):
    role = Role.objects.create(code=f"r-{username}", name=username, data_scope=scope, permissions=["customers.view"])
    return User.objects.create(username=username, department=department, role=role)


def _customer(owner, department):
    return Customer.objects.create(customer_type="enterprise", name=f"客户{owner.username}{department.code}", owner=owner, department=department)


def test_subtree_scope_reaches_the_department_tree_and_own_files(tree):
    manager = _user("manager", tree["sales"], DataScope.SUBTREE)
    clerk = _user("clerk", tree["other"], DataScope.OWN)
    in_sales, in_east = _customer(clerk, tree["sales"]), _customer(clerk, tree["east"])
    own_elsewhere, outside = _customer(manager, tree["other"]), _customer(clerk, tree["other"])
    seen = set(Customer.objects.filter(scope_q(manager)).values_list("pk", flat=True))
    assert seen == {in_sales.pk, in_east.pk, own_elsewhere.pk}
    assert outside.pk not in seen
    east_manager = _user("east_manager", tree["east"], DataScope.SUBTREE)
    assert set(Customer.objects.filter(scope_q(east_manager)).values_list("pk", flat=True)) == {in_east.pk}


def test_subtree_scope_filters_on_the_department_column_without_a_join(tree):
    manager = _user("manager", tree["sales"], DataScope.SUBTREE)
    qs = Customer.objects.filter(scope_q(manager))
    sql, params = qs.query.sql_with_params()
    assert "JOIN" not in sql.upper()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
            plan = [row[-1] for row in cursor.fetchall()]
        assert not any(step.startswith("SCAN customers_customer") for step in plan), plan
        assert any("SEARCH customers_customer USING INDEX" in step and "department_id" in step for step in plan), plan
