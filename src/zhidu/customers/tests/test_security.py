"""What the archive must not reveal: masked digits through search, raw identifiers and classified names
in the timeline and audit trail, files out of reach through duplicate checks and access requests,
files above a clearance through a handover; and that concurrent writes are not lost."""

import csv
import json

import pytest
from django.test import Client

from zhidu.customers import selectors, services
from zhidu.customers.models import AccessRequest, Customer, TimelineEvent
from zhidu.kernel import importing
from zhidu.kernel.access import SecretLevel
from zhidu.kernel.errors import Conflict, NotFound
from zhidu.kernel.models import AuditEntry, ImportRowError
from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db

CREDIT_CODE = "91110000802100433B"
ID_OLD = "11010519491231002X"
ID_NEW = "110105198001011238"


def api(user):
    return Client(raise_request_exception=False), {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}


def found(user, q, customer) -> bool:
    return any(c.pk == customer.pk for c in selectors.customer_list(user, q=q).items)


# S1


def test_phone_search_by_a_masked_viewer_matches_only_the_last_four_digits_or_the_full_number(org, make_customer):
    customer = make_customer(org.sales_a, contacts=[{"name": "王", "phone": "13812345678"}])

    assert found(org.sales_a, "5678", customer)
    assert found(org.sales_a, "13812345678", customer)
    assert not found(org.sales_a, "45678", customer)  # would reveal the masked digit
    assert not found(org.sales_a, "345678", customer)
    assert found(org.gm, "45678", customer)  # the general manager's role shows phones unmasked


# S2


def test_timeline_and_audit_keep_identifiers_masked(org, make_customer):
    customer = make_customer(org.sales_a, name="李四", customer_type="individual", id_number=ID_OLD)

    services.customer_update(org.sales_a, customer.pk, {"id_number": ID_NEW}, customer.version)

    client, headers = api(org.supervisor_a)
    response = client.get(f"/api/v1/customers/{customer.pk}/timeline", **headers)
    assert response.status_code == 200
    text = json.dumps(response.json(), ensure_ascii=False) + json.dumps(list(AuditEntry.objects.values_list("details", flat=True)), ensure_ascii=False)
    assert ID_OLD not in text and ID_NEW not in text
    assert "id_number" in response.json()["items"][0]["changes"]


def test_audit_keeps_names_and_titles_of_classified_files_out(org, make_customer):
    from django.core.files.uploadedfile import SimpleUploadedFile

    customer = make_customer(org.gm, name="机密客户丙有限公司", secret_level=SecretLevel.SECRET, contacts=[{"name": "赵六"}])
    services.document_add(org.gm, customer.pk, "并购方案草稿", SimpleUploadedFile("a.txt", b"x"), secret_level=SecretLevel.SECRET)
    customer.refresh_from_db()
    services.customer_update(org.gm, customer.pk, {"name": "机密客户丁有限公司"}, customer.version)
    services.contact_remove(org.gm, customer.contacts.get().pk)

    text = json.dumps(list(AuditEntry.objects.values_list("details", flat=True)), ensure_ascii=False)
    for secret in ("机密客户丙", "机密客户丁", "并购方案草稿", "赵六"):
        assert secret not in text
    assert customer.code in text


# S3


def test_duplicate_refusal_lists_only_files_the_user_may_read(org, make_customer):
    make_customer(org.gm, name="绝密客户甲有限公司", customer_type="enterprise", credit_code=CREDIT_CODE,
                  secret_level=SecretLevel.TOP_SECRET, contacts=[{"name": "张", "phone": "13900001111"}])  # fmt: skip
    client, headers = api(org.sales_b)

    hard = client.post("/api/v1/customers", {"customer_type": "enterprise", "name": "随便", "credit_code": CREDIT_CODE}, content_type="application/json", **headers)
    soft = client.post(
        "/api/v1/customers",
        {"customer_type": "household", "name": "试探", "address": "x", "contacts": [{"name": "a", "phone": "13900001111"}]},
        content_type="application/json",
        **headers,
    )

    for response in (hard, soft):
        assert response.status_code == 409
        assert "绝密客户甲" not in response.content.decode() and "无权查看" in response.json()["message"]
        assert all(d["id"] is None and d["code"] is None and d["name"] is None and d["hidden"] for d in response.json()["details"]["duplicates"])
    assert hard.json()["details"]["can_confirm"] is False


def test_duplicate_refusal_still_names_a_file_the_user_may_read(org, make_customer):
    mine = make_customer(org.sales_a, name="自己的客户有限公司", customer_type="enterprise", credit_code=CREDIT_CODE)

    with pytest.raises(Conflict) as refused:
        make_customer(org.sales_a, name="随便", customer_type="enterprise", credit_code=CREDIT_CODE)

    assert refused.value.details["duplicates"][0]["code"] == mine.code


def test_import_row_error_gives_no_code_of_a_file_out_of_reach(org, make_customer, tmp_path):
    other = make_customer(org.sales_b, name="二部客户有限公司", customer_type="enterprise", credit_code=CREDIT_CODE)
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["名称", "客户类型", "统一社会信用代码"], ["随便有限公司", "企业", CREDIT_CODE]])

    job = importing.run_job(importing.job_create("customers", path, user=org.manager_a, options={}).pk)

    assert job.failed_rows == 1
    message = ImportRowError.objects.get(job=job).message
    assert other.code not in message and "无权查看" in message


# S4


def test_access_request_for_a_file_outside_ones_scope_needs_its_exact_code(org, make_customer):
    top = make_customer(org.gm, name="绝密档案乙", secret_level=SecretLevel.TOP_SECRET)
    client, headers = api(org.sales_b)
    url = f"/api/v1/customers/{top.pk}/access-requests"

    probe = client.post(url, {"reason": "看看", "days": 1}, content_type="application/json", **headers)
    missing = client.post(f"/api/v1/customers/{top.pk + 999}/access-requests", {"reason": "看看", "days": 1}, content_type="application/json", **headers)
    wrong = client.post(url, {"reason": "看看", "days": 1, "code": top.code + "X"}, content_type="application/json", **headers)
    assert probe.status_code == missing.status_code == wrong.status_code == 404
    assert probe.json() == missing.json()
    assert not AccessRequest.objects.exists()

    asked = client.post(url, {"reason": "核对合同", "days": 1, "code": top.code}, content_type="application/json", **headers)
    assert asked.status_code == 201
    assert asked.json()["customer_code"] is None and "绝密档案乙" not in asked.content.decode()
    listed = client.get("/api/v1/customers/access-requests", **headers).json()["items"]
    assert [item["customer_code"] for item in listed] == [None]

    again = client.post(url, {"reason": "核对合同", "days": 1, "code": top.code}, content_type="application/json", **headers)
    assert again.status_code == 409
    assert AccessRequest.objects.count() == 1


def test_access_request_page_asks_for_the_code_of_a_file_outside_ones_scope(org, make_customer):
    top = make_customer(org.gm, name="绝密档案丙", secret_level=SecretLevel.TOP_SECRET)
    client = Client()
    client.force_login(org.sales_b)
    url = f"/customers/{top.pk}/access/"

    without = client.post(url, {"reason": "核对合同", "days": 2})
    assert without.status_code == 200 and "客户编码" in without.content.decode()
    assert not AccessRequest.objects.exists()

    with_code = client.post(url, {"reason": "核对合同", "days": 2, "code": top.code})
    assert with_code.status_code == 302
    assert AccessRequest.objects.get().customer_id == top.pk


def test_access_request_within_ones_scope_needs_no_code(org, make_customer):
    top = make_customer(org.gm, name="绝密档案丁", secret_level=SecretLevel.TOP_SECRET, owner=org.sales_a.pk)

    request = services.access_request_create(org.sales_a, top.pk, "核对合同", 1)

    assert request.customer_id == top.pk
    with pytest.raises(NotFound):
        services.access_request_create(org.sales_b, top.pk, "核对合同", 1)


# S5


def test_handover_moves_only_files_within_the_managers_and_the_receivers_clearance(org, make_customer):
    top = make_customer(org.gm, name="绝密档案", secret_level=SecretLevel.TOP_SECRET, owner=org.sales_a.pk)
    confidential = make_customer(org.gm, name="机密档案", secret_level=SecretLevel.CONFIDENTIAL, owner=org.sales_a.pk)
    secret = make_customer(org.gm, name="秘密档案", secret_level=SecretLevel.SECRET, owner=org.sales_a.pk)

    handover = services.customers_handover(org.manager_a, org.sales_a, [org.sales_a2], "离职")  # manager: 机密; receiver: 秘密

    owners = dict(Customer.objects.values_list("pk", "owner_id"))
    assert owners[secret.pk] == org.sales_a2.pk
    assert owners[confidential.pk] == owners[top.pk] == org.sales_a.pk
    assert (handover.customer_count, handover.kept_count) == (1, 1)  # the 绝密 file is not the manager's to count


# C2


def test_import_update_keeps_a_web_edit_made_while_the_chunk_runs(org, make_customer, tmp_path, monkeypatch):
    from zhidu.customers import importing as customer_importing

    customer = make_customer(org.sales_a, name="原名有限公司", customer_type="enterprise", credit_code=CREDIT_CODE)
    original = customer_importing.NameSearch.__call__
    edited = []

    def name_search_with_a_concurrent_edit(self, name):
        if not edited:  # a web edit lands between the importer's read and its write
            edited.append(services.customer_update(org.sales_a, customer.pk, {"region": "上海"}, customer.version))
        return original(self, name)

    monkeypatch.setattr(customer_importing.NameSearch, "__call__", name_search_with_a_concurrent_edit)
    path = tmp_path / "c.csv"
    with open(path, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["名称", "客户类型", "统一社会信用代码"], ["新名有限公司", "企业", CREDIT_CODE]])

    job = importing.run_job(importing.job_create("customers", path, user=org.manager_a, options={"update_existing": True}).pk)

    customer.refresh_from_db()
    assert job.updated_rows == 1 and edited
    assert (customer.name, customer.region, customer.version) == ("新名有限公司", "上海", 3)


# C3


def test_status_change_requires_the_version_read(org, make_customer):
    customer = make_customer(org.sales_a)
    client, headers = api(org.sales_a)
    url = f"/api/v1/customers/{customer.pk}/status"

    missing = client.post(url, {"status": "admitted", "reason": "准入"}, content_type="application/json", **headers)
    stale = client.post(url, {"status": "admitted", "reason": "准入", "version": customer.version + 1}, content_type="application/json", **headers)
    assert (missing.status_code, stale.status_code) == (422, 409)
    assert Customer.objects.get(pk=customer.pk).status == customer.status

    page = Client()
    page.force_login(org.sales_a)
    page.post(f"/customers/{customer.pk}/status/", {"status": "admitted", "reason": "准入"})
    assert Customer.objects.get(pk=customer.pk).status == customer.status
    assert not TimelineEvent.objects.filter(customer=customer, kind=TimelineEvent.Kind.STATUS).exists()


# P1


def test_own_scope_list_ordered_by_id_has_an_index():
    assert any(list(index.fields) == ["owner", "-id"] for index in Customer._meta.indexes)


def test_rejection_notice_does_not_name_a_file_above_the_requesters_clearance(org, make_customer):
    from zhidu.kernel import approvals
    from zhidu.kernel.models import Notification

    classified = make_customer(org.manager_a, name="机密档案丁", secret_level=SecretLevel.CONFIDENTIAL)
    access = services.access_request_create(org.supervisor_a, classified.pk, "核对合同", 1)  # in scope, above clearance
    approvals.decide(access.approval_id, org.manager_a, approve=False, comment="不予批准")

    notice = Notification.objects.filter(user=org.supervisor_a, title="查阅申请被驳回").get()
    assert classified.code not in notice.body and "机密档案丁" not in notice.body
    assert str(access.pk) in notice.body
