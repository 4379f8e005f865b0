"""/api/v1/customers/{id}/documents (upload, list, download) and /api/v1/customers/access-requests."""

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from zhidu.customers import services
from zhidu.customers.models import CustomerDocument
from zhidu.kernel import approvals
from zhidu.kernel.access import SecretLevel
from zhidu.kernel.models import AuditEntry
from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db
URL = "/api/v1/customers"


@pytest.fixture(autouse=True)
def _media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def api(user):
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {token_create(user)}")


def assert_error(response, status, code=None) -> dict:
    assert response.status_code == status, response.content[:500]
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code, body
    return body


def upload(user, customer_id, title="合同", content=b"%PDF-1.4 contract", name="contract.pdf", secret_level=None, **extra):
    data = {"title": title, **extra}
    if content is not None:
        data["file"] = ContentFile(content, name=name)
    if secret_level is not None:
        data["secret_level"] = str(secret_level)
    return api(user).post(f"{URL}/{customer_id}/documents", data)


def confidential_reads(user):
    return AuditEntry.objects.filter(action="customer.read_confidential", actor_id=user.pk)


# ------------------------------------------------------------------ upload


def test_upload_stores_the_file_with_its_level(org, make_customer):
    customer = make_customer(user=org.sales_a)
    response = upload(org.sales_a, customer.pk, title="  供货合同 ", content=b"hello", name="供货合同.pdf", secret_level=SecretLevel.SECRET)
    assert response.status_code == 201, response.content
    body = response.json()
    document = CustomerDocument.objects.get()
    assert body["id"] == document.pk and body["title"] == "供货合同" and body["secret_level"] == SecretLevel.SECRET
    assert body["uploaded_by"]["id"] == org.sales_a.pk
    assert body["download_url"] == f"{URL}/{customer.pk}/documents/{document.pk}/download"
    assert document.file.read() == b"hello"
    assert AuditEntry.objects.filter(action="customer.document_add", actor_id=org.sales_a.pk).count() == 1
    # The classified title stays out of the timeline.
    assert customer.timeline.filter(kind="document").get().summary == "上传文件（秘密）"


def test_upload_defaults_to_public(org, make_customer):
    customer = make_customer(user=org.sales_a)
    response = upload(org.sales_a, customer.pk)
    assert response.status_code == 201 and response.json()["secret_level"] == SecretLevel.PUBLIC


def test_upload_above_clearance_is_refused(org, make_customer):
    customer = make_customer(user=org.sales_a)
    body = assert_error(upload(org.sales_a, customer.pk, secret_level=SecretLevel.CONFIDENTIAL), 422, "invalid_input")
    assert "secret_level" in body["details"]["fields"]
    assert not CustomerDocument.objects.exists()


@pytest.mark.parametrize(
    "kwargs, field",
    [
        ({"content": None}, "file"),
        ({"title": ""}, "title"),
        ({"title": "   "}, "title"),
        ({"title": "长" * 201}, "title"),
        ({"content": b""}, "file"),
        ({"secret_level": 9}, "secret_level"),
        ({"secret_level": "abc"}, "secret_level"),
        ({"title": "a\x00b"}, "title"),
    ],
)
def test_upload_bad_input_names_the_field(org, make_customer, kwargs, field):
    customer = make_customer(user=org.sales_a)
    body = assert_error(upload(org.sales_a, customer.pk, **kwargs), 422, "invalid_input")
    named = set(body["details"].get("fields", {})) | {loc for e in body["details"].get("errors", []) for loc in e["loc"]}
    assert field in named, body
    assert not CustomerDocument.objects.exists()


def test_upload_over_the_size_limit(org, make_customer, settings):
    settings.ZHIDU_DOCUMENT_MAX_BYTES = 1000
    customer = make_customer(user=org.sales_a)
    # Declared length far over the limit: refused before the body is read.
    body = assert_error(upload(org.sales_a, customer.pk, content=b"x" * 200_000), 413, "file_too_large")
    assert body["details"] == {"limit": 1000}
    # Just over the limit (inside the envelope allowance): measured after parsing.
    body = assert_error(upload(org.sales_a, customer.pk, content=b"x" * 1001), 422, "invalid_input")
    assert "file" in body["details"]["fields"]
    assert upload(org.sales_a, customer.pk, content=b"x" * 1000).status_code == 201
    assert CustomerDocument.objects.count() == 1


def test_upload_outside_scope_or_without_permission(org, make_customer):
    customer = make_customer(user=org.sales_a)
    assert_error(upload(org.sales_b, customer.pk), 404, "not_found")
    assert_error(upload(org.auditor, customer.pk), 403, "forbidden")
    assert_error(upload(org.sales_a, 10**9), 404, "not_found")
    assert_error(Client().post(f"{URL}/{customer.pk}/documents", {"title": "x", "file": ContentFile(b"x", name="x.txt")}), 401, "unauthenticated")
    assert not CustomerDocument.objects.exists()


# ------------------------------------------------------------------ list and download


@pytest.fixture
def filed(org, make_customer):
    """sales_a's customer with one document at each of 公开, 秘密, 机密 (uploaded by the general manager)."""
    customer = make_customer(user=org.sales_a)
    docs = {
        level: services.document_add(org.gm, customer.pk, f"文件{level}", ContentFile(f"content {level}".encode(), name=f"doc{level}.txt"), secret_level=level)
        for level in (SecretLevel.PUBLIC, SecretLevel.SECRET, SecretLevel.CONFIDENTIAL)
    }
    return customer, docs


def test_list_shows_documents_within_clearance(org, filed):
    customer, docs = filed
    seen = api(org.sales_a).get(f"{URL}/{customer.pk}/documents").json()
    assert [d["id"] for d in seen["items"]] == [docs[SecretLevel.SECRET].pk, docs[SecretLevel.PUBLIC].pk]
    assert seen["next_cursor"] is None
    assert len(api(org.manager_a).get(f"{URL}/{customer.pk}/documents").json()["items"]) == 3
    assert_error(api(org.sales_b).get(f"{URL}/{customer.pk}/documents"), 404, "not_found")
    assert_error(api(org.auditor).get(f"{URL}/{customer.pk}/documents"), 403, "forbidden")


def test_list_keyset_pages(org, filed):
    customer, docs = filed
    client = api(org.manager_a)
    first = client.get(f"{URL}/{customer.pk}/documents", {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"] == first["items"][-1]["id"]
    rest = client.get(f"{URL}/{customer.pk}/documents", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert [d["id"] for d in rest["items"]] == [docs[SecretLevel.PUBLIC].pk] and rest["next_cursor"] is None


def test_download_public_document_is_not_a_confidential_read(org, filed):
    customer, docs = filed
    response = api(org.sales_a).get(f"{URL}/{customer.pk}/documents/{docs[SecretLevel.PUBLIC].pk}/download")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == b"content 0"
    assert "attachment" in response["Content-Disposition"]
    assert not confidential_reads(org.sales_a).exists()


def test_download_classified_document_is_audited(org, filed):
    customer, docs = filed
    document = docs[SecretLevel.SECRET]
    response = api(org.sales_a).get(f"{URL}/{customer.pk}/documents/{document.pk}/download")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"content 1"
    entry = confidential_reads(org.sales_a).get()
    assert entry.details["document_id"] == document.pk and entry.details["secret_level"] == SecretLevel.SECRET
    assert entry.target_id == str(customer.pk)


def test_download_above_clearance_or_elsewhere_is_404(org, filed, make_customer):
    customer, docs = filed
    client = api(org.sales_a)
    assert_error(client.get(f"{URL}/{customer.pk}/documents/{docs[SecretLevel.CONFIDENTIAL].pk}/download"), 404, "not_found")
    other = make_customer(user=org.sales_a)
    # A document id under another customer of the path is not found either.
    assert_error(client.get(f"{URL}/{other.pk}/documents/{docs[SecretLevel.PUBLIC].pk}/download"), 404, "not_found")
    assert_error(api(org.sales_b).get(f"{URL}/{customer.pk}/documents/{docs[SecretLevel.PUBLIC].pk}/download"), 404, "not_found")
    assert not confidential_reads(org.sales_a).exists()


def test_download_with_the_file_gone_is_404(org, filed):
    customer, docs = filed
    document = docs[SecretLevel.PUBLIC]
    document.file.storage.delete(document.file.name)
    assert_error(api(org.sales_a).get(f"{URL}/{customer.pk}/documents/{document.pk}/download"), 404, "file_missing")


def test_download_through_a_read_grant_is_audited(org, filed):
    customer, docs = filed
    request = services.access_request_create(org.sales_b, customer.pk, "核对合同", 2, code=customer.code)
    approvals.decide(request.approval_id, org.manager_b, True)
    client = api(org.sales_b)
    listed = client.get(f"{URL}/{customer.pk}/documents").json()["items"]
    # Through a grant: documents up to the reader's own clearance (秘密), not the 机密 one.
    assert [d["id"] for d in listed] == [docs[SecretLevel.SECRET].pk, docs[SecretLevel.PUBLIC].pk]
    response = client.get(f"{URL}/{customer.pk}/documents/{docs[SecretLevel.PUBLIC].pk}/download")
    assert response.status_code == 200
    assert confidential_reads(org.sales_b).filter(details__via_grant=True).count() == 1


# ------------------------------------------------------------------ access requests


def test_access_requests_mine_and_to_approve(org, make_customer):
    customer = make_customer(user=org.sales_b)
    response = api(org.sales_a).post(f"{URL}/{customer.pk}/access-requests", {"reason": "核对账目", "days": 3, "code": customer.code}, content_type="application/json")
    assert response.status_code == 201, response.content
    created = response.json()
    assert created["requested_by"]["id"] == org.sales_a.pk and created["customer_code"] is None  # not readable yet

    mine = api(org.sales_a).get(f"{URL}/access-requests").json()
    assert [r["id"] for r in mine["items"]] == [created["id"]] and mine["items"][0]["state"] == "pending"
    assert api(org.sales_b).get(f"{URL}/access-requests").json()["items"] == []

    # The first step is 部门经理, for the requester's part of the tree: manager_a, not manager_b.
    waiting = api(org.manager_a).get(f"{URL}/access-requests", {"box": "to_approve"}).json()
    assert [r["id"] for r in waiting["items"]] == [created["id"]]
    assert api(org.manager_b).get(f"{URL}/access-requests", {"box": "to_approve"}).json()["items"] == []
    assert api(org.sales_a).get(f"{URL}/access-requests", {"box": "to_approve"}).json()["items"] == []

    approvals.decide(created["approval"], org.manager_a, True)
    assert api(org.manager_a).get(f"{URL}/access-requests", {"box": "to_approve"}).json()["items"] == []
    mine = api(org.sales_a).get(f"{URL}/access-requests", {"customer": customer.pk}).json()["items"]
    assert mine[0]["state"] == "approved" and mine[0]["granted_until"] and mine[0]["customer_code"] == customer.code


def test_access_requests_keyset_and_bad_input(org, make_customer):
    for i in range(3):
        customer = make_customer(user=org.sales_b, name=f"借阅客户{i}")
        services.access_request_create(org.sales_a, customer.pk, "核对", 1, code=customer.code)
    client = api(org.sales_a)
    first = client.get(f"{URL}/access-requests", {"limit": 2}).json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = client.get(f"{URL}/access-requests", {"limit": 2, "cursor": first["next_cursor"]}).json()
    assert len(rest["items"]) == 1 and rest["next_cursor"] is None
    assert_error(client.get(f"{URL}/access-requests", {"box": "everything"}), 422, "invalid_input")
    assert_error(client.get(f"{URL}/access-requests", {"limit": 0}), 422, "invalid_input")
    assert_error(Client().get(f"{URL}/access-requests"), 401, "unauthenticated")


def test_upload_retried_with_the_same_idempotency_key_stores_one_document(org, make_customer):
    customer = make_customer(user=org.sales_a)

    def send(content):
        data = {"title": "合同", "file": ContentFile(content, name="contract.pdf")}
        return api(org.sales_a).post(f"{URL}/{customer.pk}/documents", data, HTTP_IDEMPOTENCY_KEY="upload-1")

    first, again = send(b"same bytes"), send(b"same bytes")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert CustomerDocument.objects.count() == 1

    assert_error(send(b"other bytes"), 409, "idempotency_conflict")
    assert CustomerDocument.objects.count() == 1
