"""Credit pages: the exposure list with its overdue filter, the customer credit page and its actions,
the pack's blank numbers shown with a link to set them, registration changes, import and export."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from zhidu.credit import services
from zhidu.credit.models import CreditOrder, OrderState, Receivable

pytestmark = pytest.mark.django_db


def login(client, user):
    client.force_login(user)
    return client


def test_home_lists_exposure_and_filters_overdue(client, org, credit, graded, make_customer):
    other = make_customer(name="准时回款公司")
    services.order_create(org.sales_a, other.pk, {"reference": "O-1", "product": "x", "quantity": 1, "unit_price": 1, "payment": "cash"})
    today = timezone.localdate()
    services.receivable_create(org.sales_a, graded.pk, {"reference": "R-1", "amount": "800", "invoiced_on": today - dt.timedelta(days=30), "due_on": today - dt.timedelta(days=3)})
    login(client, credit.controller)
    page = client.get(reverse("credit:home")).content.decode()
    assert graded.name in page and other.name in page and "missing-parameters" not in page
    overdue = client.get(reverse("credit:home"), {"overdue": "1"}).content.decode()
    assert graded.name in overdue and other.name not in overdue
    assert reverse("kernel:approvals") in page


def test_home_asks_for_the_blank_seed_numbers(client, org, pack):
    pack("s28-credit")
    login(client, org.gm)
    page = client.get(reverse("credit:home")).content.decode()
    assert "credit.grade_max_limits" in page and "L126" in page and reverse("kernel:packs") in page


def test_order_entry_shows_the_credit_check_result(client, org, credit, graded):
    login(client, org.sales_a)
    url = reverse("credit:action", args=[graded.pk, "order"])
    response = client.post(url, {"reference": "W-1", "product": "膝关节", "quantity": "3", "unit_price": "4000", "payment": "credit"}, follow=True)
    text = response.content.decode()
    assert "需要信用审批" in text and "12000.00" in text
    assert CreditOrder.objects.get(reference="W-1").state == OrderState.PENDING
    response = client.post(url, {"reference": "", "product": "x", "quantity": "abc", "unit_price": "1"}, follow=True)
    assert "数量" in response.content.decode() and CreditOrder.objects.count() == 1


def test_customer_page_actions_for_the_credit_controller(client, org, credit, graded):
    login(client, credit.controller)
    page = client.get(reverse("credit:customer", args=[graded.pk])).content.decode()
    assert "terms-form" in page and "信用审批" not in page and "信用调查良好，无逾期" in page
    client.post(reverse("credit:action", args=[graded.pk, "stop"]), {"reason": "客户经营异常"})
    page = client.get(reverse("credit:customer", args=[graded.pk])).content.decode()
    assert "trade-alert" in page and "客户经营异常" in page and "resume-form" in page
    client.post(reverse("credit:action", args=[graded.pk, "resume"]), {"reason": "异常已消除"})
    response = client.post(reverse("credit:action", args=[graded.pk, "change"]), {"kind": "legal_representative", "description": "法人变更", "changed_on": "2026-11-02"}, follow=True)
    assert "已记录工商变更" in response.content.decode()
    changes = client.get(reverse("credit:changes"), {"open": "1"}).content.decode()
    assert graded.name in changes


def test_sales_sees_no_manage_forms_and_no_other_customers(client, org, credit, graded, make_customer):
    theirs = make_customer(user=org.sales_b)
    login(client, org.sales_a)
    page = client.get(reverse("credit:customer", args=[graded.pk])).content.decode()
    assert "order-form" in page and "terms-form" not in page and "stop-form" not in page
    assert client.get(reverse("credit:customer", args=[theirs.pk])).status_code == 404
    assert client.post(reverse("credit:action", args=[graded.pk, "stop"]), {"reason": "x"}, follow=True).content.decode().count("无权执行此操作") == 1
    login(client, org.auditor)
    assert client.get(reverse("credit:home")).status_code == 403


def test_report_and_overdue_export(client, org, credit, graded):
    today = timezone.localdate()
    services.receivable_create(org.sales_a, graded.pk, {"reference": "R-1", "amount": "800", "invoiced_on": today - dt.timedelta(days=30), "due_on": today - dt.timedelta(days=3)})
    login(client, credit.controller)
    page = client.get(reverse("credit:report")).content.decode()
    assert 'id="overdue-count">1<' in page
    response = client.get(reverse("credit:export_overdue"))
    assert response.status_code == 200 and response["Content-Type"].startswith("application/vnd.openxmlformats")


def test_import_receivables_and_orders(client, org, credit, graded, settings, tmp_path):
    settings.ZHIDU_IMPORT_RUNNER = "inline"
    settings.MEDIA_ROOT = tmp_path
    from django.core.files.uploadedfile import SimpleUploadedFile

    login(client, org.sales_a)
    csv = f"客户编码,单据号,金额,开票日期,到期日\n{graded.code},INV-1,1000,2026-10-01,2026-10-31\n{graded.code},INV-1,5,2026-10-01,\nNOPE,INV-2,5,,\n{graded.code},INV-3,-5,,\n"
    client.post(reverse("credit:import"), {"kind": "receivables", "file": SimpleUploadedFile("r.csv", csv.encode())})
    receivable = Receivable.objects.get(customer=graded)
    assert receivable.amount == 1000 and receivable.source == "imported"
    graded.credit_account.refresh_from_db()
    assert graded.credit_account.receivables_outstanding == 1000 and graded.credit_account.oldest_unpaid_due_on == dt.date(2026, 10, 31)
    from zhidu.kernel.models import ImportJob

    job = ImportJob.objects.get(kind="credit_receivables")
    assert (job.ok_rows, job.failed_rows) == (1, 3)
    csv = f"客户编码,订单号,品名,数量,单价,付款方式\n{graded.code},SO-1,膝关节,2,300,赊销\n{graded.code},SO-2,膝关节,1,100,现款\n"
    client.post(reverse("credit:import"), {"kind": "orders", "file": SimpleUploadedFile("o.csv", csv.encode())})
    graded.credit_account.refresh_from_db()
    assert graded.credit_account.open_orders == 600 and graded.credit_account.exposure == 1600
    assert CreditOrder.objects.filter(customer=graded, state=OrderState.OPEN).count() == 2


def test_info_card_form_shows_the_phone_masked_and_saving_it_keeps_the_number(client, org, credit, graded):
    from zhidu.credit.models import CreditAccount

    services.info_card_update(org.sales_a, graded.pk, {"contact_phone": "13800138000"})
    login(client, credit.controller)
    page = client.get(reverse("credit:customer", args=[graded.pk])).content.decode()
    assert 'value="138****8000"' in page and "13800138000" not in page
    client.post(reverse("credit:action", args=[graded.pk, "info_card"]), {"contact_phone": "138****8000", "address": "新地址",
                                                                         "version": CreditAccount.objects.get(customer=graded).version})
    card = CreditAccount.objects.get(customer=graded).info_card
    assert card["contact_phone"] == "13800138000" and card["address"] == "新地址"
