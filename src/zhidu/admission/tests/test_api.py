"""/api/v1/admission: the whole admission and blacklist flow through the API."""

import datetime as dt

import openpyxl
import pytest
from django.test import Client

from zhidu.org.tokens import token_create

from .conftest import CREDIT_CODES

pytestmark = pytest.mark.django_db
URL = "/api/v1/admission"


class Api:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}

    def get(self, path="", **params):
        return self.client.get(URL + path, params, **self.headers)

    def post(self, path, body=None, **headers):
        return self.client.post(URL + path, body or {}, content_type="application/json", **self.headers, **headers)

    def put(self, path, body=None):
        return self.client.put(URL + path, body or {}, content_type="application/json", **self.headers)

    def patch(self, path, body=None):
        return self.client.patch(URL + path, body or {}, content_type="application/json", **self.headers)

    def upload(self, path, title="证明", content=b"%PDF-1.4"):
        from django.core.files.uploadedfile import SimpleUploadedFile

        return self.client.post(URL + path, {"title": title, "file": SimpleUploadedFile("a.pdf", content)}, **self.headers)


def error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code
    return body


def test_s04_flow_through_the_api(org, s04):
    sales, marketing = Api(org.sales_a), Api(org.marketing)
    r = sales.post("/applications", {"customer_type": "supplier", "name": "恒力原料有限公司", "credit_code": CREDIT_CODES[1]}, HTTP_IDEMPOTENCY_KEY="k1")
    assert r.status_code == 201, r.content
    app = r.json()
    again = sales.post("/applications", {"customer_type": "supplier", "name": "恒力原料有限公司", "credit_code": CREDIT_CODES[1]}, HTTP_IDEMPOTENCY_KEY="k1")
    assert again.status_code == 201 and again.json()["id"] == app["id"]
    pk = app["id"]
    assert [i["key"] for i in app["items"]][:2] == ["equipment_technology", "on_time_supply"] and app["customer_code"] is None

    body = error(sales.post(f"/applications/{pk}/submit", {}), 422, "checklist_incomplete")
    assert any(m["key"] == "general" for m in body["details"]["missing"])

    for item in app["items"]:
        assert sales.put(f"/applications/{pk}/items/{item['key']}", {"met": True}).status_code == 200
        if item["evidence_required"]:
            assert sales.upload(f"/applications/{pk}/items/{item['key']}/evidence").status_code == 201
    error(sales.post(f"/applications/{pk}/investigations/onsite", {"conducted_on": "2026-01-05", "investigators": "资材部", "findings": "x", "conclusion": "pass"}), 409, "stage_order")
    for stage in ("general", "onsite"):
        r = sales.post(f"/applications/{pk}/investigations/{stage}", {"conducted_on": dt.date.today().isoformat(), "investigators": "资材部、技术部", "findings": "符合", "conclusion": "pass"})
        assert r.status_code == 201, r.content
    detail = sales.get(f"/applications/{pk}").json()
    r = sales.patch(f"/applications/{pk}", {"version": detail["version"], "answers": {"trade_reason": "长期合作", "goods_amounts": "钛合金 100 万元"}})
    assert r.status_code == 200, r.content
    r = sales.post(f"/applications/{pk}/submit", {})
    assert r.status_code == 200 and r.json()["state"] == "submitted"
    assert marketing.get("/applications", waiting=True).json()["items"][0]["id"] == pk
    error(Api(org.manager_a).post(f"/applications/{pk}/decision", {"approve": True}), 403)
    r = marketing.post(f"/applications/{pk}/decision", {"approve": True})
    assert r.status_code == 200, r.content
    assert r.json()["state"] == "approved" and r.json()["customer_code"].startswith("GY")
    r = sales.put(f"/applications/{pk}/setup/supply_contract", {"note": "已签订"})
    assert r.json()["setup_steps"][0]["done_on"] == dt.date.today().isoformat()


def test_rejection_and_reapply_through_the_api(org, s04):
    sales, marketing = Api(org.sales_a), Api(org.marketing)
    from zhidu.admission import services

    from .conftest import complete

    app = complete(services.application_create(org.sales_a, {"customer_type": "supplier", "name": "甲公司", "credit_code": CREDIT_CODES[2]}), org.sales_a)
    sales.post(f"/applications/{app.pk}/submit", {})
    error(marketing.post(f"/applications/{app.pk}/decision", {"approve": False, "reasons": []}), 422, "reasons_required")
    r = marketing.post(f"/applications/{app.pk}/decision", {"approve": False, "reasons": ["成本水平不符合要求"]})
    assert r.json()["state"] == "rejected" and r.json()["rejection_reasons"] == ["成本水平不符合要求"]
    r = sales.post(f"/applications/{app.pk}/reapply")
    assert r.status_code == 201 and r.json()["state"] == "draft" and r.json()["previous_id"] == app.pk


def test_blacklist_api_check_report_and_export(org, s01, settings, tmp_path):
    from zhidu.customers.services import customer_create

    customer = customer_create(org.manager_a, {"customer_type": "dealer", "name": "乙公司", "credit_code": CREDIT_CODES[3]})
    manager, marketing = Api(org.manager_a), Api(org.marketing)
    r = manager.post("/blacklist", {"customer": customer.pk, "scope": "department", "reason": "拖欠货款"})
    assert r.status_code == 201, r.content
    entry = r.json()
    assert entry["department"]["id"] == org.dept_a.pk and entry["state"] == "active"
    error(manager.post("/blacklist", {"customer": customer.pk, "scope": "company", "reason": "x"}), 403)
    check = manager.get(f"/blacklist/check/{customer.pk}", department=org.dept_a.pk).json()
    assert check["blacklisted"] and check["code"] == "blacklisted" and "拖欠货款" in check["message"]
    assert not manager.get(f"/blacklist/check/{customer.pk}", department=org.dept_b.pk).json()["blacklisted"]
    error(Api(org.sales_a).post("/applications", {"customer_type": "dealer", "name": "乙公司", "credit_code": CREDIT_CODES[4]}), 403, "blacklisted")
    # the department list is not shown to another department's sales
    assert Api(org.sales_b).get("/blacklist").json()["items"] == []
    report = marketing.get("/blacklist/report").json()
    assert report["totals"]["active"] == 1 and report["lists"][0]["label"] == "销售一部"
    r = error(manager.post(f"/blacklist/{entry['id']}/reentry", {"review": "已还款"}), 409, "still_in_force")
    r = manager.post(f"/blacklist/{entry['id']}/lift", {"reason": "特殊情况"})
    assert r.json()["state"] == "lifted"
    r = manager.post(f"/blacklist/{entry['id']}/reentry", {"review": "已还款，经评审符合准入条件"})
    assert r.status_code == 201 and r.json()["state"] == "pending"
    error(Api(org.sales_a).get("/blacklist/export.xlsx"), 403)
    r = marketing.get("/blacklist/export.xlsx")
    assert r.status_code == 200
    path = tmp_path / "b.xlsx"
    path.write_bytes(b"".join(r.streaming_content))
    rows = list(openpyxl.load_workbook(path).active.values)
    assert rows[0][0] == "名单" and rows[1][3] == "乙公司" and rows[1][5] == "拖欠货款"
    # another department's manager: neither the report nor the export holds 销售一部's list
    other = Api(org.manager_b)
    assert other.get("/blacklist/report").json()["totals"]["active"] == 0
    r = other.get("/blacklist/export.xlsx")
    assert r.status_code == 200
    path.write_bytes(b"".join(r.streaming_content))
    assert list(openpyxl.load_workbook(path).active.values)[1:] == []


def test_contact_phone_masked_for_the_viewer(org, s04):
    r = Api(org.sales_a).post("/applications", {"customer_type": "supplier", "name": "恒力原料有限公司", "credit_code": CREDIT_CODES[1],
                                                 "contact_name": "王经理", "contact_phone": "13812345678"})
    assert r.status_code == 201, r.content
    assert r.json()["contact_phone"] == "138****5678"
    # a role that unmasks phones sees the number
    assert Api(org.gm).get(f"/applications/{r.json()['id']}").json()["contact_phone"] == "13812345678"


def test_application_of_a_classified_customer_is_hidden_above_clearance(org, s04):
    from zhidu.admission import services
    from zhidu.customers.models import Customer
    from zhidu.kernel.access import SecretLevel

    from .conftest import complete

    app = complete(services.application_create(org.sales_a, {"customer_type": "supplier", "name": "甲公司", "credit_code": CREDIT_CODES[2]}), org.sales_a)
    services.application_submit(org.sales_a, app.pk)
    services.application_decide(org.marketing, app.pk, True)
    app.refresh_from_db()
    assert Api(org.sales_a).get(f"/applications/{app.pk}").status_code == 200
    Customer.objects.filter(pk=app.customer_id).update(secret_level=SecretLevel.CONFIDENTIAL)  # above sales_a's 秘密
    error(Api(org.sales_a).get(f"/applications/{app.pk}"), 404)
    assert Api(org.sales_a).get("/applications").json()["items"] == []
    assert Api(org.gm).get(f"/applications/{app.pk}").status_code == 200


def test_check_does_not_show_the_reason_of_a_list_out_of_scope(org, s01):
    from zhidu.admission import services
    from zhidu.customers.services import customer_create

    # sales_b's own customer, on the list of 销售一部 (which sales_b may not see)
    customer = customer_create(org.gm, {"customer_type": "dealer", "name": "己公司", "credit_code": CREDIT_CODES[3], "owner": org.sales_b, "department": org.dept_b})
    services.blacklist_add(org.gm, customer.pk, "department", "内部原因：涉嫌串货", department=org.dept_a)
    assert Api(org.sales_b).get("/blacklist").json()["items"] == []
    for params in ({"department": org.dept_a.pk}, {}):
        check = Api(org.sales_b).get(f"/blacklist/check/{customer.pk}", **params).json()
        assert check["blacklisted"] and check["code"] == "blacklisted" and "销售一部" in check["message"]
        assert "串货" not in check["message"] and "reason" not in check["details"] and "entry_id" not in check["details"]
    assert not Api(org.sales_b).get(f"/blacklist/check/{customer.pk}", department=org.dept_b.pk).json()["blacklisted"]
    # the list's keeper sees the reason
    check = Api(org.gm).get(f"/blacklist/check/{customer.pk}", department=org.dept_a.pk).json()
    assert "串货" in check["message"] and check["details"]["reason"] == "内部原因：涉嫌串货"
