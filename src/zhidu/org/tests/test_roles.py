"""The built-in roles: definitions, the S05 separation of the three admin duties, and idempotent setup."""

import pytest
from django.core.exceptions import ValidationError

from zhidu.customers.models import Customer
from zhidu.customers.selectors import customers_visible
from zhidu.kernel.access import DataScope, SecretLevel
from zhidu.org import permissions as perms
from zhidu.org import services
from zhidu.org.models import Role

CUSTOMERS_ALL = {
    perms.CUSTOMERS_VIEW, perms.CUSTOMERS_CREATE, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT,
    perms.CUSTOMERS_IMPORT, perms.CUSTOMERS_TRANSFER,
}
CUSTOMERS_DAILY = {perms.CUSTOMERS_VIEW, perms.CUSTOMERS_CREATE, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT}
COMPLAINTS = {"complaints.view", "complaints.handle", "complaints.manage", "complaints.export"}
GRADING = {"grading.view", "grading.admit", "grading.review", "grading.blacklist", "grading.blacklist_company", "grading.export"}
CREDIT = {"credit.view", "credit.manage", "credit.orders", "credit.export"}
FRONT_LINE = {"complaints.view", "complaints.handle", "grading.view", "grading.admit", "credit.view", "credit.orders"}

EXPECTED = {
    # code: (scope, permissions, unmasked, max clearance)
    "sysadmin": (DataScope.ALL, {perms.USERS_MANAGE, perms.CUSTOMERS_VIEW}, set(), SecretLevel.PUBLIC),
    "secadmin": (DataScope.OWN, {perms.ROLES_MANAGE}, set(), SecretLevel.PUBLIC),
    "auditor": (DataScope.OWN, {perms.AUDIT_VIEW}, set(), SecretLevel.PUBLIC),
    "general_manager": (
        DataScope.ALL,
        CUSTOMERS_ALL | {perms.ACCESS_APPROVE, perms.PACKS_MANAGE, perms.CALENDAR_MANAGE} | COMPLAINTS | GRADING | CREDIT,
        {"phone"},
        SecretLevel.TOP_SECRET,
    ),
    "dept_manager": (
        DataScope.SUBTREE,
        CUSTOMERS_ALL | {perms.ACCESS_APPROVE} | COMPLAINTS | (GRADING - {"grading.blacklist_company"})
        | {"credit.view", "credit.orders", "credit.export"},
        set(),
        SecretLevel.TOP_SECRET,
    ),
    "supervisor": (DataScope.DEPARTMENT, CUSTOMERS_DAILY | FRONT_LINE, set(), SecretLevel.TOP_SECRET),
    "sales": (DataScope.OWN, CUSTOMERS_DAILY | FRONT_LINE, set(), SecretLevel.TOP_SECRET),
    "archivist": (DataScope.ALL, {perms.CUSTOMERS_VIEW, perms.ACCESS_APPROVE}, set(), SecretLevel.TOP_SECRET),
    "quality_manager": (DataScope.ALL, {perms.CUSTOMERS_VIEW} | COMPLAINTS, set(), SecretLevel.SECRET),
    "service_agent": (DataScope.DEPARTMENT, {perms.CUSTOMERS_VIEW, "complaints.view", "complaints.handle"}, set(), SecretLevel.PUBLIC),
    "credit_controller": (DataScope.ALL, {perms.CUSTOMERS_VIEW, "grading.view"} | CREDIT, set(), SecretLevel.SECRET),
    "marketing_manager": (
        DataScope.ALL,
        {perms.CUSTOMERS_VIEW, perms.CUSTOMERS_EXPORT, "complaints.view", "credit.view"} | GRADING,
        set(),
        SecretLevel.SECRET,
    ),
}


def test_builtin_roles_are_as_specified(roles):
    assert set(roles) == set(EXPECTED)
    for code, (scope, permissions, unmasked, cap) in EXPECTED.items():
        role = roles[code]
        assert role.is_builtin
        assert (role.data_scope, set(role.permissions), set(role.unmasked_fields), role.max_clearance) == (scope, permissions, unmasked, cap), code
        role.full_clean()


def test_no_builtin_role_combines_two_admin_duties(roles):
    for role in roles.values():
        assert len([p for p in perms.SEPARATED_ADMIN_DUTIES if p in role.permissions]) <= 1, role.code


def test_roles_ensure_builtin_is_idempotent_and_keeps_edits(db):
    assert len(services.roles_ensure_builtin()) == len(EXPECTED)
    Role.objects.filter(code="sales").update(name="销售代表")
    Role.objects.filter(code="auditor").delete()
    assert services.roles_ensure_builtin() == ["auditor"]
    assert services.roles_ensure_builtin() == []
    assert Role.objects.count() == len(EXPECTED)
    assert Role.objects.get(code="sales").name == "销售代表"


@pytest.mark.parametrize("duties", [(perms.USERS_MANAGE, perms.ROLES_MANAGE), (perms.USERS_MANAGE, perms.AUDIT_VIEW), (perms.ROLES_MANAGE, perms.AUDIT_VIEW)])
def test_role_combining_admin_duties_is_refused(staff, duties):
    with pytest.raises(ValidationError) as info:
        services.role_create(staff["secadmin"], code="both", name="兼任", permissions=duties)
    assert "permissions" in info.value.message_dict
    with pytest.raises(ValidationError):
        services.role_update(staff["secadmin"], Role.objects.get(code="general_manager"), permissions=list(duties))
    assert not Role.objects.filter(code="both").exists()


def test_unknown_permission_is_refused(staff):
    with pytest.raises(ValidationError):
        services.role_create(staff["secadmin"], code="odd", name="奇怪", permissions=["customers.delete_everything"])


def _customer(owner, department, level):
    return Customer.objects.create(customer_type="enterprise", name=f"客户{level}{owner.username}", owner=owner, department=department, secret_level=level)


def test_customer_visibility_by_role(staff, tree):
    """Data scope and clearance per role, through the customer archive's own selector."""
    files = {}
    for level in SecretLevel.values:
        files[("east", level)] = _customer(staff["sales"], tree["east"], level)
        files[("north", level)] = _customer(staff["sales2"], tree["north"], level)
        files[("it", level)] = _customer(staff["sysadmin"], tree["it"], level)

    def seen(username):
        return set(customers_visible(staff[username]).values_list("pk", flat=True))

    def ids(*keys):
        return {files[k].pk for k in keys}

    every = [(d, lvl) for d in ("east", "north", "it") for lvl in SecretLevel.values]
    # System admin: scope "all" but clearance 公开 — only the public files, whatever the department.
    assert seen("sysadmin") == ids(("east", 0), ("north", 0), ("it", 0))
    # Security admin and auditor hold no customers.view: nothing at all.
    assert seen("secadmin") == set()
    assert seen("auditor") == set()
    assert seen("gm") == ids(*every)
    # Department manager of 销售部 (subtree: 华东组 and 华北组), clearance 机密.
    assert seen("manager") == ids(*[(d, lvl) for d in ("east", "north") for lvl in (0, 1, 2)])
    # Supervisor of 华东组, clearance 秘密.
    assert seen("supervisor") == ids(("east", 0), ("east", 1))
    # Sales: own files only, clearance 公开.
    assert seen("sales") == ids(("east", 0))
    assert seen("archivist") == ids(*[(d, lvl) for d in ("east", "north", "it") for lvl in (0, 1, 2)])


def test_admin_roles_cannot_be_given_clearance_above_public(staff):
    for code in ("sysadmin", "auditor"):
        with pytest.raises(ValidationError) as info:
            services.user_set_clearance(staff["secadmin"], staff[code], SecretLevel.SECRET)
        assert "clearance" in info.value.message_dict
    staff["sysadmin"].refresh_from_db()
    assert staff["sysadmin"].clearance == SecretLevel.PUBLIC


def test_role_change_respects_clearance_cap(staff):
    with pytest.raises(ValidationError):
        services.user_set_role(staff["secadmin"], staff["manager"], Role.objects.get(code="sysadmin"))
    services.user_set_clearance(staff["secadmin"], staff["manager"], SecretLevel.PUBLIC)
    services.user_set_role(staff["secadmin"], staff["manager"], Role.objects.get(code="sysadmin"))
    staff["manager"].refresh_from_db()
    assert staff["manager"].role.code == "sysadmin"


def test_lowering_a_role_cap_below_a_holder_is_refused(staff):
    with pytest.raises(ValidationError) as info:
        services.role_update(staff["secadmin"], Role.objects.get(code="dept_manager"), max_clearance=SecretLevel.SECRET)
    assert "max_clearance" in info.value.message_dict


def test_security_admin_cannot_edit_own_role(staff):
    from zhidu.kernel.errors import Forbidden

    with pytest.raises(Forbidden):
        services.role_update(staff["secadmin"], Role.objects.get(code="secadmin"), permissions=[perms.ROLES_MANAGE, perms.CUSTOMERS_VIEW])


def test_auditor_role_reads_the_audit_log_only(staff):
    auditor = Role.objects.get(code="auditor")
    for extra in (perms.CUSTOMERS_VIEW, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT, perms.PACKS_MANAGE):
        with pytest.raises(ValidationError) as info:
            services.role_update(staff["secadmin"], auditor, permissions=[perms.AUDIT_VIEW, extra])
        assert "permissions" in info.value.message_dict
    with pytest.raises(ValidationError):
        services.role_create(staff["secadmin"], code="auditor2", name="审计员二", permissions=[perms.AUDIT_VIEW, perms.CUSTOMERS_VIEW])
    assert Role.objects.get(code="auditor").permissions == [perms.AUDIT_VIEW]


@pytest.mark.parametrize("duty", [perms.USERS_MANAGE, perms.ROLES_MANAGE])
@pytest.mark.parametrize("write", [perms.CUSTOMERS_CREATE, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT, perms.CUSTOMERS_IMPORT, perms.CUSTOMERS_TRANSFER])
def test_admin_role_cannot_change_or_move_customers(staff, duty, write):
    with pytest.raises(ValidationError) as info:
        services.role_create(staff["secadmin"], code="admin_w", name="管理", permissions=[duty, perms.CUSTOMERS_VIEW, write])
    assert "permissions" in info.value.message_dict
    # Viewing alone stays allowed: the 公开 cap is what keeps classified files from the system admin.
    services.role_create(staff["secadmin"], code="admin_v", name="管理查看", permissions=[duty, perms.CUSTOMERS_VIEW])


def test_admin_role_clearance_cap_cannot_be_raised(staff):
    for code in ("sysadmin", "auditor"):
        with pytest.raises(ValidationError) as info:
            services.role_update(staff["secadmin"], Role.objects.get(code=code), max_clearance=SecretLevel.TOP_SECRET)
        assert "max_clearance" in info.value.message_dict
        assert Role.objects.get(code=code).max_clearance == SecretLevel.PUBLIC
    with pytest.raises(ValidationError):
        services.role_create(staff["secadmin"], code="ops", name="运维", permissions=[perms.USERS_MANAGE], max_clearance=SecretLevel.SECRET)


def test_admin_user_clearance_stays_public_even_with_a_raised_cap_row(staff):
    # A cap raised behind the services' back (older data, raw SQL) still does not let the admin read classified files.
    Role.objects.filter(code="sysadmin").update(max_clearance=SecretLevel.TOP_SECRET)
    with pytest.raises(ValidationError) as info:
        services.user_set_clearance(staff["secadmin"], staff["sysadmin"], SecretLevel.TOP_SECRET)
    assert "clearance" in info.value.message_dict
    staff["sysadmin"].refresh_from_db()
    assert staff["sysadmin"].clearance == SecretLevel.PUBLIC


def test_upgrade_grants_module_permissions_to_existing_builtin_roles_and_keeps_edits(db):
    import importlib

    from django.apps import apps as django_apps

    upgrade = importlib.import_module("zhidu.org.migrations.0002_builtin_roles_module_permissions")
    services.roles_ensure_builtin()
    # An install from before these modules: the security admin had added 导出 to 业务员 and removed 移交 from 部门经理.
    Role.objects.filter(code="sales").update(permissions=[perms.CUSTOMERS_VIEW, perms.CUSTOMERS_EXPORT])
    Role.objects.filter(code="dept_manager").update(permissions=[perms.CUSTOMERS_VIEW])
    Role.objects.filter(code="secadmin").update(permissions=[perms.ROLES_MANAGE])
    upgrade.grant(django_apps, None)
    upgrade.grant(django_apps, None)  # running twice adds nothing twice
    sales = Role.objects.get(code="sales").permissions
    assert sales[:2] == [perms.CUSTOMERS_VIEW, perms.CUSTOMERS_EXPORT]
    assert set(sales[2:]) == FRONT_LINE and len(sales) == 2 + len(FRONT_LINE)
    assert perms.CUSTOMERS_TRANSFER not in Role.objects.get(code="dept_manager").permissions
    assert "complaints.manage" in Role.objects.get(code="dept_manager").permissions
    assert Role.objects.get(code="secadmin").permissions == [perms.ROLES_MANAGE]
