"""/api/v1/credit: the S28 flow through the API, with the error format and idempotent creates."""

import pytest
from django.test import Client

from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/credit"


class Api:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}

    def get(self, path, **params):
        return self.client.get(URL + path, params, **self.headers)

    def post(self, path, body=None, **headers):
        return self.client.post(URL + path, body or {}, content_type="application/json", **self.headers, **headers)

    def put(self, path, body):
        return self.client.put(URL + path, body, content_type="application/json", **self.headers)


def error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code, body
    return body


def test_terms_order_approval_flow(org, credit, make_customer):
    customer = make_customer()
    controller, sales = Api(credit.controller), Api(org.sales_a)
    r = controller.put(f"/customers/{customer.pk}/terms", {"grade": "B", "credit_limit": "1000", "payment_term_days": 0, "reason": "先设定额度"})
    assert r.status_code == 200, r.content
    assert r.json()["grade"] == "B" and r.json()["credit_limit"] == "1000.00" and r.json()["next_investigation_on"]
    body = error(controller.put(f"/customers/{customer.pk}/terms", {"grade": "B", "credit_limit": "999999", "payment_term_days": 0, "reason": "x"}), 422, "invalid_input")
    assert "credit_limit" in body["details"]["fields"]

    ok = sales.post(f"/customers/{customer.pk}/orders", {"reference": "SO-1", "product": "膝关节", "quantity": "2", "unit_price": "300"})
    assert ok.status_code == 201 and ok.json()["state"] == "open" and ok.json()["check"]["exposure_after"] == "600.00"
    big = sales.post(f"/customers/{customer.pk}/orders", {"reference": "SO-2", "product": "膝关节", "quantity": 2, "unit_price": 300}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert big.status_code == 201 and big.json()["state"] == "pending" and big.json()["check"]["reasons"] == ["over_limit"]
    again = sales.post(f"/customers/{customer.pk}/orders", {"reference": "SO-2", "product": "膝关节", "quantity": 2, "unit_price": 300}, HTTP_IDEMPOTENCY_KEY="k-2")
    assert again.json()["id"] == big.json()["id"] and again["Idempotent-Replayed"] == "true"

    from zhidu.kernel import approvals

    approvals.decide(big.json()["approval"], credit.controller, True, "同意")
    assert sales.get(f"/orders/{big.json()['id']}").json()["state"] == "open"
    account = sales.get(f"/customers/{customer.pk}").json()
    assert account["exposure"] == "1200.00" and account["over_limit"] is True
    listed = controller.get("/accounts", over_limit=True).json()["items"]
    assert [a["customer"]["id"] for a in listed] == [customer.pk]


def test_receivables_overdue_and_payment(org, credit, graded):
    api = Api(org.sales_a)
    r = api.post(f"/customers/{graded.pk}/receivables", {"reference": "INV-1", "amount": "500", "invoiced_on": "2026-09-01", "due_on": "2026-10-01"})
    assert r.status_code == 201, r.content
    assert [x["id"] for x in api.get("/receivables", overdue=True).json()["items"]] == [r.json()["id"]]
    assert api.get("/accounts", overdue=True).json()["items"][0]["customer"]["id"] == graded.pk
    held = api.post(f"/customers/{graded.pk}/orders", {"reference": "SO-9", "product": "x", "quantity": 1, "unit_price": 1})
    assert held.json()["check"]["reasons"] == ["overdue"]
    paid = api.post(f"/receivables/{r.json()['id']}/payments", {"amount": "500"})
    assert paid.json()["state"] == "paid" and api.get("/accounts", overdue=True).json()["items"] == []
    report = Api(credit.controller).get("/reports/exposure").json()
    assert report["overdue_receivables"] == 0 and report["pending_orders"] == 1


def test_stop_resume_and_bad_input(org, credit, graded):
    controller, sales = Api(credit.controller), Api(org.sales_a)
    assert controller.post(f"/customers/{graded.pk}/trade/stop", {"reason": "票据被拒付"}).json()["trade_state"] == "suspended"
    body = error(sales.post(f"/customers/{graded.pk}/orders", {"reference": "SO-1", "product": "x", "quantity": 1, "unit_price": 1}), 409, "trade_stopped")
    assert "票据被拒付" in body["message"]
    assert controller.post(f"/customers/{graded.pk}/trade/resume", {"reason": "已结清"}).json()["trade_state"] == "active"
    body = error(sales.post(f"/customers/{graded.pk}/orders", {"reference": "SO-1", "product": "", "quantity": "-1", "unit_price": "x"}), 422, "invalid_input")
    assert set(body["details"]["fields"]) == {"product", "quantity", "unit_price"}
    error(sales.post(f"/customers/{graded.pk}/orders", {"reference": "SO-1"}), 422, "invalid_input")
    error(sales.post("/customers/999999/orders", {"reference": "SO-1", "product": "x", "quantity": 1, "unit_price": 1}), 404, "not_found")
    error(sales.post(f"/customers/{graded.pk}/trade/stop", {"reason": "x"}), 403, "forbidden")
    error(Api(org.auditor).get("/accounts"), 403, "forbidden")


def test_investigation_change_and_grades(org, credit, graded):
    controller = Api(credit.controller)
    grades = controller.get("/grades").json()
    assert [g["key"] for g in grades["grades"]] == ["A", "B", "C", "D"]
    assert grades["grades"][0]["investigation_every_months"] == 6 and grades["grades"][3]["max_limit"] == 0 and grades["missing_parameters"] == []
    inv = controller.post(f"/customers/{graded.pk}/investigations", {"channel": "field", "summary": "实地走访，经营正常"})
    assert inv.status_code == 201 and inv.json()["next_investigation_on"]
    change = controller.post(f"/customers/{graded.pk}/registration-changes", {"kind": "capital", "description": "注册资本增至 1000 万", "changed_on": "2026-11-02"})
    assert change.status_code == 201 and change.json()["due_at"].startswith("2026-11-16")
    assert controller.get("/registration-changes", open_only=True).json()["items"][0]["id"] == change.json()["id"]
    reported = controller.post(f"/registration-changes/{change.json()['id']}/reported", {"reported_on": "2026-11-10"})
    assert reported.json()["late"] is False
    m = controller.post(f"/customers/{graded.pk}/measures", {"kind": "guarantor", "detail": "要求提供连带担保人", "instructed_by": "manager_a"})
    assert m.status_code == 201


def test_export_is_streamed_and_audited(org, credit, graded):
    from openpyxl import load_workbook

    from zhidu.kernel.models import AuditEntry

    response = Api(credit.controller).get("/exports/exposure.xlsx")
    assert response.status_code == 200
    import io

    sheet = load_workbook(io.BytesIO(b"".join(response.streaming_content))).active
    rows = list(sheet.values)
    assert rows[0][0] == "客户编码" and rows[1][1] == graded.name
    assert AuditEntry.objects.filter(action="credit.export_exposure").exists()
    error(Api(org.sales_a).get("/exports/overdue.xlsx"), 403, "forbidden")


def test_info_card_phone_is_masked_unless_the_role_unmasks_phones(org, credit, graded):
    from zhidu.credit import services
    from zhidu.credit.models import CreditAccount

    services.info_card_update(org.sales_a, graded.pk, {"contact_person": "王经理", "contact_phone": "13800138000"})
    card = Api(credit.controller).get(f"/customers/{graded.pk}").json()["info_card"]
    assert card == {"contact_person": "王经理", "contact_phone": "138****8000"}
    listed = Api(credit.controller).get("/accounts").json()["items"]
    assert [a["info_card"].get("contact_phone") for a in listed if a["customer"]["id"] == graded.pk] == ["138****8000"]
    assert Api(org.gm).get(f"/customers/{graded.pk}").json()["info_card"]["contact_phone"] == "13800138000"
    # The masked number sent back as shown keeps the number; a new number replaces it.
    services.info_card_update(credit.controller, graded.pk, {"contact_phone": "138****8000", "address": "新地址"})
    assert CreditAccount.objects.get(customer=graded).info_card["contact_phone"] == "13800138000"
    services.info_card_update(credit.controller, graded.pk, {"contact_phone": "13900139000"})
    assert CreditAccount.objects.get(customer=graded).info_card["contact_phone"] == "13900139000"
