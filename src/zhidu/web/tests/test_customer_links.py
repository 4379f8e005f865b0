"""A customer file links to the same customer in the other modules the viewer may use."""

import re

from django.urls import reverse

from zhidu.complaints.tests.flow import register
from zhidu.customers.tests.conftest import make_customer, org  # noqa: F401


def _links(client, user, customer) -> dict:
    client.force_login(user)
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    card = re.search(r'<div class="card mb-3" id="customer-links">.*?</div>\s*</div>', html, re.S)
    if card is None:
        return {}
    return {label.strip(): href for href, label in re.findall(r'href="([^"]+)"><i class="bi [^"]+"></i>([^<]+)</a>', card.group(0))}


def test_sales_sees_grading_credit_and_complaints_of_their_customer(client, org, make_customer):
    customer = make_customer(org.sales_a)
    links = _links(client, org.sales_a, customer)
    assert links == {
        "分级与评审": reverse("grading:customer", args=[customer.pk]),
        "信用": reverse("credit:customer", args=[customer.pk]),
        "登记投诉": f"{reverse('complaints:new')}?customer={customer.pk}",
        "投诉记录": f"{reverse('complaints:list')}?customer={customer.pk}",
    }


def test_links_follow_the_viewers_permissions(client, org, make_customer):
    customer = make_customer(org.sales_a)
    assert _links(client, org.sysadmin, customer) == {}  # customers.view only


def test_complaint_list_filtered_to_one_customer(client, org, make_customer):
    mine, other = make_customer(org.sales_a), make_customer(org.sales_a)
    first = register(org.gm, channel="phone", customer=mine.pk)
    second = register(org.gm, channel="phone", customer=other.pk)
    client.force_login(org.gm)
    html = client.get(reverse("complaints:list"), {"customer": mine.pk}).content.decode()
    assert first.tracking_no in html
    assert second.tracking_no not in html
