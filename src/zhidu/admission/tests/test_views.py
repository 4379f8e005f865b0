"""The admission and blacklist pages."""

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from zhidu.admission import services
from zhidu.admission.models import AdmissionApplication

from .conftest import CREDIT_CODES, complete, upload

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    yield
    translation.deactivate()


def _client(user):
    client = Client()
    client.force_login(user)
    return client


def test_create_application_page_and_checklist(org, s01):
    client = _client(org.sales_a)
    page = client.get(reverse("admission:create"))
    assert "经销商" in page.content.decode() and "零售客户" not in page.content.decode()
    r = client.post(reverse("admission:create"), {"customer_type": "dealer", "name": "丙公司", "credit_code": "bad"})
    assert r.status_code == 200 and "is-invalid" in r.content.decode()
    r = client.post(reverse("admission:create"), {"customer_type": "dealer", "name": "丙公司", "credit_code": CREDIT_CODES[0]}, follow=True)
    app = AdmissionApplication.objects.get()
    html = r.content.decode()
    assert "具有独立承担民事责任的能力" in html and "Doc5 五、1.2 a) L255" in html and "提交前尚缺" in html
    # submitting now names what is missing
    r = client.post(reverse("admission:submit", args=[app.pk]), follow=True)
    assert "准入条件尚未齐备" in r.content.decode() and "缺少调查记录" in r.content.decode()
    # tick an item and upload its evidence through the page
    client.post(reverse("admission:item_check", args=[app.pk, "civil_liability"]), {"met": "1", "note": "已核"})
    client.post(reverse("admission:evidence_add", args=[app.pk, "civil_liability"]), {"title": "营业执照", "file": upload()})
    item = app.items.get(key="civil_liability")
    assert item.met is True and item.evidence.get().title == "营业执照"
    r = client.get(reverse("admission:evidence_download", args=[app.pk, item.evidence.get().pk]))
    assert r.status_code == 200
    # the other department cannot open it
    assert _client(org.sales_b).get(reverse("admission:detail", args=[app.pk])).status_code == 404


def test_decision_page_admits_and_shows_code(org, s01):
    app = complete(services.application_create(org.sales_a, {"customer_type": "dealer", "name": "丁公司", "credit_code": CREDIT_CODES[1]}), org.sales_a)
    _client(org.sales_a).post(reverse("admission:submit", args=[app.pk]))
    manager = _client(org.manager_a)
    page = manager.get(reverse("admission:detail", args=[app.pk])).content.decode()
    assert 'id="decision-form"' in page
    r = manager.post(reverse("admission:decide", args=[app.pk]), {"decision": "reject", "reasons": ""}, follow=True)
    assert "驳回须写明理由" in r.content.decode()
    r = manager.post(reverse("admission:decide", args=[app.pk]), {"decision": "approve"}, follow=True)
    app.refresh_from_db()
    assert app.customer.code in r.content.decode()


def test_blacklist_pages_in_english(org, s01):
    from zhidu.customers.services import customer_create

    customer = customer_create(org.manager_a, {"customer_type": "dealer", "name": "戊公司", "credit_code": CREDIT_CODES[2]})
    client = _client(org.manager_a)
    r = client.post(reverse("admission:blacklist_add"), {"customer": customer.code, "scope": "department", "reason": "拖欠货款"}, follow=True)
    assert "拖欠货款" in r.content.decode() and "Doc5 五、3.5 c) L315" in r.content.decode()
    assert "戊公司" in client.get(reverse("admission:blacklist")).content.decode()
    assert "销售一部" in client.get(reverse("admission:report")).content.decode()
    client.cookies.load({"django_language": "en"})
    page = client.get(reverse("admission:blacklist"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Customer blacklist" in page and "客户黑名单" not in page
    page = client.get(reverse("admission:list"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "No admission applications match" in page and "没有符合条件的准入申请" not in page


def test_pages_need_permission(org, s01):
    client = _client(org.auditor)
    for name in ("admission:list", "admission:blacklist", "admission:report"):
        assert client.get(reverse(name)).status_code == 403
    assert _client(org.sales_a).get(reverse("admission:blacklist_add")).status_code == 403


def test_detail_page_masks_the_contact_phone(org, s01):
    app = services.application_create(org.sales_a, {"customer_type": "dealer", "name": "庚公司", "credit_code": CREDIT_CODES[3],
                                                     "contact_name": "王经理", "contact_phone": "13812345678"})
    page = _client(org.sales_a).get(reverse("admission:detail", args=[app.pk])).content.decode()
    assert "138****5678" in page and "13812345678" not in page
    assert "13812345678" in _client(org.gm).get(reverse("admission:detail", args=[app.pk])).content.decode()
