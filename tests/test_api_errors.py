"""Bad input to the API gets a 4xx with the error format `{code, message, details}`, never a 500."""

import re

import pytest
from django.conf import settings
from django.test import Client

from zhidu.kernel.access import SecretLevel

pytestmark = pytest.mark.django_db
API = "/api/v1"
MAX_ID = 2**63 - 1


@pytest.fixture
def people(db):
    from zhidu.org.models import Department, Role, User
    from zhidu.org.services import roles_ensure_builtin

    roles_ensure_builtin()
    roles = {r.code: r for r in Role.objects.all()}
    root = Department.objects.create(name="总公司", code="root")
    root.path = f"/{root.pk}/"
    root.save(update_fields=["path"])
    gm = User.objects.create(username="gm", display_name="总经理", role=roles["general_manager"], department=root, clearance=SecretLevel.TOP_SECRET)
    sysadmin = User.objects.create(username="sysadmin", display_name="系统管理员", role=roles["sysadmin"], department=root)
    leaver = User.objects.create(username="leaver", display_name="离职员工", role=roles["sales"], department=root)
    return {"gm": gm, "sysadmin": sysadmin, "leaver": leaver}


def client(user=None):
    from zhidu.org.tokens import token_create

    headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"} if user else {}
    return Client(raise_request_exception=False, **headers)


def assert_error(response, status, code=None) -> dict:
    assert response.status_code == status, response.content[:500]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"code", "message", "details"}, body
    assert isinstance(body["code"], str) and isinstance(body["message"], str) and body["message"]
    assert isinstance(body["details"], dict)
    if code:
        assert body["code"] == code, body
    return body


def create_customer(user, **fields):
    from zhidu.customers import services

    data = {"customer_type": "household", "name": "错误测试客户", "address": "测试路 1 号", **fields}
    return services.customer_create(user, data, confirm_duplicates=True)


# ------------------------------------------------------------------ size


def test_oversized_json_payload_is_413(people):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    body = '{"customer_type": "household", "name": "' + "长" * (limit // 3 + 10) + '"}'
    assert len(body.encode()) > limit
    response = client(people["gm"]).post(f"{API}/customers", body, content_type="application/json")
    assert assert_error(response, 413, "payload_too_large")["details"] == {"limit": limit}


def test_oversized_patch_and_other_routers_are_413(people):
    customer = create_customer(people["gm"])
    big = '{"version": 1, "address": "' + "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 1) + '"}'
    api = client(people["gm"])
    assert_error(api.patch(f"{API}/customers/{customer.pk}", big, content_type="application/json"), 413, "payload_too_large")
    assert_error(api.post(f"{API}/kernel/inbox/read", big, content_type="application/json"), 413, "payload_too_large")


def test_oversized_multipart_fields_are_413(people, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    customer = create_customer(people["gm"])
    response = client(people["gm"]).post(f"{API}/customers/{customer.pk}/documents", {"title": "t" * 2000, "secret_level": "0"})
    assert_error(response, 413, "payload_too_large")


def test_too_many_form_fields_is_400(people, settings):
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 5
    customer = create_customer(people["gm"])
    fields = {f"f{i}": "x" for i in range(20)} | {"title": "合同", "secret_level": "0"}
    response = client(people["gm"]).post(f"{API}/customers/{customer.pk}/documents", fields)
    assert assert_error(response, 400, "bad_request")["details"] == {"reason": "TooManyFieldsSent"}


def test_long_text_fields_are_422_not_a_database_error(people):
    response = client(people["gm"]).post(f"{API}/customers", {"customer_type": "household", "name": "名" * 5000}, content_type="application/json")
    assert_error(response, 422, "invalid_input")


# ------------------------------------------------------------------ malformed and mistyped input


@pytest.mark.parametrize("raw", ['{"customer_type": "household", "name": ', "not json at all", "[1, 2", "\xff\xfe"])
def test_malformed_json_is_4xx(people, raw):
    response = client(people["gm"]).post(f"{API}/customers", raw, content_type="application/json")
    assert 400 <= response.status_code < 500
    assert_error(response, response.status_code)


@pytest.mark.parametrize(
    "body, field",
    [
        ({"customer_type": "household", "name": 123}, "name"),
        ({"customer_type": "household", "name": "甲", "secret_level": "1"}, "secret_level"),
        ({"customer_type": "household", "name": "甲", "owner": True}, "owner"),
        ({"customer_type": "household", "name": "甲", "contacts": "王经理"}, "contacts"),
        ({"customer_type": "household", "name": "甲", "extra": [1, 2]}, "extra"),
        ({"customer_type": ["household"], "name": "甲"}, "customer_type"),
        ({"name": "甲"}, "customer_type"),
    ],
)
def test_wrong_types_and_missing_fields_are_422(people, body, field):
    response = client(people["gm"]).post(f"{API}/customers", body, content_type="application/json")
    errors = assert_error(response, 422, "invalid_input")["details"]["errors"]
    assert any(field in e["loc"] for e in errors), errors


@pytest.mark.parametrize(
    "path",
    [
        "/customers?limit=abc",
        "/customers?limit=0",
        "/customers?cursor=-1",
        f"/customers?owner={MAX_ID + 1}",
        f"/customers/export.xlsx?owner={MAX_ID + 1}",
        f"/customers/import?before={10**30}",
        f"/kernel/approvals/pending?before={10**30}",
        f"/kernel/approvals/{10**30}",
        "/customers/abc",
        f"/customers/{10**30}",
        "/kernel/inbox?limit=abc",
    ],
)
def test_wrong_query_and_path_types_are_422(people, path):
    assert_error(client(people["gm"]).get(API + path), 422, "invalid_input")


def test_wrong_type_in_a_patch_is_422(people):
    customer = create_customer(people["gm"])
    api = client(people["gm"])
    assert_error(api.patch(f"{API}/customers/{customer.pk}", {"version": "1"}, content_type="application/json"), 422, "invalid_input")
    assert_error(api.patch(f"{API}/customers/{customer.pk}", {"version": 1, "secret_level": 1.5}, content_type="application/json"), 422)
    assert_error(api.post(f"{API}/kernel/inbox/read", {"ids": [10**30]}, content_type="application/json"), 422, "invalid_input")


@pytest.mark.parametrize("path", ["/customers?q=a%00b", "/customers/export.xlsx?region=%00", "/kernel/audit?action=%00"])
def test_nul_in_a_query_is_422(people, path):
    # PostgreSQL cannot store or compare text holding NUL: refused before any query runs.
    assert assert_error(client(people["gm"]).get(API + path), 422, "invalid_input")["details"] == {"where": "query"}


@pytest.mark.parametrize("escaped", ["\\u0000", "\\ud800", "a\\udc00b"])
@pytest.mark.parametrize("content_type", ["application/json", "text/plain"])
def test_nul_or_lone_surrogate_in_json_is_422(people, escaped, content_type):
    from zhidu.customers.models import Customer

    body = '{"customer_type": "household", "address": "测试路 1 号", "name": "甲' + escaped + '"}'
    response = client(people["gm"]).post(f"{API}/customers", body, content_type=content_type)
    assert assert_error(response, 422, "invalid_input")["details"] == {"where": "body"}
    assert not Customer.objects.exists()


def test_escaped_backslash_and_surrogate_pairs_are_accepted(people):
    # "\\u0000" is the six characters \u0000, and a surrogate pair is one emoji: both are ordinary text.
    body = '{"customer_type": "household", "address": "测试路 1 号", "name": "反斜杠\\\\u0000 \\ud83d\\ude00"}'
    response = client(people["gm"]).post(f"{API}/customers", body, content_type="application/json")
    assert response.status_code == 201, response.content
    assert response.json()["name"] == "反斜杠\\u0000 \U0001f600"


def test_unsupported_method_is_405_with_the_error_format(people):
    response = client(people["gm"]).put(f"{API}/customers", {}, content_type="application/json")
    body = assert_error(response, 405, "method_not_allowed")
    assert "GET" in body["details"]["allowed"] and "POST" in body["details"]["allowed"]
    assert "GET" in response["Allow"]


# ------------------------------------------------------------------ unknown ids


def test_unknown_ids_are_404(people):
    customer = create_customer(people["gm"])
    api = client(people["gm"])
    missing = customer.pk + 1000
    assert_error(api.get(f"{API}/customers/{missing}"), 404, "not_found")
    assert_error(api.get(f"{API}/customers/{MAX_ID}"), 404, "not_found")
    assert_error(api.patch(f"{API}/customers/{missing}", {"version": 1, "region": "北京"}, content_type="application/json"), 404)
    assert_error(api.get(f"{API}/customers/{missing}/timeline"), 404, "not_found")
    assert_error(api.get(f"{API}/customers/{missing}/documents"), 404, "not_found")
    assert_error(api.get(f"{API}/customers/{customer.pk}/documents/{MAX_ID}/download"), 404, "not_found")
    assert_error(api.post(f"{API}/customers/{missing}/contacts", {"name": "王"}, content_type="application/json"), 404)
    assert_error(api.delete(f"{API}/customers/{customer.pk}/contacts/{MAX_ID}"), 404, "not_found")
    assert_error(api.post(f"{API}/customers/{missing}/status", {"status": "admitted", "reason": "准入", "version": 1}, content_type="application/json"), 404)
    assert_error(api.get(f"{API}/customers/import/{MAX_ID}"), 404, "not_found")
    assert_error(api.get(f"{API}/kernel/approvals/{MAX_ID}"), 404, "not_found")
    admin = client(people["sysadmin"])
    assert_error(admin.post(f"{API}/org/users/{MAX_ID}/disable", {}, content_type="application/json"), 404, "not_found")


# ------------------------------------------------------------------ authentication


def test_missing_or_bad_token_is_401(people):
    for path in ("/customers", "/org/me", "/kernel/inbox"):
        assert_error(Client().get(API + path), 401, "unauthenticated")
        assert_error(Client(HTTP_AUTHORIZATION="Bearer zd_not-a-token").get(API + path), 401, "unauthenticated")
        assert_error(Client(HTTP_AUTHORIZATION="Basic Z206Z20=").get(API + path), 401, "unauthenticated")
    assert_error(Client().post(f"{API}/customers", {"name": "甲"}, content_type="application/json"), 401, "unauthenticated")


def test_disabled_users_token_is_401(people):
    from zhidu.org import services

    api = client(people["leaver"])
    assert api.get(f"{API}/org/me").status_code == 200
    services.user_disable(people["sysadmin"], people["leaver"], reason="离职")
    assert_error(api.get(f"{API}/org/me"), 401, "unauthenticated")
    assert_error(api.get(f"{API}/customers"), 401, "unauthenticated")


# ------------------------------------------------------------------ schema and docs


def test_openapi_schema_loads(people):
    response = Client().get(f"{API}/openapi.json")
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert f"{API}/customers/{{customer_id}}/documents" in schema["paths"]
    # Errors are documented with their format.
    error = schema["components"]["schemas"]["ErrorOut"]
    assert set(error["required"]) == {"code", "message", "details"}


def test_openapi_schema_names_are_unique():
    """The schema's components are keyed by class name alone: two bodies of one name would leave one of
    them documented with the other's fields."""
    import typing

    from pydantic import BaseModel

    from zhidu.api import api

    owners: dict[str, set[str]] = {}
    seen: set[type] = set()

    def walk(annotation):
        if isinstance(annotation, type) and issubclass(annotation, BaseModel) and annotation not in seen:
            seen.add(annotation)
            owners.setdefault(annotation.__name__, set()).add(f"{annotation.__module__}.{annotation.__qualname__}")
            for field in annotation.model_fields.values():
                walk(field.annotation)
        for argument in typing.get_args(annotation):
            walk(argument)

    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in [*operation.models, *(operation.response_models or {}).values()]:
                    walk(model)
    shared = {name: sorted(classes) for name, classes in owners.items() if len(classes) > 1}
    assert not shared, shared


def test_docs_page_loads_everything_from_our_own_static_files(people):
    response = Client().get(f"{API}/docs")
    assert response.status_code == 200
    html = response.content.decode()
    assert "swagger-ui" in html
    urls = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert urls, html
    for url in urls:
        assert url.startswith(settings.STATIC_URL), f"loaded from outside: {url}"
        asset = Client().get(url)
        assert asset.status_code == 200, url
        content = b"".join(asset.streaming_content) if asset.streaming else asset.content
        assert content
    assert not re.search(r"https?://", html.replace("http://www.w3.org", "")), "the page names an external address"
    # The validator badge would call validator.swagger.io.
    assert '"validatorUrl": null' in html
