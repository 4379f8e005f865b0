import datetime as dt

import pytest
from django.contrib.auth import get_user_model

from zhidu.kernel import schedules
from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.models import AuditEntry, ScheduledTask

pytestmark = pytest.mark.django_db

SOURCE = "S01 第十五条：重点客户每 6 个月复审一次"


@pytest.fixture
def clerk():
    return get_user_model().objects.create(username="clerk")


def test_done_task_opens_the_next_one_from_the_previous_due_date(clerk):
    first = schedules.schedule_recurring("customers.review", ("customers.customer", 5), dt.date(2026, 1, 31), 6, "months",
                                         title="复审 华为", source=SOURCE, assignee=clerk)
    assert first.state == "open" and first.recurrence == {"amount": 6, "unit": "months"}
    done, following = schedules.task_done(first, clerk, note="已复审")
    assert done.state == "done" and done.done_by == clerk
    assert following.due_on == dt.date(2026, 7, 31)
    assert following.previous == done and following.assignee == clerk and following.source == SOURCE
    _, third = schedules.task_done(following, clerk)
    assert third.due_on == dt.date(2027, 1, 31)
    assert AuditEntry.objects.filter(action="schedule.task_done").count() == 2
    with pytest.raises(Conflict):
        schedules.task_done(first, clerk)
    assert ScheduledTask.objects.filter(state="open").count() == 1


def test_one_off_task_has_no_successor(clerk):
    task = schedules.schedule_once("customers.visit", ("customers.customer", 5), dt.date(2026, 4, 1))
    _, following = schedules.task_done(task, clerk)
    assert following is None


def test_only_one_open_task_per_kind_and_target():
    schedules.schedule_recurring("customers.review", ("customers.customer", 5), dt.date(2026, 1, 1), 6, "months")
    with pytest.raises(Conflict):
        schedules.schedule_recurring("customers.review", ("customers.customer", 5), dt.date(2026, 2, 1), 6, "months")
    schedules.schedule_recurring("customers.visit", ("customers.customer", 5), dt.date(2026, 2, 1), 1, "months")


def test_bad_recurrence_is_refused():
    with pytest.raises(Invalid):
        schedules.schedule_recurring("k", ("x", 1), dt.date(2026, 1, 1), 0, "months")
    with pytest.raises(Invalid):
        schedules.schedule_recurring("k", ("x", 1), dt.date(2026, 1, 1), 1, "hours")
    assert not ScheduledTask.objects.exists()


def test_due_tasks_and_cancel(clerk):
    schedules.schedule_recurring("customers.review", ("customers.customer", 1), dt.date(2026, 1, 10), 6, "months", assignee=clerk)
    schedules.schedule_recurring("customers.review", ("customers.customer", 2), dt.date(2026, 3, 10), 6, "months")
    assert [t.target_id for t in schedules.due_tasks(dt.date(2026, 2, 1))] == ["1"]
    assert [t.target_id for t in schedules.due_tasks(dt.date(2026, 4, 1), assignee=clerk)] == ["1"]
    assert schedules.cancel_open("customers.review", ("customers.customer", 1), clerk) == 1
    assert [t.target_id for t in schedules.due_tasks(dt.date(2026, 4, 1))] == ["2"]
