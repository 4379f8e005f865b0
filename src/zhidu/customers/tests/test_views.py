"""The customer pages with the Django test client: they render, respect the viewer's scope and
clearance, mask phones, and show the services' errors on the right form fields."""

import re
from urllib.parse import parse_qs, urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import translation

from zhidu.customers import services
from zhidu.customers.models import AccessRequest, Customer, OwnershipTransfer
from zhidu.kernel.access import SecretLevel

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    # A request in English leaves English active in this thread; later tests expect the default.
    yield
    translation.deactivate()

VALID_CODE = "91110000802100433B"
OTHER_CODE = "91310000631696382C"


def _form(**overrides):
    data = {
        "customer_type": "enterprise",
        "name": "杭州青山医疗器械有限公司",
        "credit_code": VALID_CODE,
        "secret_level": "0",
        "contact_name": "周青山",
        "contact_phone": "13912345678",
    }
    data.update(overrides)
    return data


def _as_post(form) -> dict:
    return {name: "" if form.initial.get(name) is None else form.initial[name] for name in form.fields}


def _documents_table(response) -> str:
    return re.search(r'<table[^>]*id="documents-table".*?</table>', response.content.decode(), re.S).group(0)


def _english(client):
    client.cookies["django_language"] = "en"


# ---------------------------------------------------------------- list


def test_list_shows_only_the_viewers_scope_with_masked_phones(client, org, make_customer):
    mine = make_customer(user=org.sales_a, name="甲方客户", contacts=[{"name": "王一", "phone": "13800001111"}])
    theirs = make_customer(user=org.sales_b, name="乙方客户")
    client.force_login(org.sales_a)
    response = client.get(reverse("customers:list"))
    assert response.status_code == 200
    html = response.content.decode()
    assert mine.name in html and theirs.name not in html
    assert "138****1111" in html and "13800001111" not in html


def test_list_unmasks_for_a_role_that_unmasks_phones(client, org, make_customer):
    make_customer(user=org.sales_a, contacts=[{"name": "王一", "phone": "13800001111"}])
    client.force_login(org.gm)  # the general manager's role lists "phone" as unmasked
    assert "13800001111" in client.get(reverse("customers:list")).content.decode()


def test_list_search_by_initials_pinyin_code_and_phone_suffix(client, org, make_customer):
    target = make_customer(name="杭州青山医疗", contacts=[{"name": "王一", "phone": "13800004321"}])
    other = make_customer(name="北京长城物业")
    client.force_login(org.sales_a)
    for q in ("hzqs", "hangzhouqing", target.code, "4321", "青山"):
        html = client.get(reverse("customers:list"), {"q": q}).content.decode()
        assert target.name in html, q
        assert other.name not in html, q


def test_list_filters_and_export_link_carries_them(client, org, make_customer):
    active = make_customer(name="合作客户")
    services.customer_set_status(org.sales_a, active.pk, "admitted", "准入")
    make_customer(name="潜在客户")
    client.force_login(org.sales_a)
    response = client.get(reverse("customers:list"), {"status": "admitted", "q": "客户"})
    html = response.content.decode()
    assert "合作客户" in html and "潜在客户" not in html
    export = re.search(r'href="([^"]+)" id="export-link"', html).group(1)
    assert urlparse(export).path == reverse("customers:export")
    assert parse_qs(urlparse(export).query.replace("&amp;", "&")) == {"q": ["客户"], "status": ["admitted"]}


def test_list_keyset_pages_without_a_total(client, org, make_customer, monkeypatch):
    from zhidu.customers import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    names = [make_customer(name=f"翻页客户{i}").name for i in range(3)]
    client.force_login(org.sales_a)
    first = client.get(reverse("customers:list")).content.decode()
    assert names[2] in first and names[1] in first and names[0] not in first
    next_href = re.search(r'href="\?([^"]+)" id="next-page"', first).group(1).replace("&amp;", "&")
    assert "after=" in next_href
    second = client.get(reverse("customers:list") + "?" + next_href).content.decode()
    assert names[0] in second and names[2] not in second
    assert 'id="next-page"' not in second


def test_list_needs_the_view_permission(client, org):
    client.force_login(org.auditor)
    assert client.get(reverse("customers:list")).status_code == 403


def test_list_in_english(client, org, make_customer):
    make_customer()
    client.force_login(org.sales_a)
    _english(client)
    html = client.get(reverse("customers:list")).content.decode()
    assert "Customer code" in html and "Next review" in html
    assert 'id="next-page"' not in html  # one page only: no next link
    assert '<html lang="en">' in html


# ---------------------------------------------------------------- detail


def test_detail_shows_fields_masked_contacts_and_timeline(client, org, make_customer):
    customer = make_customer(name="详情客户", contacts=[{"name": "李四", "phone": "13700002222", "title": "采购"}])
    client.force_login(org.sales_a)
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert customer.code in html and "李四" in html and "采购" in html
    assert "137****2222" in html and "13700002222" not in html
    assert "建档" in html  # the timeline's first event
    assert reverse("customers:edit", args=[customer.pk]) in html


def test_detail_outside_scope_offers_an_access_request(client, org, make_customer):
    customer = make_customer(user=org.sales_b)
    client.force_login(org.sales_a)
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 404
    assert customer.name not in response.content.decode()
    assert reverse("customers:access_request", args=[customer.pk]) in response.content.decode()


def test_detail_above_clearance_is_not_shown(client, org, make_customer):
    customer = make_customer(user=org.manager_a, secret_level=SecretLevel.CONFIDENTIAL)
    client.force_login(org.supervisor_a)  # same department, clearance 秘密 only
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    assert response.status_code == 404
    assert customer.name not in response.content.decode()


def test_detail_lists_only_documents_within_clearance(client, org, make_customer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(user=org.sales_a)
    services.document_add(org.gm, customer.pk, "公开合同", SimpleUploadedFile("a.txt", b"a"), SecretLevel.PUBLIC)
    services.document_add(org.gm, customer.pk, "机密报价", SimpleUploadedFile("b.txt", b"b"), SecretLevel.CONFIDENTIAL)
    client.force_login(org.sales_a)  # clearance 秘密
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    documents = _documents_table(response)
    assert "公开合同" in documents and "机密报价" not in documents
    assert "机密报价" not in response.content.decode()  # nor its upload in the timeline
    client.force_login(org.gm)
    documents = _documents_table(client.get(reverse("customers:detail", args=[customer.pk])))
    assert "公开合同" in documents and "机密报价" in documents
    secret_doc = customer.documents.get(title="机密报价")
    client.force_login(org.sales_a)
    assert client.get(reverse("customers:document_download", args=[customer.pk, secret_doc.pk])).status_code == 404
    public_doc = customer.documents.get(title="公开合同")
    response = client.get(reverse("customers:document_download", args=[customer.pk, public_doc.pk]))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"a"


def test_downloading_a_classified_document_from_the_page_is_audited(client, org, make_customer, settings, tmp_path):
    from zhidu.kernel.models import AuditEntry

    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(user=org.manager_a)
    document = services.document_add(org.manager_a, customer.pk, "秘密协议", SimpleUploadedFile("s.txt", b"s"), SecretLevel.SECRET)
    client.force_login(org.manager_a)
    response = client.get(reverse("customers:document_download", args=[customer.pk, document.pk]))
    assert response.status_code == 200
    entry = AuditEntry.objects.filter(action="customer.read_confidential").latest("seq")
    assert entry.details["document_id"] == document.pk and entry.actor_id == org.manager_a.pk


# ---------------------------------------------------------------- create


def test_create_shows_a_bad_credit_code_on_its_field(client, org):
    client.force_login(org.sales_a)
    response = client.post(reverse("customers:create"), _form(credit_code="91110000802100433A"))
    assert response.status_code == 200
    form = response.context["form"]
    assert "统一社会信用代码无效" in " ".join(form.errors["credit_code"])
    assert "is-invalid" in form.fields["credit_code"].widget.attrs["class"]
    assert 'id="error-credit_code"' in response.content.decode()
    assert not Customer.objects.exists()


def test_create_errors_in_english(client, org):
    client.force_login(org.sales_a)
    _english(client)
    response = client.post(reverse("customers:create"), _form(name=""))
    assert response.context["form"].errors["name"] == ["This field is required."]
    html = response.content.decode()
    assert "New customer" in html and "Unified social credit code" in html and "客户名称" not in html


def test_create_then_redirects_to_the_new_file(client, org):
    client.force_login(org.sales_a)
    response = client.post(reverse("customers:create"), _form())
    customer = Customer.objects.get()
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[customer.pk])
    assert customer.owner == org.sales_a and customer.contacts.get().phone == "13912345678"


def test_create_same_credit_code_is_refused_with_a_link_to_the_existing_file(client, org):
    client.force_login(org.sales_a)
    client.post(reverse("customers:create"), _form())
    existing = Customer.objects.get()
    response = client.post(reverse("customers:create"), _form(name="另一个名字", contact_phone="", confirm_duplicate="on"))
    html = response.content.decode()
    assert response.status_code == 200 and Customer.objects.count() == 1
    assert reverse("customers:detail", args=[existing.pk]) in html and "打开已有档案" in html
    assert 'name="confirm_duplicate"' not in html  # a hard duplicate cannot be confirmed


def test_create_near_duplicate_needs_create_anyway(client, org):
    client.force_login(org.sales_a)
    client.post(reverse("customers:create"), _form())
    data = _form(name="杭州青山医疗器械有限责任公司", credit_code=OTHER_CODE, contact_phone="")
    response = client.post(reverse("customers:create"), data)
    html = response.content.decode()
    assert Customer.objects.count() == 1
    assert "打开已有档案" in html and 'name="confirm_duplicate"' in html
    response = client.post(reverse("customers:create"), {**data, "confirm_duplicate": "on"})
    assert response.status_code == 302 and Customer.objects.count() == 2


def test_create_needs_permission(client, org):
    client.force_login(org.sysadmin)
    assert client.get(reverse("customers:create")).status_code == 403


# ---------------------------------------------------------------- edit and status


def test_edit_saves_and_a_stale_version_is_a_conflict(client, org, make_customer):
    customer = make_customer(name="原名客户")
    client.force_login(org.sales_a)
    form = client.get(reverse("customers:edit", args=[customer.pk])).context["form"]
    data = _as_post(form)
    services.customer_update(org.sales_a, customer.pk, {"region": "浙江"}, expected_version=customer.version)
    response = client.post(reverse("customers:edit", args=[customer.pk]), {**data, "name": "新名客户"})
    assert response.status_code == 200 and "conflict" in response.context
    assert 'id="conflict-warning"' in response.content.decode()
    customer.refresh_from_db()
    assert customer.name == "原名客户"
    fresh = client.get(reverse("customers:edit", args=[customer.pk])).context["form"]
    data = _as_post(fresh)
    response = client.post(reverse("customers:edit", args=[customer.pk]), {**data, "name": "新名客户"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.name == "新名客户" and customer.region == "浙江"


def test_edit_shows_field_errors(client, org, make_customer):
    customer = make_customer()
    client.force_login(org.sales_a)
    form = client.get(reverse("customers:edit", args=[customer.pk])).context["form"]
    data = _as_post(form)
    response = client.post(reverse("customers:edit", args=[customer.pk]), {**data, "address": ""})
    assert "address" in response.context["form"].errors


def test_edit_outside_scope_is_404(client, org, make_customer):
    customer = make_customer(user=org.sales_b)
    client.force_login(org.sales_a)
    assert client.get(reverse("customers:edit", args=[customer.pk])).status_code == 404


def test_status_change_needs_a_reason(client, org, make_customer):
    customer = make_customer()
    client.force_login(org.sales_a)
    url = reverse("customers:status", args=[customer.pk])
    client.post(url, {"status": "admitted", "reason": "", "version": customer.version})
    customer.refresh_from_db()
    assert customer.status == "prospect"
    response = client.post(url, {"status": "admitted", "reason": "资料齐全", "version": customer.version}, follow=True)
    customer.refresh_from_db()
    assert customer.status == "admitted"
    assert "已准入" in response.content.decode()


# ---------------------------------------------------------------- ownership and access


def test_transfer_offers_only_staff_in_scope_and_needs_a_reason(client, org, make_customer):
    customer = make_customer(user=org.sales_a)
    client.force_login(org.manager_a)  # subtree scope: 销售一部 and 一部一组
    response = client.get(reverse("customers:transfer", args=[customer.pk]))
    offered = set(response.context["form"].fields["to_owner"].queryset)
    assert {org.sales_a2, org.sales_a1} <= offered
    assert org.sales_b not in offered and org.sales_a not in offered
    url = reverse("customers:transfer", args=[customer.pk])
    response = client.post(url, {"to_owner": org.sales_a2.pk, "reason": ""})
    assert "reason" in response.context["form"].errors
    response = client.post(url, {"to_owner": org.sales_b.pk, "reason": "调岗"})
    assert "to_owner" in response.context["form"].errors
    response = client.post(url, {"to_owner": org.sales_a2.pk, "reason": "调岗"})
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.owner == org.sales_a2
    assert OwnershipTransfer.objects.get(customer=customer).reason == "调岗"


def test_transfer_needs_permission(client, org, make_customer):
    customer = make_customer()
    client.force_login(org.sales_a)
    assert client.get(reverse("customers:transfer", args=[customer.pk])).status_code == 403


def test_handover_moves_every_customer(client, org, make_customer):
    first, second = make_customer(user=org.sales_a), make_customer(user=org.sales_a)
    client.force_login(org.manager_a)
    response = client.post(reverse("customers:handover"), {"from_user": org.sales_a.pk, "to_owner": org.sales_a2.pk, "reason": ""})
    assert "reason" in response.context["form"].errors
    response = client.post(reverse("customers:handover"), {"from_user": org.sales_a.pk, "to_owner": org.sales_a2.pk, "reason": "离职"})
    assert response.status_code == 302
    assert set(Customer.objects.filter(owner=org.sales_a2)) == {first, second}


def test_access_request_for_a_file_outside_scope(client, org, make_customer):
    customer = make_customer(user=org.sales_b)
    client.force_login(org.sales_a)
    url = reverse("customers:access_request", args=[customer.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {"reason": "", "days": 3})
    assert "reason" in response.context["form"].errors
    response = client.post(url, {"reason": "核对合同", "days": 3})  # outside one's scope: the exact code is needed
    assert "code" in response.context["form"].errors and not AccessRequest.objects.exists()
    response = client.post(url, {"reason": "核对合同", "days": 3, "code": customer.code})
    assert response.status_code == 302
    request = AccessRequest.objects.get()
    assert request.requested_by == org.sales_a and request.state == AccessRequest.State.PENDING
    response = client.post(url, {"reason": "再次申请", "days": 3, "code": customer.code})
    assert response.status_code == 200 and response.context["form"].non_field_errors()


def test_access_request_not_needed_for_a_visible_file(client, org, make_customer):
    customer = make_customer(user=org.sales_a)
    client.force_login(org.sales_a)
    response = client.post(reverse("customers:access_request", args=[customer.pk]), {"reason": "看看", "days": 1})
    assert response.status_code == 302 and response.url == reverse("customers:detail", args=[customer.pk])
    assert not AccessRequest.objects.exists()


def test_approved_request_opens_the_file_read_only(client, org, make_customer):
    from zhidu.kernel import approvals

    customer = make_customer(user=org.sales_b, name="借阅客户", contacts=[{"name": "赵六", "phone": "13500005678"}])
    request = services.access_request_create(org.sales_a, customer.pk, "核对合同", 2, code=customer.code)
    approvals.decide(request.approval_id, org.manager_a, True)
    client.force_login(org.sales_a)
    response = client.get(reverse("customers:detail", args=[customer.pk]))
    html = response.content.decode()
    assert response.status_code == 200 and "借阅客户" in html
    assert "135****5678" in html and "13500005678" not in html
    assert response.context["detail"].via_grant
    assert reverse("customers:edit", args=[customer.pk]) not in html
    assert 'id="status-form"' not in html and reverse("customers:contact_add", args=[customer.pk]) not in html


def test_contact_removed_from_the_page_by_an_editor_only(client, org, make_customer):
    customer = make_customer(user=org.sales_a, contacts=[{"name": "王五", "phone": "13812345678"}])
    contact = customer.contacts.get()
    client.force_login(org.sales_b)  # outside the file's scope
    response = client.post(reverse("customers:contact_remove", args=[customer.pk, contact.pk]))
    assert response.status_code == 404 and customer.contacts.exists()

    client.force_login(org.sales_a)
    page = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert reverse("customers:contact_remove", args=[customer.pk, contact.pk]) in page
    response = client.post(reverse("customers:contact_remove", args=[customer.pk, contact.pk]))
    assert response.status_code == 302 and not customer.contacts.exists()
    assert customer.timeline.filter(kind="contact", summary__contains="王五").exists()


def test_contact_and_document_forms_on_the_detail_page(client, org, make_customer, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    customer = make_customer(user=org.sales_a)
    client.force_login(org.sales_a)
    add_contact = reverse("customers:contact_add", args=[customer.pk])

    response = client.post(add_contact, {"name": "赵六", "phone": "12345"}, follow=True)
    assert not customer.contacts.exists()
    assert any("电话" in str(m) for m in response.context["messages"])

    client.post(add_contact, {"name": "赵六", "phone": "13912345678"})
    assert customer.contacts.get().phone == "13912345678"

    add_document = reverse("customers:document_add", args=[customer.pk])
    client.post(add_document, {"title": "合同", "secret_level": 0, "file": SimpleUploadedFile("c.txt", b"contract")})
    assert customer.documents.get().title == "合同"
