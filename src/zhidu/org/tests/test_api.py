"""/api/v1/org."""

import pytest
from django.test import Client

from zhidu.kernel.models import AuditEntry
from zhidu.org.models import User
from zhidu.org.tokens import token_create


@pytest.fixture
def api(staff):
    def make(username):
        client = Client()
        client.defaults["HTTP_AUTHORIZATION"] = f"Bearer {token_create(staff[username])}"
        return client

    return make


def test_me(api, staff):
    data = api("manager").get("/api/v1/org/me").json()
    assert data["username"] == "manager"
    assert data["data_scope"] == "subtree" and data["clearance"] == 2
    assert data["role"]["code"] == "dept_manager"
    assert "customers.transfer" in data["permissions"]
    assert data["department"]["code"] == "SALES"


def test_me_with_session(client_for):
    assert client_for("gm").get("/api/v1/org/me").json()["unmasked_fields"] == ["phone"]


def test_unauthenticated(db):
    response = Client().get("/api/v1/org/me")
    assert response.status_code == 401 and response.json()["code"] == "unauthenticated"
    assert Client().get("/api/v1/org/me", headers={"Authorization": "Bearer zd_wrong"}).status_code == 401


def test_departments_in_tree_order(api, tree):
    data = api("sales").get("/api/v1/org/departments").json()
    codes = [d["code"] for d in data]
    assert codes.index("HQ") < codes.index("SALES") < codes.index("EAST")
    east = next(d for d in data if d["code"] == "EAST")
    assert east["depth"] == 2 and east["parent_id"] == tree["sales"].pk and east["user_count"] >= 2


@pytest.mark.parametrize("who, status", [("sysadmin", 200), ("secadmin", 200), ("auditor", 403), ("gm", 403), ("sales", 403)])
def test_users_list_only_for_admins(api, who, status):
    response = api(who).get("/api/v1/org/users")
    assert response.status_code == status
    if status == 403:
        assert response.json()["code"] == "forbidden"


def test_users_list_filters_and_keyset(api, staff, tree):
    client = api("sysadmin")
    data = client.get("/api/v1/org/users", {"department": tree["sales"].pk}).json()
    assert {u["username"] for u in data["items"]} == {"manager", "supervisor", "sales", "sales2"}
    page1 = client.get("/api/v1/org/users", {"limit": 4}).json()
    assert len(page1["items"]) == 4 and page1["next_after"] == page1["items"][-1]["id"]
    page2 = client.get("/api/v1/org/users", {"limit": 4, "after": page1["next_after"]}).json()
    assert page2["items"][0]["id"] > page1["next_after"]
    everyone = client.get("/api/v1/org/users", {"limit": 200}).json()
    assert everyone["next_after"] is None and len(everyone["items"]) == User.objects.count()


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1000}, {"after": "x"}, {"department": -1}, {"active": "maybe"}, {"q": "x" * 500}, {"after": 10**30}])
def test_users_list_bad_input(api, params):
    response = api("sysadmin").get("/api/v1/org/users", params)
    assert response.status_code == 422 and response.json()["code"] == "invalid_input"


def test_user_disable(api, staff):
    victim_token = token_create(staff["sales"])
    response = api("sysadmin").post(f"/api/v1/org/users/{staff['sales'].pk}/disable", {"reason": "离职"}, content_type="application/json")
    assert response.status_code == 200
    assert response.json()["is_active"] is False and response.json()["left_at"]
    assert Client().get("/api/v1/org/me", headers={"Authorization": f"Bearer {victim_token}"}).status_code == 401
    assert AuditEntry.objects.get(action="org.user.disable").details["reason"] == "离职"
    again = api("sysadmin").post(f"/api/v1/org/users/{staff['sales'].pk}/disable", {}, content_type="application/json")
    assert again.status_code == 409 and again.json()["code"] == "conflict"


@pytest.mark.parametrize("who", ["secadmin", "auditor", "gm", "sales"])
def test_user_disable_forbidden(api, staff, who):
    response = api(who).post(f"/api/v1/org/users/{staff['sales2'].pk}/disable", {}, content_type="application/json")
    assert response.status_code == 403 and response.json()["code"] == "forbidden"
    assert User.objects.get(pk=staff["sales2"].pk).is_active


def test_user_disable_unknown_and_self(api, staff):
    assert api("sysadmin").post("/api/v1/org/users/999999/disable", {}, content_type="application/json").status_code == 404
    assert api("sysadmin").post(f"/api/v1/org/users/{staff['sysadmin'].pk}/disable", {}, content_type="application/json").status_code == 403
    bad = api("sysadmin").post(f"/api/v1/org/users/{staff['sales'].pk}/disable", {"reason": 5}, content_type="application/json")
    assert bad.status_code == 422
