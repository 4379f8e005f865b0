"""Registration across the end of the holiday data: a complaint registered when a timer reaches a year
the calendar does not cover is still accepted; the timer waits (待计算), the calendar managers are told
once, and the timer starts from the registration time as soon as the year is entered."""

import datetime as dt

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse

from zhidu.complaints import services
from zhidu.complaints.models import Complaint, ComplaintEvent, PendingTimer
from zhidu.kernel import calendar
from zhidu.kernel.jobs import registry
from zhidu.kernel.models import Deadline, Notification
from zhidu.org.tokens import token_create

from .flow import due, fresh, local, register, v

pytestmark = pytest.mark.django_db

YEAR = calendar.BUILTIN_LAST_YEAR + 1
REGISTERED = f"{YEAR - 1}-12-30T10:00"  # a Wednesday; the 5-working-day resolution limit reaches into YEAR
FIRST_DUE = f"{YEAR - 1}-12-31T10:00"  # the first response (1 working day) stays inside the covered year
CATEGORY = f"calendar.missing.{YEAR}"


def _managers(cx) -> set[int]:
    return {cx.org.gm.pk, cx.gm2.pk}  # the general managers hold calendar.manage


def _enter_year():
    admin = get_user_model().objects.create(username="caladmin")
    return calendar.holiday_year_import(calendar.read_holiday_csv(f"{YEAR}-01-01,holiday,元旦\n"), YEAR, admin, source="测试")


def _start_job():
    return registry()["complaints.timers.start_pending"].func


@pytest.fixture
def gap(cx, pack, at):
    pack("s01-prosthetics")
    at(REGISTERED)
    return cx


def _assert_pending(complaint):
    complaint = fresh(complaint)
    assert complaint.resolution_due is None
    assert complaint.first_response_due == complaint.next_due_at == local(FIRST_DUE)
    assert list(PendingTimer.objects.filter(complaint=complaint).values_list("key", flat=True)) == ["resolution"]
    assert [d.policy_key for d in Deadline.objects.filter(target_type=services.TARGET_TYPE, target_id=str(complaint.pk))] == [
        services.DEADLINE_PREFIX + "first_response"]
    event = ComplaintEvent.objects.get(complaint=complaint, kind="timers_pending")
    assert f"缺少 {YEAR} 年节假日安排" in event.note and event.data["year"] == YEAR and not event.public


def test_staff_and_public_registration_succeed_with_pending_timers_and_one_notice(gap):
    with pytest.raises(calendar.CalendarDataMissing):  # the calendar itself still refuses to guess
        calendar.add(local(REGISTERED), 5, "working_days")
    staff = register(gap.agent, channel="phone")
    public = services.complaint_submit_public({"complainant_name": "赵公众", "complainant_phone": "13912345678", "subject": "配件",
                                               "content": "配件尺寸不合适"})
    again = register(gap.agent2, channel="onsite")
    for complaint in (staff, public, again):
        _assert_pending(complaint)
    notices = Notification.objects.filter(category=CATEGORY)
    assert sorted(notices.values_list("user_id", flat=True)) == sorted(_managers(gap))  # one each, not one per complaint
    notice = notices.first()
    assert str(YEAR) in notice.title and "/kernel/calendar/" in notice.body and notice.link == "/kernel/calendar/"


def test_public_page_and_api_accept_the_complaint(gap):
    response = Client().post(reverse("complaints_public:submit"), {
        "complainant_name": "赵公众", "complainant_phone": "13912345678", "subject": "配件", "content": "配件尺寸不合适"})
    assert response.status_code == 302 and response.url == reverse("complaints_public:done")
    _assert_pending(Complaint.objects.get())

    api = Client(raise_request_exception=False)
    body = {"complainant_name": "李女士", "complainant_phone": "13900001111", "subject": "送货延误", "content": "说好周三送到", "channel": "phone"}
    response = api.post("/api/v1/complaints", body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {token_create(gap.agent)}")
    assert response.status_code == 201, response.content
    data = response.json()
    assert data["resolution_due"] is None and dt.datetime.fromisoformat(data["first_response_due"]) == local(FIRST_DUE)
    _assert_pending(Complaint.objects.get(pk=data["id"]))
    assert Notification.objects.filter(category=CATEGORY).count() == len(_managers(gap))


def test_case_page_shows_the_pending_timer_with_its_reason(gap, client):
    complaint = register(gap.agent, channel="phone")
    client.force_login(gap.qm)
    html = client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert html.count("deadline-pending-badge") == 1 and "待计算" in html and 'data-key="resolution"' in html
    assert f"缺少 {YEAR} 年节假日安排" in html and "deadline-pending-calendar" not in html  # the link is for calendar managers
    client.force_login(gap.gm2)
    assert 'class="deadline-pending-calendar" href="/kernel/calendar/"' in client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "en"
    html = client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert "To be computed" in html and f"The {YEAR} holiday arrangement is missing" in html


def test_the_job_starts_the_timers_from_registration_once_the_year_is_entered(gap, at):
    complaint = register(gap.agent, channel="phone")
    job = _start_job()
    at(f"{YEAR}-01-04T09:00")
    assert job(local(f"{YEAR}-01-04T09:00")) == "0 pending timers started, 1 still pending"  # the year is still missing
    _enter_year()
    assert job(local(f"{YEAR}-01-04T09:00")) == "1 pending timers started, 0 still pending"
    resolution = due(complaint, "resolution")
    assert resolution.started_at == fresh(complaint).created_at == local(REGISTERED)
    assert resolution.due_at == local(f"{YEAR}-01-07T10:00")  # Dec 31, then Jan 4-7 (Jan 1 off, Jan 2-3 weekend)
    assert resolution.state == Deadline.State.DUE and resolution.next_escalation_at == resolution.due_at
    complaint = fresh(complaint)
    assert complaint.first_response_due == local(FIRST_DUE) and complaint.resolution_due == resolution.due_at
    assert complaint.next_due_at == local(FIRST_DUE) and complaint.overdue
    event = ComplaintEvent.objects.get(complaint=complaint, kind="timers_started")
    assert f"{YEAR}-01-07 10:00" in event.note

    version = complaint.version
    assert job(local(f"{YEAR}-01-04T10:00")) == "0 pending timers started, 0 still pending"
    assert Deadline.objects.filter(target_type=services.TARGET_TYPE, target_id=str(complaint.pk)).count() == 2
    assert ComplaintEvent.objects.filter(complaint=complaint, kind="timers_started").count() == 1
    assert fresh(complaint).version == version


def test_entering_the_year_starts_the_timers_at_once(gap, django_capture_on_commit_callbacks):
    complaint = register(gap.agent, channel="phone")
    with django_capture_on_commit_callbacks(execute=True):
        _enter_year()
    assert not PendingTimer.objects.exists()
    assert fresh(complaint).resolution_due == local(f"{YEAR}-01-07T10:00")


def test_a_step_taken_while_waiting_meets_the_timer_late_or_on_time(gap, at):
    at(f"{YEAR - 1}-12-31T10:00")  # now even the first response (1 working day) reaches into YEAR
    complaint = register(gap.agent, channel="phone")
    assert fresh(complaint).next_due_at is None and PendingTimer.objects.filter(complaint=complaint).count() == 2
    at(f"{YEAR}-01-05T09:00")
    services.complaint_decide(gap.qm, complaint.pk, True, expected_version=v(complaint))  # meets first_response, a day late
    assert PendingTimer.objects.get(complaint=complaint, key="first_response").met_at == local(f"{YEAR}-01-05T09:00")
    _enter_year()
    assert services.timers_start_pending() == (2, 0)
    first, resolution = due(complaint, "first_response"), due(complaint, "resolution")
    assert first.state == Deadline.State.MET and first.met_at == local(f"{YEAR}-01-05T09:00")
    assert first.breached_at == first.due_at == local(f"{YEAR}-01-04T10:00")  # late: Jan 1 off, Jan 2-3 weekend
    assert first.next_escalation_at is None
    assert resolution.state == Deadline.State.DUE and resolution.breached_at is None
    assert resolution.due_at == local(f"{YEAR}-01-08T10:00")
    complaint = fresh(complaint)
    assert complaint.next_due_at == resolution.due_at and complaint.first_response_due == first.due_at


def test_waiting_for_the_complainant_shifts_the_timer_started_later(gap, at):
    complaint = register(gap.agent, channel="phone")
    services.complaint_decide(gap.qm, complaint.pk, True, expected_version=v(complaint))
    services.complaint_assign(gap.qm, complaint.pk, department=gap.org.dept_a.pk, owner=gap.agent.pk, expected_version=v(complaint))
    at(f"{YEAR - 1}-12-30T12:00")
    services.complaint_wait_for_complainant(gap.agent, complaint.pk, note="请补充照片", expected_version=v(complaint))
    at(f"{YEAR - 1}-12-30T15:00")
    services.complaint_resume(gap.agent, complaint.pk, expected_version=v(complaint))
    _enter_year()
    services.timers_start_pending()
    resolution = due(complaint, "resolution")
    assert resolution.paused_total == dt.timedelta(hours=3)
    assert resolution.due_at == local(f"{YEAR}-01-07T13:00") and resolution.state == Deadline.State.DUE

