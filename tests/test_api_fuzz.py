"""Property-based tests of the whole JSON API against its own OpenAPI schema (schemathesis).

Every operation in /api/v1/openapi.json gets generated requests, valid and invalid, sent through the
Django WSGI app as a general manager. For each response: never a 5xx, every 4xx body is
`{code, message, details}`, and the status, content type and body conform to the schema.
Deterministic (derandomized) and small, so it stays a unit test rather than a soak test.
"""

import json
import os

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance, status_code_conformance

from zhidu.kernel.access import SecretLevel

# Small by default to keep the suite fast; ZHIDU_FUZZ_EXAMPLES=200 for a deeper run by hand.
EXAMPLES_PER_OPERATION = int(os.environ.get("ZHIDU_FUZZ_EXAMPLES", "15"))


@schemathesis.check
def error_format(ctx, response, case):
    """A 4xx body is exactly {code: str, message: str, details: object}."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        raise AssertionError(f"{response.status_code} body is not JSON: {response.content[:200]!r}") from None
    assert isinstance(body, dict) and set(body) == {"code", "message", "details"}, f"not the error format: {body!r}"
    assert isinstance(body["code"], str) and body["code"], body
    assert isinstance(body["message"], str) and body["message"], body
    assert isinstance(body["details"], dict), body
    return True


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance, error_format]


@pytest.fixture
def _keep_test_connection():
    """Requests go through the real WSGI handler, whose request signals would close the connection
    that holds the test's transaction (Django's test client disconnects them the same way)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_world(db, tmp_path, settings, _keep_test_connection):
    """A small organisation, a general manager with a token, and a few customers for ids to hit."""
    from django.core.files.base import ContentFile

    from zhidu.customers import services
    from zhidu.org.models import Department, Role, User
    from zhidu.org.services import roles_ensure_builtin
    from zhidu.org.tokens import token_create

    settings.MEDIA_ROOT = tmp_path / "media"
    roles_ensure_builtin()
    roles = {r.code: r for r in Role.objects.all()}
    root = Department.objects.create(name="总公司", code="root")
    root.path = f"/{root.pk}/"
    root.save(update_fields=["path"])
    sales = Department.objects.create(name="销售一部", code="sales", parent=root)
    sales.path = f"{root.path}{sales.pk}/"
    sales.save(update_fields=["path"])
    gm = User.objects.create(username="gm", display_name="总经理", role=roles["general_manager"], department=root, clearance=SecretLevel.TOP_SECRET)
    seller = User.objects.create(username="seller", display_name="销售员", role=roles["sales"], department=sales, clearance=SecretLevel.SECRET)
    for i, level in enumerate([SecretLevel.PUBLIC, SecretLevel.SECRET, SecretLevel.CONFIDENTIAL]):
        customer = services.customer_create(
            gm,
            {"customer_type": "household", "name": f"模糊测试客户{i}", "address": "测试路 1 号", "owner": seller.pk, "secret_level": level},
            contacts=[{"name": "联系人", "phone": f"1381234567{i}"}],
            confirm_duplicates=True,
        )
        services.document_add(gm, customer.pk, f"合同{i}", ContentFile(b"%PDF-1.4 test", name=f"contract-{i}.pdf"), secret_level=level)
    return {"token": token_create(gm), "user": gm}


def _load_schema():
    from django.core.wsgi import get_wsgi_application

    # Served by the app itself: the schema under test is the one clients download.
    return schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())


schema = _load_schema()


@schema.parametrize()
@settings(
    max_examples=EXAMPLES_PER_OPERATION,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_api_conforms(case, fuzz_world):
    case.call_and_validate(headers={"Authorization": f"Bearer {fuzz_world['token']}"}, checks=CHECKS)
