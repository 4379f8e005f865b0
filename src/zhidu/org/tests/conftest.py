"""Org fixtures: the built-in roles, a small department tree and one user per role."""

import pytest
from django.test import Client

from zhidu.org import services
from zhidu.org.models import Role

PASSWORD = "Zhidu-2026-pass"


@pytest.fixture
def roles(db):
    services.roles_ensure_builtin()
    return {role.code: role for role in Role.objects.all()}


@pytest.fixture
def tree(db):
    """HQ ─ Sales ─ East
             └─ North
       └─ IT"""
    hq = services.department_create(None, name="总公司", code="HQ")
    sales = services.department_create(None, name="销售部", code="SALES", parent=hq)
    east = services.department_create(None, name="华东组", code="EAST", parent=sales)
    north = services.department_create(None, name="华北组", code="NORTH", parent=sales)
    it = services.department_create(None, name="信息中心", code="IT", parent=hq)
    return {"hq": hq, "sales": sales, "east": east, "north": north, "it": it}


@pytest.fixture
def make_user(roles, tree):
    def make(username, role_code=None, department="east", clearance=0, **extra):
        return services.user_create(
            None,
            username=username,
            password=PASSWORD,
            display_name=extra.pop("display_name", username),
            department=tree[department] if department else None,
            role=roles[role_code] if role_code else None,
            clearance=clearance,
            **extra,
        )

    return make


@pytest.fixture
def staff(make_user):
    """One user per built-in role."""
    return {
        "sysadmin": make_user("sysadmin", "sysadmin", "it"),
        "secadmin": make_user("secadmin", "secadmin", "it"),
        "auditor": make_user("auditor", "auditor", "it"),
        "gm": make_user("gm", "general_manager", "hq", clearance=3),
        "manager": make_user("manager", "dept_manager", "sales", clearance=2),
        "supervisor": make_user("supervisor", "supervisor", "east", clearance=1),
        "sales": make_user("sales", "sales", "east"),
        "sales2": make_user("sales2", "sales", "north"),
        "archivist": make_user("archivist", "archivist", "hq", clearance=2),
    }


@pytest.fixture
def client_for(staff):
    def make(username):
        client = Client()
        client.force_login(staff[username])
        return client

    return make


@pytest.fixture(autouse=True)
def _fast_password_hasher(settings):
    # Password hashing at full strength makes each fixture user cost ~0.3 s; the rules under test do not depend on it.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
