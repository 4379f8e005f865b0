"""The credit pages in English carry no Chinese in their headings, labels, buttons and table headers."""

import pytest
from django.conf import settings
from django.urls import reverse

from tests.test_english_pages import chinese_ui_text
from zhidu.credit import services

pytestmark = pytest.mark.django_db


def test_credit_pages_in_english(client, org, credit, graded):
    services.order_create(org.sales_a, graded.pk, {"reference": "SO-1", "product": "knee", "quantity": 1, "unit_price": 20000})
    services.registration_change_record(org.sales_a, graded.pk, {"kind": "capital", "description": "capital up", "changed_on": "2026-11-02"})
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    client.force_login(credit.controller)
    data = [graded.name, graded.code, graded.address, org.root.name, org.dept_a.name, str(graded.owner), credit.controller.display_name,
            "测试路 1 号", "信用调查良好，无逾期"]
    for url in (reverse("credit:home"), reverse("credit:customer", args=[graded.pk]), reverse("credit:report"), reverse("credit:changes"), reverse("credit:import")):
        bad = chinese_ui_text(client.get(url), data)
        assert not bad, f"{url}:\n" + "\n".join(bad)
