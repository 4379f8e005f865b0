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
    _new_modules_world(gm, seller, tmp_path)
    return {"token": token_create(gm), "user": gm}


# The base pack plus an admission checklist for enterprises, so that admission has an application to work on.
FUZZ_PACK = """
name: fuzz-world
title: 模糊测试制度包
extends: base
apps: [customers, admission]
parameters:
  admission.checklists:
    source: fuzz
    value:
      - key: fuzz_enterprise
        label: 企业准入
        customer_types: [enterprise]
        source: fuzz
        items:
          - {key: licence, label: 营业执照有效, source: fuzz}
          - {key: attitude, label: 合作态度积极, source: fuzz, evidence_required: false}
        stages:
          - {key: general, label: 一般调查, source: fuzz}
        report_fields:
          - {key: trade_reason, label: 交易理由, source: fuzz}
        approval_chain: [{role: general_manager, label: 总经理}]
        approval_source: fuzz
        setup_steps:
          - {key: contract, label: 签订合同, source: fuzz}
"""


def _new_modules_world(gm, seller, tmp_path):
    """A record or two of each newer module (complaints, grading, credit, admission and the blacklist),
    made through their services, so that generated ids also hit real rows."""
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.utils import timezone

    from zhidu.admission import services as admission
    from zhidu.complaints import services as complaints
    from zhidu.credit import services as credit
    from zhidu.customers.models import Customer
    from zhidu.grading import scheme
    from zhidu.grading import services as grading
    from zhidu.kernel import policy

    pack_file = tmp_path / "fuzz-world.yaml"
    pack_file.write_text(FUZZ_PACK, encoding="utf-8")
    policy.apply(pack_file, user=gm)
    policy.clear_cache()

    first, second, third = Customer.objects.order_by("pk")[:3]
    # complaints: one just registered, one decided, assigned and investigated with a plan awaiting approval
    intake = {"complainant_name": "投诉人", "complainant_phone": "13912345678", "subject": "服务态度", "content": "服务人员态度不好", "channel": "phone"}
    complaints.complaint_register(gm, {**intake, "customer": first.pk})
    case = complaints.complaint_register(gm, {**intake, "customer": second.pk, "subject": "维修延误"})
    case = complaints.complaint_decide(gm, case.pk, True, expected_version=case.version)
    case = complaints.complaint_assign(gm, case.pk, department=seller.department_id, owner=seller.pk, expected_version=case.version)
    complaints.complaint_investigate(gm, case.pk, cause="排班不足", responsible_user=seller.pk, expected_version=case.version)
    case.refresh_from_db()
    complaints.complaint_propose_remedy(gm, case.pk, description="上门道歉并补偿", compensation="200", expected_version=case.version)
    # grading: a grade, metrics and a grade change awaiting approval
    grades = scheme.grades()
    grading.metrics_set(gm, first.pk, {"sales_amount": "120", "bed_count": 50, "product": "假肢"})
    grading.grade_assign(first.pk, grades[-1].key, actor=gm, reason="准入定级", citation="")
    grading.grade_change_propose(gm, first.pk, grades[0].key, reason="业务量增长")
    # credit: an account with terms, an order waiting for credit approval and a receivable
    credit.credit_terms_set(gm, first.pk, grade="A", credit_limit="0", payment_term_days=0, reason="信用调查良好")
    credit.order_create(gm, first.pk, {"reference": "SO-1", "product": "膝关节", "quantity": "2", "unit_price": "3500"})
    credit.receivable_create(gm, first.pk, {"reference": "INV-1", "amount": "800"})
    # admission: an application with evidence and an investigation; a company listing with a re-entry request
    application = admission.application_create(gm, {"customer_type": "enterprise", "name": "模糊测试候选企业", "credit_code": "91110000802100433B",
                                                    "answers": {"trade_reason": "扩大供货"}})
    admission.item_check(gm, application.pk, "licence", True, "已核实")
    admission.evidence_add(gm, application.pk, "licence", "营业执照", SimpleUploadedFile("licence.pdf", b"%PDF-1.4 test", content_type="application/pdf"))
    admission.investigation_record(gm, application.pk, "general", {"conducted_on": timezone.localdate(), "investigators": "调查员", "findings": "经营正常", "conclusion": "pass"})
    entry = admission.blacklist_add(gm, third.pk, "company", "严重违约")
    admission.reentry_request(gm, entry.pk, "已整改，符合准入条件")


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
