import pytest
from django.test import Client

from zhidu.customers.models import Customer
from zhidu.kernel.access import SecretLevel
from zhidu.org.tokens import token_create

from .conftest import CREDIT_CODES

pytestmark = pytest.mark.django_db
URL = "/api/v1/customers"


class Api:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}

    def get(self, path="", **params):
        return self.client.get(URL + path, params, **self.headers)

    def post(self, path="", body=None, raw=None, **headers):
        data = raw if raw is not None else body
        return self.client.post(URL + path, data, content_type="application/json", **self.headers, **headers)

    def patch(self, path, body=None, raw=None):
        return self.client.patch(URL + path, raw if raw is not None else body, content_type="application/json", **self.headers)


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code
    return body


ENTERPRISE = {"customer_type": "enterprise", "name": "北京德奥假肢有限公司", "credit_code": CREDIT_CODES[0], "contacts": [{"name": "王经理", "phone": "13812345678"}]}


def test_create_read_update_flow(org):
    api = Api(org.sales_a)
    response = api.post(body=ENTERPRISE)
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["code"].startswith("QY") and created["owner"]["id"] == org.sales_a.pk
    assert created["contacts"][0]["phone"] == "138****5678"
    detail = api.get(f"/{created['id']}").json()
    assert detail["name"] == ENTERPRISE["name"] and detail["version"] == 1
    updated = api.patch(f"/{created['id']}", {"version": 1, "region": "北京"})
    assert updated.status_code == 200 and updated.json()["version"] == 2
    stale = api.patch(f"/{created['id']}", {"version": 1, "region": "上海"})
    assert_error(stale, 409, "stale_version")
    assert Customer.objects.get().region == "北京"
    timeline = api.get(f"/{created['id']}/timeline").json()
    assert [e["kind"] for e in timeline["items"]] == ["updated", "created"]


def test_list_search_and_cursor(org, make_customer):
    for i in range(5):
        make_customer(user=org.sales_a, name=f"重庆客户{i}")
    api = Api(org.sales_a)
    page = api.get(q="cqkh", limit=2).json()
    assert len(page["items"]) == 2 and page["next_cursor"]
    rest = api.get(q="cqkh", limit=200, cursor=page["next_cursor"]).json()
    assert len(rest["items"]) == 3 and rest["next_cursor"] is None
    assert Api(org.sales_b).get().json() == {"items": [], "next_cursor": None}


def test_list_forbidden_without_view_permission(org):
    assert_error(Api(org.auditor).get(), 403, "forbidden")


def test_idempotency_key_on_create(org):
    api = Api(org.sales_a)
    first = api.post(body=ENTERPRISE, HTTP_IDEMPOTENCY_KEY="abc-1")
    again = api.post(body=ENTERPRISE, HTTP_IDEMPOTENCY_KEY="abc-1")
    assert first.status_code == 201 and again.status_code == 201
    assert again.json()["id"] == first.json()["id"]
    assert Customer.objects.count() == 1


def test_duplicates_and_confirmation(org):
    api = Api(org.sales_a)
    api.post(body=ENTERPRISE)
    body = assert_error(api.post(body={**ENTERPRISE, "name": "另一家"}), 409, "duplicate_identifier")
    assert body["details"]["duplicates"][0]["name"] == ENTERPRISE["name"]
    similar = {**ENTERPRISE, "name": "北京德奥假肢股份有限公司", "credit_code": CREDIT_CODES[1], "contacts": []}
    assert_error(api.post(body=similar), 409, "possible_duplicate")
    assert api.post(body={**similar, "confirm_duplicates": True}).status_code == 201


@pytest.mark.parametrize(
    "body, field",
    [
        ({**ENTERPRISE, "credit_code": "91110000802100433A"}, "credit_code"),
        ({**ENTERPRISE, "customer_type": "alien"}, "customer_type"),
        ({**ENTERPRISE, "name": "名" * 201}, "name"),
        ({**ENTERPRISE, "contacts": [{"name": "x", "phone": "123"}]}, "contacts.0.phone"),
        ({**ENTERPRISE, "status": "nonsense"}, "status"),
        ({**ENTERPRISE, "secret_level": 9}, "secret_level"),
        ({**ENTERPRISE, "owner": 999999}, "owner"),
        ({**ENTERPRISE, "department": 999999}, "department"),
    ],
)
def test_create_invalid_fields(org, body, field):
    body = assert_error(Api(org.sales_a).post(body=body), 422, "invalid_input")
    assert field in body["details"]["fields"]
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "raw",
    [
        "not json",
        "[]",
        '{"name": "x"}',  # missing type
        '{"customer_type": 5, "name": ["x"]}',  # wrong types
        '{"customer_type": "household", "name": "' + "x" * 5000 + '"}',  # oversized
        '{"customer_type": "household", "name": "x", "contacts": "nope"}',
        '{"customer_type": "household", "name": "x", "secret_level": "high"}',
        '{"customer_type": "household", "name": "x", "address": "y", "secret_level": true}',
        '{"customer_type": "household", "name": "x", "address": "y", "owner": true}',
        '{"customer_type": "household", "name": "x", "owner": 99999999999999999999999}',
        '{"customer_type": "household", "name": "x", "extra": {"k": "' + "y" * 30000 + '"}}',
    ],
)
def test_create_bad_payloads_are_4xx(org, raw):
    response = Api(org.sales_a).post(raw=raw)
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"code", "message", "details"}
    assert Customer.objects.count() == 0


@pytest.mark.parametrize(
    "path, params",
    [
        ("/abc", {}),
        ("/0", {}),
        ("/99999999999999999999999", {}),
        ("", {"limit": 1000}),
        ("", {"limit": "x"}),
        ("", {"cursor": "x"}),
        ("", {"department": "abc"}),
        ("", {"q": "x" * 500}),
    ],
)
def test_bad_query_and_path_are_4xx(org, path, params):
    response = Api(org.sales_a).get(path, **params)
    assert 400 <= response.status_code < 500, response.content
    assert set(response.json()) == {"code", "message", "details"}


def test_unknown_and_out_of_scope_ids_are_404(org, make_customer):
    customer = make_customer(user=org.sales_b)
    api = Api(org.sales_a)
    assert_error(api.get(f"/{customer.pk}"), 404, "not_found")
    assert_error(api.get("/987654"), 404, "not_found")
    assert_error(api.patch(f"/{customer.pk}", {"version": 1, "region": "x"}), 404)
    assert_error(api.post(f"/{customer.pk}/status", {"status": "admitted", "reason": "x", "version": 1}), 404)
    assert_error(api.post(f"/{customer.pk}/contacts", {"name": "x"}), 404)


def test_patch_bad_input(org, make_customer):
    customer = make_customer(user=org.sales_a)
    api = Api(org.sales_a)
    assert_error(api.patch(f"/{customer.pk}", {"region": "x"}), 422)  # version missing
    assert_error(api.patch(f"/{customer.pk}", {"version": "one"}), 422)
    assert_error(api.patch(f"/{customer.pk}", {"version": 1, "name": ""}), 422)
    assert_error(api.patch(f"/{customer.pk}", {"version": 1, "secret_level": 3}), 422)  # above own clearance
    broken = api.patch(f"/{customer.pk}", raw="{")
    assert 400 <= broken.status_code < 500 and set(broken.json()) == {"code", "message", "details"}
    customer.refresh_from_db()
    assert customer.version == 1


def test_status_transfer_handover_and_contacts(org, make_customer):
    customer = make_customer(user=org.sales_a)
    api = Api(org.manager_a)
    assert api.post(f"/{customer.pk}/status", {"status": "admitted", "reason": "准入", "version": 1}).json()["status"] == "admitted"
    assert_error(api.post(f"/{customer.pk}/status", {"status": "suspended", "reason": "x", "version": 2}), 409, "bad_transition")
    assert_error(api.post(f"/{customer.pk}/status", {"status": "active", "version": 2}), 422)  # reason missing
    moved = api.post(f"/{customer.pk}/transfer", {"to_owner": org.sales_a2.pk, "reason": "调岗"})
    assert moved.status_code == 200 and moved.json()["owner"]["id"] == org.sales_a2.pk
    assert_error(api.post(f"/{customer.pk}/transfer", {"to_owner": org.sales_b.pk, "reason": "x"}), 403)
    assert_error(api.post(f"/{customer.pk}/transfer", {"to_owner": 424242, "reason": "x"}), 422)
    assert_error(Api(org.sales_a2).post(f"/{customer.pk}/transfer", {"to_owner": org.sales_a.pk, "reason": "x"}), 403)
    handover = api.post("/handover", {"from_user": org.sales_a2.pk, "to_users": [org.sales_a1.pk], "reason": "离职"})
    assert handover.status_code == 200 and handover.json()["customer_count"] == 1
    assert_error(api.post("/handover", {"from_user": org.sales_a2.pk, "to_users": [], "reason": "x"}), 422)
    contact = api.post(f"/{customer.pk}/contacts", {"name": "李", "phone": "13700000000"})
    assert contact.status_code == 201 and contact.json()["phone"] == "137****0000"
    contact_id = contact.json()["id"]
    assert api.client.patch(f"{URL}/{customer.pk}/contacts/{contact_id}", {"title": "经理"}, content_type="application/json", **api.headers).status_code == 200
    assert_error(api.client.delete(f"{URL}/{customer.pk + 1000}/contacts/{contact_id}", **api.headers), 404)
    assert api.client.delete(f"{URL}/{customer.pk}/contacts/{contact_id}", **api.headers).status_code == 204


def test_access_request_api(org, make_customer):
    customer = make_customer(user=org.gm, secret_level=SecretLevel.CONFIDENTIAL)
    api = Api(org.sales_a)
    assert_error(api.get(f"/{customer.pk}"), 404)
    assert_error(api.post(f"/{customer.pk}/access-requests", {"reason": "核对", "days": 30}), 422)
    assert_error(api.post(f"/{customer.pk}/access-requests", {"reason": "核对", "days": "many"}), 422)
    response = api.post(f"/{customer.pk}/access-requests", {"reason": "核对", "days": 2, "code": customer.code})
    assert response.status_code == 201 and response.json()["state"] == "pending"
    assert_error(api.post("/987654/access-requests", {"reason": "核对", "days": 2}), 404)


def test_counts(org, make_customer):
    make_customer(user=org.sales_a)
    counts = Api(org.sales_a).get("/counts").json()
    assert counts["by_status"] == [{"status": "prospect", "count": 1}]


def test_unauthenticated(db):
    response = Client().get(URL)
    assert_error(response, 401, "unauthenticated")
