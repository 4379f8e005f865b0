"""Department, user and role services: validation, who may do what, audit entries."""

import pytest
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.test import Client

from zhidu.kernel.access import SecretLevel
from zhidu.kernel.errors import Conflict, Forbidden, Invalid
from zhidu.kernel.models import AuditEntry
from zhidu.org import services
from zhidu.org.models import ApiToken, Department, Role, User, UserSession
from zhidu.org.tokens import token_create, token_user

from .conftest import PASSWORD


def paths():
    return dict(Department.objects.values_list("code", "path"))


# -- departments ---------------------------------------------------------------------------------


def test_department_paths_follow_the_tree(tree):
    hq, sales, east = tree["hq"], tree["sales"], tree["east"]
    assert hq.path == f"/{hq.pk}/"
    assert east.path == f"/{hq.pk}/{sales.pk}/{east.pk}/"
    assert Department.objects.get(pk=east.pk).path == east.path


def test_department_move_rewrites_the_whole_subtree(staff, tree):
    hq, sales, east, north, it = (tree[k] for k in ("hq", "sales", "east", "north", "it"))
    deep = services.department_create(staff["sysadmin"], name="上海小组", code="SH", parent=east)
    services.department_move(staff["sysadmin"], sales, parent=it)
    expected = {
        "HQ": f"/{hq.pk}/",
        "IT": f"/{hq.pk}/{it.pk}/",
        "SALES": f"/{hq.pk}/{it.pk}/{sales.pk}/",
        "EAST": f"/{hq.pk}/{it.pk}/{sales.pk}/{east.pk}/",
        "NORTH": f"/{hq.pk}/{it.pk}/{sales.pk}/{north.pk}/",
        "SH": f"/{hq.pk}/{it.pk}/{sales.pk}/{east.pk}/{deep.pk}/",
    }
    assert paths() == expected
    assert Department.objects.get(pk=sales.pk).parent_id == it.pk
    # And to the top level.
    services.department_move(staff["sysadmin"], east, parent=None)
    assert paths()["EAST"] == f"/{east.pk}/"
    assert paths()["SH"] == f"/{east.pk}/{deep.pk}/"
    assert paths()["NORTH"] == expected["NORTH"]
    assert Department.objects.get(pk=east.pk).parent_id is None
    assert AuditEntry.objects.filter(action="org.department.move").count() == 2


def test_department_move_refuses_cycles(staff, tree):
    before = paths()
    for target in ("sales", "east"):
        with pytest.raises(Invalid):
            services.department_move(staff["sysadmin"], tree["sales"], parent=tree[target])
    assert paths() == before


def test_department_move_keeps_sibling_with_similar_id_prefix(staff, tree):
    """Paths "/1/2/" and "/1/23/" share characters; only the moved subtree changes."""
    hq = tree["hq"]
    created = [services.department_create(staff["sysadmin"], name=f"部{i}", code=f"D{i}", parent=hq) for i in range(12)]
    moved = created[1]
    before = paths()
    services.department_move(staff["sysadmin"], moved, parent=tree["it"])
    after = paths()
    changed = {code for code in before if before[code] != after[code]}
    assert changed == {moved.code}


def test_department_create_validates_and_needs_users_manage(staff, tree):
    with pytest.raises(ValidationError) as info:
        services.department_create(staff["sysadmin"], name="", code="HQ")
    assert {"name", "code"} <= set(info.value.message_dict)
    for who in ("secadmin", "auditor", "gm"):
        with pytest.raises(Forbidden):
            services.department_create(staff[who], name="新部门", code=f"N-{who}")
        with pytest.raises(Forbidden):
            services.department_rename(staff[who], tree["east"], name="改名")
        with pytest.raises(Forbidden):
            services.department_move(staff[who], tree["east"], parent=tree["it"])
    services.department_rename(staff["sysadmin"], tree["east"], name="华东大区")
    assert Department.objects.get(pk=tree["east"].pk).name == "华东大区"


# -- users ---------------------------------------------------------------------------------------


def test_sysadmin_creates_accounts_without_role(staff, tree):
    user = services.user_create(staff["sysadmin"], username="newbie", password="Good-pass-2026", display_name="新人", department=tree["east"], phone="13800138000")
    assert user.role is None and user.clearance == SecretLevel.PUBLIC
    assert user.check_password("Good-pass-2026")
    assert user.phone == "13800138000"
    entry = AuditEntry.objects.filter(action="org.user.create", target_id=str(user.pk)).get()
    assert entry.actor_id == staff["sysadmin"].pk


def test_sysadmin_cannot_assign_roles_or_clearances(staff, roles):
    with pytest.raises(Forbidden):
        services.user_create(staff["sysadmin"], username="x1", password="Good-pass-2026", role=roles["sales"])
    with pytest.raises(Forbidden):
        services.user_create(staff["sysadmin"], username="x2", password="Good-pass-2026", clearance=SecretLevel.SECRET)
    with pytest.raises(Forbidden):
        services.user_set_role(staff["sysadmin"], staff["sales"], roles["general_manager"])
    with pytest.raises(Forbidden):
        services.user_set_clearance(staff["sysadmin"], staff["sales"], SecretLevel.SECRET)
    with pytest.raises(Forbidden):
        services.role_update(staff["sysadmin"], roles["sysadmin"], permissions=["org.users.manage", "audit.view"])
    assert not User.objects.filter(username__in=["x1", "x2"]).exists()


def test_secadmin_assigns_roles_and_clearances_but_not_accounts(staff, roles, tree):
    sales = staff["sales"]
    services.user_set_clearance(staff["secadmin"], sales, SecretLevel.CONFIDENTIAL)
    services.user_set_role(staff["secadmin"], sales, roles["supervisor"])
    sales.refresh_from_db()
    assert (sales.role.code, sales.clearance) == ("supervisor", SecretLevel.CONFIDENTIAL)
    assert AuditEntry.objects.filter(action__in=["org.user.set_role", "org.user.set_clearance"], actor_id=staff["secadmin"].pk).count() == 2
    with pytest.raises(Forbidden):
        services.user_create(staff["secadmin"], username="y", password="Good-pass-2026")
    with pytest.raises(Forbidden):
        services.user_disable(staff["secadmin"], sales)
    with pytest.raises(Forbidden):
        services.user_update(staff["secadmin"], sales, department=tree["north"])
    with pytest.raises(Forbidden):
        services.department_create(staff["secadmin"], name="部", code="Z")


def test_auditor_changes_nothing(staff, roles, tree):
    auditor = staff["auditor"]
    attempts = [
        lambda: services.user_create(auditor, username="z", password="Good-pass-2026"),
        lambda: services.user_update(auditor, staff["sales"], display_name="改"),
        lambda: services.user_disable(auditor, staff["sales"]),
        lambda: services.user_enable(auditor, staff["sales"]),
        lambda: services.user_unlock(auditor, staff["sales"]),
        lambda: services.user_set_role(auditor, staff["sales"], roles["general_manager"]),
        lambda: services.user_set_clearance(auditor, staff["sales"], 3),
        lambda: services.department_create(auditor, name="部", code="Z"),
        lambda: services.department_move(auditor, tree["east"], parent=None),
        lambda: services.role_create(auditor, code="r", name="r"),
        lambda: services.role_update(auditor, roles["sales"], name="r"),
    ]
    before = AuditEntry.objects.count()
    for attempt in attempts:
        with pytest.raises(Forbidden):
            attempt()
    assert AuditEntry.objects.count() == before


def test_nobody_changes_their_own_role_or_clearance(staff, roles):
    with pytest.raises(Forbidden):
        services.user_set_role(staff["secadmin"], staff["secadmin"], roles["general_manager"])
    with pytest.raises(Forbidden):
        services.user_set_clearance(staff["secadmin"], staff["secadmin"], SecretLevel.TOP_SECRET)
    staff["secadmin"].refresh_from_db()
    assert staff["secadmin"].role.code == "secadmin" and staff["secadmin"].clearance == 0


def test_user_may_edit_own_contact_details_only(staff, tree):
    sales = staff["sales"]
    services.user_update(sales, sales, display_name="刘小业", phone="+86 139 0013 9000")
    sales.refresh_from_db()
    assert (sales.display_name, sales.phone) == ("刘小业", "13900139000")
    with pytest.raises(Forbidden):
        services.user_update(sales, sales, department=tree["hq"])
    with pytest.raises(Forbidden):
        services.user_update(sales, staff["sales2"], display_name="别人")
    with pytest.raises(Invalid):
        services.user_update(staff["sysadmin"], sales, is_superuser=True)
    with pytest.raises(ValidationError) as info:
        services.user_update(sales, sales, phone="12345", email="not-an-email")
    assert {"phone"} <= set(info.value.message_dict)


def test_user_create_reports_errors_per_field(staff):
    with pytest.raises(ValidationError) as info:
        services.user_create(staff["sysadmin"], username="bad name!", password="abc", email="nope", phone="123")
    errors = info.value.message_dict
    assert {"username", "password", "email", "phone"} <= set(errors)
    with pytest.raises(ValidationError) as info:
        services.user_create(staff["sysadmin"], username="sales", password="Good-pass-2026")
    assert "username" in info.value.message_dict


@pytest.mark.parametrize(
    "password, rule",
    [
        ("Ab1-short", "至少需要"),  # under the pack's minimum length (10 by default)
        ("onlyletters-here", "字母和数字"),
        ("1234567890123", "字母和数字"),
        ("password123", "常见"),  # Django's common-password list
        ("newbie1234", "相似"),  # too close to the username
    ],
)
def test_password_rules(staff, password, rule):
    with pytest.raises(ValidationError) as info:
        services.user_create(staff["sysadmin"], username="newbie", password=password)
    messages = " ".join(info.value.message_dict["password"])
    assert rule in messages, messages


def test_password_min_length_comes_from_the_pack(staff, db):
    from django.utils import timezone

    from zhidu.kernel import policy
    from zhidu.kernel.models import PackVersion

    services.user_create(staff["sysadmin"], username="ok12", password="Abcdef-123")  # 10 characters: the default
    PackVersion.objects.create(
        name="t", title="t", parameters={"org.password.min_length": {"value": 14, "source": "test"}}, content_hash="t", effective_from=timezone.now()
    )
    policy.clear_cache()
    with pytest.raises(ValidationError) as info:
        services.user_create(staff["sysadmin"], username="ok13", password="Abcdef-1234")
    assert "14" in " ".join(info.value.message_dict["password"])


def test_password_change(staff):
    sales = staff["sales"]
    with pytest.raises(ValidationError) as info:
        services.password_change(sales, old_password="wrong", new_password="short")
    assert {"old_password", "new_password"} <= set(info.value.message_dict)
    with pytest.raises(ValidationError) as info:
        services.password_change(sales, old_password=PASSWORD, new_password=PASSWORD)
    assert "new_password" in info.value.message_dict
    services.password_change(sales, old_password=PASSWORD, new_password="Another-pass-77")
    sales.refresh_from_db()
    assert sales.check_password("Another-pass-77")
    assert AuditEntry.objects.filter(action="org.user.password_change", actor_id=sales.pk).exists()


# -- leavers -------------------------------------------------------------------------------------


def test_disable_ends_every_session_and_token_at_once(staff):
    sales = staff["sales"]
    clients = []
    for _ in range(3):
        client = Client()
        assert client.login(username="sales", password=PASSWORD)
        clients.append(client)
    other = Client()
    other.force_login(staff["sales2"])
    keys = [token_create(sales, name="erp"), token_create(sales)]
    assert UserSession.objects.filter(user=sales).count() == 3
    assert all(token_user(k) == sales for k in keys)

    services.user_disable(staff["sysadmin"], sales, reason="离职")

    sales.refresh_from_db()
    assert not sales.is_active and sales.left_at is not None
    assert not UserSession.objects.filter(user=sales).exists()
    assert not Session.objects.filter(session_key__in=[c.session.session_key for c in clients]).exists()
    assert Session.objects.filter(session_key=other.session.session_key).exists()
    assert all(token_user(k) is None for k in keys)
    assert ApiToken.objects.filter(user=sales, revoked_at__isnull=True).count() == 0
    entry = AuditEntry.objects.get(action="org.user.disable")
    assert entry.details["sessions_ended"] == 3 and entry.details["tokens_revoked"] == 2
    with pytest.raises(Conflict):
        services.user_disable(staff["sysadmin"], sales)
    with pytest.raises(Forbidden):
        services.user_disable(staff["sysadmin"], staff["sysadmin"])


def test_enable_restores_login(staff):
    services.user_disable(staff["sysadmin"], staff["sales"])
    assert not Client().login(username="sales", password=PASSWORD)
    services.user_enable(staff["sysadmin"], staff["sales"])
    staff["sales"].refresh_from_db()
    assert staff["sales"].left_at is None
    assert Client().login(username="sales", password=PASSWORD)


def test_builtin_roles_for_setup_with_no_actor(roles, tree):
    """The setup step (actor None) may create a user with role and clearance in one go."""
    user = services.user_create(None, username="boot", password="Boot-pass-2026", role=roles["general_manager"], clearance=3, department=tree["hq"])
    assert (user.role.code, user.clearance) == ("general_manager", 3)
    with pytest.raises(ValidationError):
        services.user_create(None, username="boot2", password="Boot-pass-2026", role=roles["sysadmin"], clearance=3)


def test_role_create_and_update_by_secadmin(staff):
    role = services.role_create(staff["secadmin"], code="telesales", name="电话销售", data_scope="own", permissions=["customers.view", "customers.create"], max_clearance=1)
    services.role_update(staff["secadmin"], role, permissions=["customers.view"], unmasked_fields=["phone"])
    role.refresh_from_db()
    assert (role.permissions, role.unmasked_fields) == (["customers.view"], ["phone"])
    with pytest.raises(ValidationError):
        services.role_update(staff["secadmin"], role, unmasked_fields=["password"])
    assert AuditEntry.objects.filter(action__startswith="org.role.", target_id=str(role.pk)).count() == 2
    assert Role.objects.get(pk=role.pk).label == "电话销售"


def test_department_depth_is_bounded(staff, tree):
    parent = tree["hq"]
    with pytest.raises(Invalid):
        for i in range(200):
            parent = services.department_create(staff["sysadmin"], name=f"层{i}", code=f"L{i}", parent=parent)
    deepest = parent
    assert len(deepest.path) <= 255
    with pytest.raises(Invalid):
        services.department_move(staff["sysadmin"], tree["sales"], parent=deepest)
    assert Department.objects.get(pk=tree["east"].pk).path == tree["east"].path
