"""The base layout and the dashboard with the Django test client."""

import json
import re

import pytest
from django.urls import reverse

from zhidu.customers import services

pytestmark = pytest.mark.django_db


def _charts(response) -> dict:
    match = re.search(r'<script id="dashboard-charts" type="application/json">(.*?)</script>', response.content.decode(), re.S)
    return json.loads(match.group(1))


def test_dashboard_needs_login(client):
    response = client.get(reverse("web:dashboard"))
    assert response.status_code == 302 and response.url.startswith("/login/")


def test_dashboard_counts_only_what_the_viewer_sees(client, org, make_customer):
    make_customer(user=org.sales_a, customer_type="household")
    admitted = make_customer(user=org.sales_a, customer_type="property_unit")
    services.customer_set_status(org.sales_a, admitted.pk, "admitted", "准入")
    make_customer(user=org.sales_b)

    client.force_login(org.sales_a)
    response = client.get(reverse("web:dashboard"))
    assert response.status_code == 200
    assert response.context["counts"]["total"] == 2
    charts = _charts(response)
    assert dict(zip(charts["status"]["labels"], charts["status"]["values"])) == {"潜在": 1, "已准入": 1}
    assert dict(zip(charts["type"]["labels"], charts["type"]["values"])) == {"住户": 1, "物业单元": 1}
    assert dict(zip(charts["department"]["labels"], charts["department"]["values"])) == {"销售一部": 2}
    assert "vendor/echarts/echarts.min.js" in response.content.decode()

    client.force_login(org.gm)
    assert client.get(reverse("web:dashboard")).context["counts"]["total"] == 3


def test_dashboard_without_customer_permission_has_no_charts(client, org):
    client.force_login(org.auditor)
    response = client.get(reverse("web:dashboard"))
    assert response.status_code == 200 and response.context["counts"] is None
    assert "dashboard-charts" not in response.content.decode()
    assert reverse("customers:create") not in response.content.decode()


def test_dashboard_shows_unread_and_pending_approvals(client, org, make_customer):
    from zhidu.kernel import notify

    notify.send([org.manager_a], "测试通知")
    customer = make_customer(user=org.sales_b)
    services.access_request_create(org.sales_a, customer.pk, "核对", 2, code=customer.code)  # waits for a 部门经理
    client.force_login(org.manager_a)
    response = client.get(reverse("web:dashboard"))
    # the test notice, and the approval step's own notice to the 部门经理
    assert response.context["unread"] == notify.unread_count(org.manager_a) >= 1
    assert re.search(r'id="stat-unread"><a [^>]*>%d</a>' % response.context["unread"], response.content.decode())
    assert response.context["pending_approvals"] == 1
    assert reverse("kernel:inbox") in response.content.decode()


def test_navigation_links_built_modules_and_greys_the_rest(client, org):
    client.force_login(org.sales_a)
    html = client.get(reverse("web:dashboard")).content.decode()
    nav = re.search(r'<nav class="zhidu-modules.*?</nav>', html, re.S).group(0)
    for name in ("customers:list", "complaints:list", "grading:home", "credit:home"):
        assert f'href="{reverse(name)}"' in nav
    assert nav.count("即将推出") >= 8
    assert re.search(r'<span class="nav-link disabled zhidu-soon"[^>]*>服务与回访', nav)


def test_user_menu_logs_out_with_post(client, org):
    client.force_login(org.sales_a)
    html = client.get(reverse("web:dashboard")).content.decode()
    assert re.search(r'<form method="post" action="%s"' % reverse("org:logout"), html)
    assert reverse("org:profile") in html
    response = client.post(reverse("org:logout"))
    assert response.status_code == 302
    assert client.get(reverse("web:dashboard")).status_code == 302


def test_language_switch_to_english_and_back(client, org):
    client.force_login(org.sales_a)
    response = client.post(reverse("set_language"), {"language": "en", "next": reverse("web:dashboard")})
    assert response.status_code == 302 and response.url == reverse("web:dashboard")
    html = client.get(reverse("web:dashboard")).content.decode()
    assert '<html lang="en">' in html and "Dashboard" in html and "coming soon" in html and "Customers" in html
    assert "工作台" not in html
    client.post(reverse("set_language"), {"language": "zh-hans", "next": "/"})
    html = client.get(reverse("web:dashboard")).content.decode()
    assert '<html lang="zh-hans">' in html and "工作台" in html


def test_accept_language_english(client, org):
    client.force_login(org.sales_a)
    html = client.get(reverse("web:dashboard"), HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert "Customers I can see" in html


def test_dashboard_counts_are_cached_for_a_minute(client, org, make_customer):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    make_customer(user=org.sales_a)
    client.force_login(org.gm)
    first = client.get(reverse("web:dashboard"))
    assert first.context["counts"]["total"] == 1
    assert "统计每分钟更新" in first.content.decode()
    make_customer(user=org.sales_a)
    with CaptureQueriesContext(connection) as queries:
        second = client.get(reverse("web:dashboard"))
    assert second.context["counts"]["total"] == 1
    assert not [q["sql"] for q in queries if "customers_customer" in q["sql"] and "COUNT(" in q["sql"].upper()]


def test_dashboard_counts_are_not_shared_between_own_scope_users(client, org, make_customer):
    make_customer(user=org.sales_a)
    client.force_login(org.sales_a)
    assert client.get(reverse("web:dashboard")).context["counts"]["total"] == 1
    # Same role, department and clearance, different owner: their own count, not the cached one.
    client.force_login(org.sales_a2)
    assert client.get(reverse("web:dashboard")).context["counts"]["total"] == 0
