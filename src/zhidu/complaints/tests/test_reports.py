"""Statistics of the dashboard and the weekly / monthly reports: counts by category, department,
severity and channel, the on-time rate of each time limit, satisfaction, repeat complainants; scoped
to the viewer's data, and set-based (the number of queries does not grow with the cases)."""

import datetime as dt
import json
import re

import pytest
from django.urls import reverse
from django.utils import translation

from zhidu.complaints import reports, services
from zhidu.kernel import deadlines

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    yield
    translation.deactivate()


@pytest.fixture
def register(cx):
    def make(user=None, **data):
        data = {"complainant_name": "王投诉", "complainant_phone": PHONE, "subject": "事由", "content": "内容", "channel": "phone", **data}
        return services.complaint_register(user or cx.agent, data)

    return make


def _handle_to_close(cx, complaint, satisfied_rounds=(True,)):
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=None)
    for satisfied in satisfied_rounds:
        services.complaint_investigate(cx.agent, complaint.pk, cause="原因", loopholes="漏洞甲", expected_version=None)
        plan = services.complaint_propose_remedy(cx.agent, complaint.pk, description="方案", expected_version=None)
        services.approval_decide(cx.org.manager_a, plan.approval_id, True)
        services.complaint_carry_out(cx.agent, complaint.pk, note="做了", expected_version=None)
        services.complaint_inform(cx.agent, complaint.pk, message="告知", expected_version=None)
        services.complaint_return_visit(cx.agent, complaint.pk, satisfied=satisfied, note="回访记录", expected_version=None)
    services.complaint_close(cx.qm, complaint.pk, summary="总结", corrective_actions="纠正甲", preventive_actions="预防甲", expected_version=None)


def test_report_counts_by_dimension_and_headline_numbers(cx, register, at):
    at("2026-09-14T10:00")
    closed = register(category="service")
    _handle_to_close(cx, closed)
    register(category="product", channel="onsite")
    register(category="product", channel="onsite")
    period = reports.period_from("month", "2026-09")
    data = reports.report(cx.qm, period)
    totals = data["totals"]
    assert totals["registered"] == 3 and totals["closed"] == 1 and totals["open"] == 2
    category = dict(data["breakdowns"]["category"]["rows"])
    assert category == {"服务": 1, "产品质量": 2}
    channel = dict(zip(data["breakdowns"]["channel"]["keys"], data["breakdowns"]["channel"]["values"]))
    assert channel == {"phone": 1, "onsite": 2}
    assert sum(data["breakdowns"]["severity"]["values"]) == 3
    assert [c.tracking_no for c in data["findings"]["closed"]] == [closed.tracking_no]
    assert any(i.loopholes == "漏洞甲" for i in data["findings"]["investigations"])
    # Another month holds none of them.
    assert reports.report(cx.qm, reports.period_from("month", "2026-10"))["totals"]["registered"] == 0


def test_on_time_rate_per_time_limit(cx, register, at):
    at("2026-09-14T10:00")
    kept = register()
    services.complaint_decide(cx.qm, kept.pk, True, expected_version=None)  # first response met at once
    register()  # its first response will be late
    at("2026-09-25T10:00")
    deadlines.sweep()
    rates = {r["key"]: r for r in reports.on_time_rates(reports.selectors.complaints_filtered(cx.qm), reports.period_from("month", "2026-09"))}
    first = rates["first_response"]
    assert first["total"] == 2 and first["on_time"] == 1 and first["late"] == 1 and first["rate"] == 50.0


def test_satisfaction_and_repeat_complainants(cx, register, at):
    at("2026-09-14T10:00")
    a = register()
    _handle_to_close(cx, a, satisfied_rounds=(False, True))
    register(complainant_phone="13700001111")
    register(complainant_phone="13700001111", complainant_name="李重复")
    data = reports.report(cx.qm, reports.period_from("month", "2026-09"))
    assert data["satisfaction"]["total"] == 2 and data["satisfaction"]["satisfied"] == 1 and data["satisfaction"]["rate"] == 50.0
    repeats = {r["raw_phone"]: r["count"] for r in data["repeats"]}
    assert repeats.get("13700001111") == 2
    assert PHONE not in repeats  # one case only


def test_statistics_follow_the_data_scope(cx, register, at):
    at("2026-09-14T10:00")
    register(cx.agent)
    register(cx.agent_b)
    period = reports.period_from("month", "2026-09")
    assert reports.report(cx.qm, period)["totals"]["registered"] == 2
    assert reports.report(cx.agent_b, period)["totals"]["registered"] == 1


def test_every_statistic_of_the_report_and_dashboard_is_scoped(cx, register, at):
    at("2026-09-14T10:00")
    a = register(cx.agent, complainant_phone="13700001111")
    register(cx.agent, complainant_phone="13700001111", category="service")
    _handle_to_close(cx, a)
    b = register(cx.agent_b, channel="onsite")
    at("2026-09-30T10:00")
    period = reports.period_from("month", "2026-09")
    mine = reports.report(cx.agent_b, period)
    assert mine["totals"]["registered"] == 1 and mine["totals"]["closed"] == 0 and mine["totals"]["open"] == 1
    for name in ("category", "department", "severity", "channel", "status"):
        assert sum(mine["breakdowns"][name]["values"]) == 1, name
    assert mine["breakdowns"]["channel"]["keys"] == ["onsite"]
    assert mine["repeats"] == [] and mine["satisfaction"]["total"] == 0 and mine["penalties"] == []
    assert mine["findings"]["investigations"] == [] and mine["findings"]["closed"] == []
    assert sum(mine["daily"]["values"]) == 1
    timers_of_b = deadlines.for_target(b)  # all due in September, and past by its last day
    assert timers_of_b and sum(r["total"] for r in mine["on_time"]) == len(timers_of_b)
    board = reports.dashboard(cx.agent_b, period)
    assert board["totals"]["registered"] == 1 and board["repeats"] == [] and board["satisfaction"]["total"] == 0
    assert sum(board["charts"]["trend"]["values"]) == 1 and sum(board["charts"]["department"]["values"]) == 1
    everyone = reports.report(cx.qm, period)
    assert everyone["totals"]["registered"] == 3 and everyone["satisfaction"]["total"] == 1 and len(everyone["repeats"]) == 1


def test_dashboard_renders_chart_data(client, cx, register):
    register(category="service")
    register(category="product", channel="onsite")
    client.force_login(cx.qm)
    response = client.get(reverse("complaints:dashboard"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "vendor/echarts/echarts.min.js" in html and "complaints/dashboard.js" in html
    charts = json.loads(re.search(r'<script id="complaint-charts" type="application/json">(.*?)</script>', html, re.S).group(1))
    assert sorted(charts["channel"]["keys"]) == ["onsite", "phone"]
    assert sum(charts["trend"]["values"]) == 2
    for name in ("severity", "category", "department", "on_time", "satisfaction"):
        assert name in charts
    assert re.search(r'id="stat-registered">2<', html)


def test_dashboard_queries_do_not_grow_with_the_cases(client, cx, register):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(cx.qm)
    register()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("complaints:dashboard"))
    for _i in range(6):
        register()
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("complaints:dashboard"))
    assert len(many) <= len(few)


def test_weekly_and_monthly_report_pages(client, cx, register, at):
    at("2026-09-16T10:00")
    register(category="service")
    client.force_login(cx.qm)
    weekly = client.get(reverse("complaints:report") + "?period=week&at=2026-09-16")
    assert weekly.status_code == 200
    html = weekly.content.decode()
    assert "投诉周报" in html and "2026-09-14" in html
    assert re.search(r'id="breakdown-category".*?服务.*?1', html, re.S)
    monthly = client.get(reverse("complaints:report") + "?period=month&at=2026-09").content.decode()
    assert "投诉月报与分析" in monthly and "2026 年 9 月" in monthly
    client.force_login(cx.agent)
    assert client.get(reverse("complaints:report")).status_code == 403


def test_periods():
    week = reports.period_from("week", "2026-10-01")
    assert week.start == dt.date(2026, 9, 28) and week.end == dt.date(2026, 10, 5)
    month = reports.period_from("month", "2026-12")
    assert month.start == dt.date(2026, 12, 1) and month.end == dt.date(2027, 1, 1)
    assert month.next().start == dt.date(2027, 1, 1) and month.previous().start == dt.date(2026, 11, 1)


def test_report_exports_as_xlsx_and_is_audited(client, cx, register, at):
    import io

    from openpyxl import load_workbook

    from zhidu.kernel.models import AuditEntry

    at("2026-09-16T10:00")
    register(category="service", complainant_phone="13700001111")
    register(category="service", complainant_phone="13700001111")
    client.force_login(cx.qm)
    response = client.get(reverse("complaints:report_export") + "?period=month&at=2026-09")
    assert response.status_code == 200
    rows = list(load_workbook(io.BytesIO(b"".join(response.streaming_content)), read_only=True).active.iter_rows(values_only=True))
    assert ("本期登记", 2) in [tuple(r[:2]) for r in rows if len(r) > 1]
    assert ("服务", 2) in [tuple(r[:2]) for r in rows if len(r) > 1]
    assert any(len(r) > 2 and r[1] == "137****1111" and r[2] == 2 for r in rows)
    assert not any("13700001111" in str(c) for r in rows for c in r if c)
    assert AuditEntry.objects.filter(action="complaints.report_export").exists()
    client.force_login(cx.agent)
    assert client.get(reverse("complaints:report_export")).status_code == 403
