"""An organisation to test the archive against:

    总公司 (root)
    ├── 销售一部 (sales_a)      ── 一部一组 (team_a1)
    └── 销售二部 (sales_b)

One user per built-in role, with the clearance each would normally hold."""

from types import SimpleNamespace

import pytest

from zhidu.kernel.access import SecretLevel


def _department(name, code, parent=None):
    from zhidu.org.models import Department

    department = Department.objects.create(name=name, code=code, parent=parent)
    department.path = f"{parent.path if parent else '/'}{department.pk}/"
    department.save(update_fields=["path"])
    return department


def _roles():
    from zhidu.org.models import Role
    from zhidu.org.services import roles_ensure_builtin

    roles_ensure_builtin()
    return {role.code: role for role in Role.objects.all()}


@pytest.fixture
def org(db):
    from zhidu.org.models import User

    roles = _roles()
    root = _department("总公司", "root")
    dept_a = _department("销售一部", "sales-a", root)
    team_a1 = _department("一部一组", "team-a1", dept_a)
    dept_b = _department("销售二部", "sales-b", root)

    def user(username, role, department, clearance=SecretLevel.SECRET):
        # No password: hashing one per user would dominate the run time; API tests use tokens.
        return User.objects.create(username=username, display_name=username, role=roles[role], department=department, clearance=clearance)

    return SimpleNamespace(
        roles=roles,
        root=root,
        dept_a=dept_a,
        team_a1=team_a1,
        dept_b=dept_b,
        sales_a=user("sales_a", "sales", dept_a),
        sales_a2=user("sales_a2", "sales", dept_a),
        sales_a1=user("sales_a1", "sales", team_a1),
        sales_b=user("sales_b", "sales", dept_b),
        supervisor_a=user("supervisor_a", "supervisor", dept_a),
        manager_a=user("manager_a", "dept_manager", dept_a, SecretLevel.CONFIDENTIAL),
        manager_b=user("manager_b", "dept_manager", dept_b, SecretLevel.CONFIDENTIAL),
        gm=user("gm", "general_manager", root, SecretLevel.TOP_SECRET),
        sysadmin=user("sysadmin", "sysadmin", root, SecretLevel.PUBLIC),
        secadmin=user("secadmin", "secadmin", root, SecretLevel.PUBLIC),
        auditor=user("auditor", "auditor", root, SecretLevel.PUBLIC),
    )


CREDIT_CODES = ["91110000802100433B", "91310000631696382C", "91440300708461136T", "91330000142916567N", "91110000100001342C"]


@pytest.fixture
def make_customer(org):
    """Creates a customer through the service as `user` (default sales_a)."""
    from zhidu.customers import services

    counter = {"n": 0}

    def make(user=None, name=None, contacts=(), confirm_duplicates=True, **data):
        counter["n"] += 1
        data.setdefault("customer_type", "household")
        data.setdefault("address", "测试路 1 号")
        return services.customer_create(
            user or org.sales_a, {"name": name or f"测试客户{counter['n']}号", **data}, contacts=contacts, confirm_duplicates=confirm_duplicates
        )

    return make
