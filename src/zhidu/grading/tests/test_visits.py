"""Visits by grade: the salesperson records a visit on the customer's grading page and the next one is due
by the grade's frequency (S01 五、8 L413: key VIP and 优选 customers visited monthly)."""

import datetime as dt

import pytest
from django.urls import reverse

from zhidu.grading import services
from zhidu.kernel import schedules
from zhidu.kernel.models import ScheduledTask


@pytest.fixture
def visit(pack, org, graded_customer):
    pack("s01-prosthetics")
    customer = graded_customer(user=org.sales_a)
    task = schedules.schedule_recurring(services.VISIT_KIND, customer, dt.date(2026, 12, 1), 1, "months", title="VIP 客户月度拜访",
                                        source="S01 五、8 L413", assignee=org.sales_a)
    return customer, task


def test_recording_a_visit_opens_the_next_one_a_month_later(client, org, visit):
    customer, task = visit
    client.force_login(org.sales_a)
    page = client.get(reverse("grading:customer", args=[customer.pk])).content.decode()
    assert 'id="visit-form"' in page and "2026-12-01" in page
    response = client.post(reverse("grading:visit_done", args=[customer.pk, task.pk]), {"note": "走访院方设备科"}, follow=True)
    assert response.status_code == 200
    task.refresh_from_db()
    assert task.state == "done" and task.done_by == org.sales_a
    following = ScheduledTask.objects.get(kind=services.VISIT_KIND, target_id=str(customer.pk), state="open")
    assert following.due_on == dt.date(2027, 1, 1)
    assert "2027-01-01" in response.content.decode()


def test_a_visit_of_a_customer_out_of_scope_is_refused(client, org, visit):
    customer, task = visit
    client.force_login(org.sales_b)
    client.post(reverse("grading:visit_done", args=[customer.pk, task.pk]), {"note": "x"})
    task.refresh_from_db()
    assert task.state == "open"
