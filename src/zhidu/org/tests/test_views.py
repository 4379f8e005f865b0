"""Org pages, per role."""

import pytest
from django.urls import reverse

from zhidu.kernel.models import AuditEntry
from zhidu.org import services
from zhidu.org.models import Department, Role, User


def test_sysadmin_creates_a_user_on_the_page(client_for, tree):
    client = client_for("sysadmin")
    assert client.get("/org/users/new/").status_code == 200
    response = client.post(
        "/org/users/new/", {"username": "newbie", "password": "Good-pass-2026", "display_name": "新人", "department": tree["north"].pk, "phone": "", "email": ""}
    )
    user = User.objects.get(username="newbie")
    assert response.status_code == 302 and response["Location"] == f"/org/users/{user.pk}/"
    assert user.department_id == tree["north"].pk and user.role is None


def test_user_create_page_shows_field_errors(client_for):
    response = client_for("sysadmin").post("/org/users/new/", {"username": "sales", "password": "abc", "phone": "12", "email": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count("invalid-feedback") >= 3
    assert "手机号码无效" in body and "字母和数字" in body


def test_sysadmin_cannot_assign_roles_or_read_the_audit_log(client_for, staff, roles):
    client = client_for("sysadmin")
    response = client.post(f"/org/users/{staff['sales'].pk}/access/", {"role": roles["general_manager"].pk, "clearance": 3})
    assert response.status_code == 403
    assert client.get(f"/org/roles/{roles['sysadmin'].pk}/").status_code == 403
    assert client.get(reverse("kernel:audit")).status_code == 403
    staff["sales"].refresh_from_db()
    assert staff["sales"].role.code == "sales"
    # The user page offers no role/clearance form to the system admin.
    body = client.get(f"/org/users/{staff['sales'].pk}/").content.decode()
    assert "user-access-form" not in body and "user-edit-form" in body


def test_secadmin_assigns_clearance_and_role_on_the_page(client_for, staff, roles):
    client = client_for("secadmin")
    target = staff["sales"]
    body = client.get(f"/org/users/{target.pk}/").content.decode()
    assert "user-access-form" in body and "user-edit-form" not in body
    response = client.post(f"/org/users/{target.pk}/access/", {"role": roles["supervisor"].pk, "clearance": 2})
    assert response.status_code == 302
    target.refresh_from_db()
    assert (target.role.code, target.clearance) == ("supervisor", 2)
    # Raising the clearance and moving to a capped role in one go is refused with a message, changing nothing.
    response = client.post(f"/org/users/{target.pk}/access/", {"role": roles["auditor"].pk, "clearance": 2}, follow=True)
    assert "最高只能授予" in response.content.decode()
    target.refresh_from_db()
    assert (target.role.code, target.clearance) == ("supervisor", 2)
    # Lowering the clearance and moving to the capped role in one go works.
    client.post(f"/org/users/{target.pk}/access/", {"role": roles["auditor"].pk, "clearance": 0})
    target.refresh_from_db()
    assert (target.role.code, target.clearance) == ("auditor", 0)


def test_secadmin_cannot_create_users_edit_departments_or_view_customers(client_for, staff, tree):
    client = client_for("secadmin")
    assert client.get("/org/users/new/").status_code == 403
    assert client.post("/org/users/new/", {"username": "x", "password": "Good-pass-2026"}).status_code == 403
    assert client.post(f"/org/users/{staff['sales'].pk}/disable/").status_code == 403
    assert client.post(f"/org/users/{staff['sales'].pk}/", {"display_name": "改"}).status_code == 403
    assert client.post("/org/departments/", {"name": "部", "code": "Z"}).status_code == 403
    assert client.get(reverse("customers:list")).status_code == 403
    assert client.get(reverse("kernel:audit")).status_code == 403
    assert not User.objects.filter(username="x").exists()
    assert not Department.objects.filter(code="Z").exists()


def test_secadmin_cannot_change_own_access_on_the_page(client_for, staff, roles):
    client = client_for("secadmin")
    me = staff["secadmin"]
    assert "user-access-form" not in client.get(f"/org/users/{me.pk}/").content.decode()
    client.post(f"/org/users/{me.pk}/access/", {"role": roles["general_manager"].pk, "clearance": 0})
    me.refresh_from_db()
    assert me.role.code == "secadmin"


def test_auditor_reads_the_audit_log_but_cannot_post_anything(client_for, staff, roles, tree):
    client = client_for("auditor")
    services.user_disable(staff["sysadmin"], staff["sales2"])
    response = client.get(reverse("kernel:audit"))
    assert response.status_code == 200
    assert "org.user.disable" in response.content.decode()
    assert client.get("/org/roles/").status_code == 200
    sales = staff["sales"]
    posts = [
        ("/org/users/new/", {"username": "x", "password": "Good-pass-2026"}),
        (f"/org/users/{sales.pk}/", {"display_name": "改"}),
        (f"/org/users/{sales.pk}/access/", {"role": roles["general_manager"].pk, "clearance": 3}),
        (f"/org/users/{sales.pk}/disable/", {}),
        (f"/org/users/{staff['sales2'].pk}/enable/", {}),
        (f"/org/users/{sales.pk}/unlock/", {}),
        ("/org/departments/", {"name": "部", "code": "Z"}),
        (f"/org/departments/{tree['east'].pk}/", {"name": "改", "parent": ""}),
        ("/org/roles/new/", {"code": "r", "name": "r", "data_scope": "all", "max_clearance": 0}),
        (f"/org/roles/{roles['auditor'].pk}/", {"name": "r", "data_scope": "all", "max_clearance": 0, "permissions": ["audit.view", "customers.view"]}),
        (reverse("customers:create"), {"name": "某公司"}),
    ]
    before = AuditEntry.objects.count()
    for url, data in posts:
        assert client.post(url, data).status_code == 403, url
    assert client.post(f"/api/v1/org/users/{sales.pk}/disable", {}, content_type="application/json").status_code in (401, 403)
    assert AuditEntry.objects.count() == before
    assert User.objects.get(pk=sales.pk).is_active
    assert Role.objects.get(code="auditor").permissions == ["audit.view"]


@pytest.mark.parametrize("who", ["gm", "manager", "supervisor", "sales", "archivist"])
def test_business_roles_have_no_admin_pages(client_for, who, staff):
    client = client_for(who)
    for url in ("/org/users/", "/org/users/new/", f"/org/users/{staff['sales'].pk}/", "/org/roles/", reverse("kernel:audit")):
        assert client.get(url).status_code == 403, url
    assert client.get("/org/departments/").status_code == 200
    assert client.get("/account/").status_code == 200


def test_users_list_search_filter_and_pagination(client_for, staff, tree, make_user):
    client = client_for("sysadmin")
    body = client.get("/org/users/", {"q": "sales"}).content.decode()
    assert ">sales<" in body and ">sales2<" in body and ">gm<" not in body
    body = client.get("/org/users/", {"department": tree["sales"].pk}).content.decode()
    assert ">manager<" in body and ">sales2<" in body and ">gm<" not in body
    body = client.get("/org/users/", {"role": Role.objects.get(code="sales").pk}).content.decode()
    assert ">sales<" in body and ">manager<" not in body
    services.user_disable(staff["sysadmin"], staff["sales2"])
    body = client.get("/org/users/", {"active": "0"}).content.decode()
    assert ">sales2<" in body and ">sales<" not in body
    for i in range(55):
        make_user(f"bulk{i:02d}", "sales")
    first = client.get("/org/users/")
    page = first.context["page"]
    assert len(page.rows) == 50 and page.next_after == page.rows[-1].pk
    second = client.get("/org/users/", {"after": page.next_after}).context["page"]
    assert second.next_after is None
    assert {u.pk for u in page.rows}.isdisjoint({u.pk for u in second.rows})
    assert len(page.rows) + len(second.rows) == User.objects.count()


def test_disable_from_the_page(client_for, staff):
    response = client_for("sysadmin").post(f"/org/users/{staff['sales'].pk}/disable/", follow=True)
    assert response.status_code == 200
    assert "已停用账号" in response.content.decode()
    assert not User.objects.get(pk=staff["sales"].pk).is_active


def test_departments_page_and_move(client_for, tree):
    client = client_for("sysadmin")
    body = client.get("/org/departments/").content.decode()
    assert body.index("总公司") < body.index("销售部") < body.index("华东组")
    response = client.post("/org/departments/", {"name": "西南组", "code": "SW", "parent": tree["sales"].pk})
    assert response.status_code == 302
    assert Department.objects.get(code="SW").path == f"{tree['sales'].path}{Department.objects.get(code='SW').pk}/"
    response = client.post(f"/org/departments/{tree['sales'].pk}/", {"name": "销售部", "parent": tree["east"].pk})
    assert response.status_code == 200 and "下级部门" in response.content.decode()
    response = client.post(f"/org/departments/{tree['sales'].pk}/", {"name": "营销部", "parent": tree["it"].pk})
    assert response.status_code == 302
    sales = Department.objects.get(pk=tree["sales"].pk)
    assert (sales.name, sales.parent_id) == ("营销部", tree["it"].pk)
    assert Department.objects.get(code="EAST").path.startswith(sales.path)


def test_roles_page_lists_permissions_and_scope(client_for, roles):
    body = client_for("secadmin").get("/org/roles/").content.decode()
    assert "系统管理员" in body and "管理账号" in body and "全部" in body and 'data-role="archivist"' in body
    assert "role-create" in body
    assert "role-create" not in client_for("sysadmin").get("/org/roles/").content.decode()


def test_secadmin_edits_a_role_on_the_page(client_for, roles):
    client = client_for("secadmin")
    sales = roles["sales"]
    assert client.get(f"/org/roles/{sales.pk}/").status_code == 200
    response = client.post(
        f"/org/roles/{sales.pk}/", {"name": "业务员", "data_scope": "department", "max_clearance": 3, "permissions": ["customers.view", "customers.create"], "unmasked_fields": ["phone"]}
    )
    assert response.status_code == 302
    sales.refresh_from_db()
    assert (sales.data_scope, sales.permissions, sales.unmasked_fields) == ("department", ["customers.create", "customers.view"], ["phone"])
    response = client.post(f"/org/roles/{sales.pk}/", {"name": "业务员", "data_scope": "own", "max_clearance": 3, "permissions": ["org.users.manage", "audit.view"]})
    assert response.status_code == 200 and "不得兼任" in response.content.decode()


def test_profile_edit(client_for, staff):
    client = client_for("sales")
    response = client.post("/account/", {"display_name": "刘新名", "email": "liu@example.com", "phone": "13900139000"})
    assert response.status_code == 302
    staff["sales"].refresh_from_db()
    assert staff["sales"].display_name == "刘新名"
    response = client.post("/account/", {"display_name": "x", "email": "", "phone": "123"})
    assert "手机号码无效" in response.content.decode()


def test_pages_require_login(db):
    from django.test import Client

    for url in ("/org/users/", "/org/departments/", "/org/roles/", "/account/", "/account/password/"):
        response = Client().get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/"), url
