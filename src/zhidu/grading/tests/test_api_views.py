"""The grading API and pages as a user meets them (S01 pack)."""

import io

import pytest
from django.test import Client

from zhidu.grading import services
from zhidu.grading.models import CustomerGrade, Review
from zhidu.org.tokens import token_create

URL = "/api/v1/grading"
THRESHOLDS = {"grading.threshold.t1.bed_count": 300, "grading.threshold.t1.sales_amount": 500,
              "grading.threshold.t2.bed_count": 100, "grading.threshold.t2.sales_amount": 100}


class Api:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}

    def get(self, path, **params):
        return self.client.get(URL + path, params, **self.headers)

    def send(self, method, path, body=None, **headers):
        return getattr(self.client, method)(URL + path, body or {}, content_type="application/json", **self.headers, **headers)


@pytest.fixture
def s01(pack, org):
    return pack("s01-prosthetics")


def test_api_scheme_and_review_needs_thresholds(s01, org, reviewer, graded_customer, set_param):
    api = Api(reviewer)
    body = api.get("/scheme").json()
    assert [g["key"] for g in body["grades"]] == ["VIP", "PREFERRED", "QUALIFIED"]
    assert {t["key"] for t in body["thresholds"] if t["value"] is None} == set(THRESHOLDS)
    assert body["downgrade_deadline"] == {"amount": 5, "unit": "calendar_days"}
    response = api.send("post", "/reviews", {"department": org.dept_a.pk})
    assert response.status_code == 409
    assert response.json()["code"] == "thresholds_missing" and "grading.threshold.t1.bed_count" in response.json()["message"]
    for key, value in THRESHOLDS.items():
        set_param(key, value)
    customer = graded_customer()
    response = api.send("put", f"/customers/{customer.pk}/metrics", {"hospital_level": 5, "evaluation_score": "91.5", "product": "假肢"})
    assert response.status_code == 200 and response.json()["version"] == 1
    stale = api.send("put", f"/customers/{customer.pk}/metrics", {"bed_count": 10, "expected_version": 7})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    bad = api.send("put", f"/customers/{customer.pk}/metrics", {"hospital_level": 8})
    assert bad.status_code == 422 and "hospital_level" in bad.json()["details"]["fields"]
    response = api.send("post", "/reviews", {"department": org.dept_a.pk}, HTTP_IDEMPOTENCY_KEY="r-1")
    assert response.status_code == 201
    again = api.send("post", "/reviews", {"department": org.dept_a.pk}, HTTP_IDEMPOTENCY_KEY="r-1")
    assert again.json()["id"] == response.json()["id"] and Review.objects.count() == 1
    review_id = response.json()["id"]
    items = api.get(f"/reviews/{review_id}/items").json()["items"]
    assert [(i["customer_id"], i["proposed_grade"], i["change"]) for i in items] == [(customer.pk, "QUALIFIED", "new")]
    # one customer in 销售一部: 15% of 1 is 0 VIP, 30% of 1 is 0 优选 → capped to 合格 with a note
    assert items[0]["eligible_grade"] == "VIP" and "30%" in items[0]["quota_note"]
    submitted = api.send("post", f"/reviews/{review_id}/submit", {"expected_version": response.json()["version"]})
    assert submitted.status_code == 200 and submitted.json()["state"] == "submitted"


def test_api_permissions_and_scope(s01, org, graded_customer):
    customer = graded_customer()
    assert Api(org.auditor).get("/scheme").status_code == 403
    response = Api(org.sales_b).get(f"/customers/{customer.pk}")  # another department's customer
    assert response.status_code == 404
    assert Api(org.sales_a).send("post", f"/customers/{customer.pk}/changes", {"to_grade": "VIP", "reason": "x"}).status_code == 403


def test_pages_home_review_quota_customer_export(s01, org, reviewer, graded_customer, set_param):
    client = Client()
    client.force_login(reviewer)
    home = client.get("/grading/")
    assert home.status_code == 200
    text = home.content.decode()
    assert "分级门槛尚未设定" in text and "grading.threshold.t2.sales_amount" in text and "/admission/" in text
    for key, value in THRESHOLDS.items():
        set_param(key, value)
    customers = [graded_customer(hospital_level=5, evaluation_score=90, product="假肢") for _ in range(7)]
    assert "分级门槛尚未设定" not in client.get("/grading/").content.decode()
    response = client.post("/grading/reviews/start/", {"department": org.dept_a.pk, "title": "上半年评审"}, follow=True)
    review = Review.objects.get()
    assert response.redirect_chain[-1][0] == f"/grading/reviews/{review.pk}/"
    page = response.content.decode()
    assert "上半年评审" in page and "比例上限" in page
    client.post(f"/grading/reviews/{review.pk}/submit/", {"version": review.version})
    from zhidu.kernel import approvals

    approvals.decide(Review.objects.get().approval_id, org.manager_a, True, "")
    assert CustomerGrade.objects.filter(grade="VIP").count() == 1  # floor(7 × 15%) = 1
    quota = client.get("/grading/quota/").content.decode()
    assert "销售一部" in quota and "15" in quota
    detail = client.get(f"/grading/customers/{customers[0].pk}/").content.decode()
    assert "等级历史" in detail and "上半年评审" in detail
    export = client.get("/grading/customers/export/")
    assert export.status_code == 200
    from openpyxl import load_workbook

    rows = list(load_workbook(io.BytesIO(b"".join(export.streaming_content))).active.iter_rows(values_only=True))
    assert len(rows) == 8 and rows[0][3] == "等级"
    review_export = client.get(f"/grading/reviews/{review.pk}/export/")
    assert review_export.status_code == 200
    review_rows = list(load_workbook(io.BytesIO(b"".join(review_export.streaming_content))).active.iter_rows(values_only=True))
    assert sorted(r[1] for r in review_rows[1:]) == sorted(c.name for c in customers)
    assert sum(1 for r in review_rows[1:] if r[4] == "VIP客户") == 1
    assert "上半年评审" in client.get("/grading/progress/").content.decode()
    # another department's manager exports none of 销售一部's grades
    other = Client()
    other.force_login(org.manager_b)
    other_rows = list(load_workbook(io.BytesIO(b"".join(other.get("/grading/customers/export/").streaming_content))).active.iter_rows(values_only=True))
    assert other_rows[1:] == []


def test_metrics_form_errors_are_shown_and_nothing_saved(s01, org, reviewer, graded_customer):
    customer = graded_customer()
    client = Client()
    client.force_login(reviewer)
    response = client.post(f"/grading/customers/{customer.pk}/metrics/", {"sales_amount": "abc", "overdue_count": "0"}, follow=True)
    assert "评价指标有误" in response.content.decode() and "年业务量" in response.content.decode()
    from zhidu.grading.models import CustomerMetrics

    assert not CustomerMetrics.objects.filter(customer=customer).exists()


def test_pages_in_english_have_no_chinese_ui_text(s01, org, reviewer, graded_customer):
    import re

    customer = graded_customer(evaluation_score=80)
    client = Client()
    client.force_login(reviewer)
    client.cookies["django_language"] = "en"
    cjk = re.compile(r"[\u4e00-\u9fff]")
    for url in ("/grading/", "/grading/reviews/", "/grading/quota/", "/grading/progress/", "/grading/customers/", f"/grading/customers/{customer.pk}/"):
        html = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        headings = re.findall(r"<(?:h1|h2|th|label|button)[^>]*>(.*?)</(?:h1|h2|th|label|button)>", html, re.S)
        texts = [re.sub(r"<[^>]+>", "", h).strip() for h in headings]
        data = (customer.name, reviewer.display_name, "中文")  # entered data and the language switch
        chinese = [t for t in texts if cjk.search(t) and not any(d in t for d in data)]
        assert not chinese, (url, chinese[:5])


def test_review_items_and_export_hide_customers_outside_scope_or_clearance(s01, org, reviewer, graded_customer, set_param):
    from openpyxl import load_workbook

    from zhidu.customers.models import Customer
    from zhidu.kernel.access import SecretLevel
    from zhidu.kernel.errors import NotFound

    for key, value in THRESHOLDS.items():
        set_param(key, value)
    open_one = graded_customer(evaluation_score=80)
    secret = graded_customer(evaluation_score=70)
    Customer.objects.filter(pk=secret.pk).update(secret_level=SecretLevel.CONFIDENTIAL)
    review = services.review_start(org.manager_a, department=org.dept_a)  # 机密 clearance: both customers
    assert {i.customer_id for i in review.items.all()} == {open_one.pk, secret.pk}

    # 主管 (本部门, 秘密) sees the review of 销售一部, but not the 机密 customer in it
    items = Api(org.supervisor_a).get(f"/reviews/{review.pk}/items").json()["items"]
    assert [i["customer_id"] for i in items] == [open_one.pk]
    client = Client()
    client.force_login(org.supervisor_a)
    page = client.get(f"/grading/reviews/{review.pk}/").content.decode()
    assert open_one.name in page and secret.name not in page
    # 业务员 (本人) does not see the department's review at all
    assert Api(org.sales_a2).get(f"/reviews/{review.pk}/items").status_code == 404

    # the export of the 秘密-cleared reviewer leaves the 机密 customer out
    client.force_login(reviewer)
    export = client.get(f"/grading/reviews/{review.pk}/export/")
    rows = list(load_workbook(io.BytesIO(b"".join(export.streaming_content))).active.iter_rows(values_only=True))
    assert [r[1] for r in rows[1:]] == [open_one.name]
    # nor may that reviewer keep the 机密 customer's grade or write evidence for it
    hidden = review.items.get(customer=secret)
    with pytest.raises(NotFound):
        services.review_item_update(reviewer, review.pk, hidden.pk, evidence="x")
    assert Api(reviewer).send("patch", f"/reviews/{review.pk}/items/{hidden.pk}", {"evidence": "x"}).status_code == 404
    hidden.refresh_from_db()
    assert hidden.evidence == ""
