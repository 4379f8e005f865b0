import datetime as dt

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from zhidu.kernel import deadlines
from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.models import Deadline, Notification
from zhidu.org.models import Role

pytestmark = pytest.mark.django_db

TZ = timezone.get_fixed_timezone(8 * 60)
SOURCE = "S03 投诉管理制度 第八条：受理后 3 个工作日内答复"


def at(*args):
    return dt.datetime(*args, tzinfo=TZ)


@pytest.fixture
def staff():
    director = Role.objects.create(code="quality_director", name="质量总监")
    User = get_user_model()
    users = {
        "owner": User.objects.create(username="handler"),
        "manager": User.objects.create(username="boss"),
        "director": User.objects.create(username="director", role=director),
    }
    # The owning app says who "owner" and "manager" of a complaint are, for many complaints at once.
    installed = deadlines._resolvers.get("complaints.complaint")
    deadlines.register_resolver(
        "complaints.complaint",
        lambda who, ids: {target_id: [users["owner" if who == "owner" else "manager"].pk] for target_id in ids},
    )
    yield users
    if installed is None:
        deadlines._resolvers.pop("complaints.complaint", None)
    else:
        deadlines.register_resolver("complaints.complaint", installed)


LADDER = [
    {"after": "-1 hours", "notify": "owner"},
    {"after": "0 hours", "notify": "manager"},
    {"after": "1 working_days", "notify": "quality_director"},
]


def test_due_time_counts_working_days_across_national_day():
    deadline = deadlines.deadline_start(("complaints.complaint", 1), "complaints.reply_days", at(2026, 9, 30, 10), 3, "working_days", SOURCE)
    assert deadline.due_at == at(2026, 10, 10, 10)
    assert deadline.state == "due" and deadline.source == SOURCE


def test_one_open_timer_per_target_and_key():
    deadlines.deadline_start(("complaints.complaint", 1), "k", at(2026, 3, 2, 9), 2, "hours", SOURCE)
    with pytest.raises(Conflict):
        deadlines.deadline_start(("complaints.complaint", 1), "k", at(2026, 3, 2, 9), 2, "hours", SOURCE)
    assert Deadline.objects.count() == 1


def test_pause_and_resume_move_the_due_time_by_the_pause():
    deadline = deadlines.deadline_start(("complaints.complaint", 1), "k", at(2026, 3, 2, 9), 8, "hours", SOURCE)
    deadlines.deadline_pause(deadline, at(2026, 3, 2, 10))
    with pytest.raises(Conflict):
        deadlines.deadline_pause(deadline, at(2026, 3, 2, 11))
    # While paused the sweep leaves it alone even past its original due time.
    assert deadlines.sweep(at(2026, 3, 2, 18)).breached == 0
    resumed = deadlines.deadline_resume(deadline, at(2026, 3, 2, 13))
    assert resumed.state == "due"
    assert resumed.due_at == at(2026, 3, 2, 20)
    assert resumed.paused_total == dt.timedelta(hours=3)


def test_sweep_breaches_only_overdue_running_timers_once():
    late = deadlines.deadline_start(("complaints.complaint", 1), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    met = deadlines.deadline_start(("complaints.complaint", 2), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    not_yet = deadlines.deadline_start(("complaints.complaint", 3), "k", at(2026, 3, 2, 9), 5, "hours", SOURCE)
    deadlines.deadline_met(met, at(2026, 3, 2, 9, 30))
    result = deadlines.sweep(at(2026, 3, 2, 11))
    assert result.breached == 1
    states = dict(Deadline.objects.values_list("pk", "state"))
    assert states == {late.pk: "breached", met.pk: "met", not_yet.pk: "due"}
    assert deadlines.sweep(at(2026, 3, 2, 11, 5)).breached == 0
    # Met late: the breach stays on record.
    finished = deadlines.deadline_met(late, at(2026, 3, 2, 12))
    assert finished.state == "met" and finished.breached_at is not None


def test_escalation_ladder_notifies_owner_then_manager_then_role(staff):
    deadline = deadlines.deadline_start(
        ("complaints.complaint", 7), "complaints.reply_days", at(2026, 3, 2, 9), 2, "working_days", SOURCE,
        ladder=LADDER, ladder_source="S03 第九条", title="投诉 TS-2026-0007 答复时限", link="/complaints/7/",
    )
    assert deadline.due_at == at(2026, 3, 4, 9)

    def inbox(name):
        return list(Notification.objects.filter(user=staff[name]).values_list("title", flat=True))

    assert deadlines.sweep(at(2026, 3, 4, 7)).escalated == 0
    reminder = deadlines.sweep(at(2026, 3, 4, 8, 30))
    assert (reminder.breached, reminder.escalated) == (0, 1)
    assert inbox("owner") == ["即将到期：投诉 TS-2026-0007 答复时限"]
    breach = deadlines.sweep(at(2026, 3, 4, 9, 5))
    assert (breach.breached, breach.escalated) == (1, 1)
    assert inbox("manager") == ["已超时：投诉 TS-2026-0007 答复时限"]
    assert inbox("director") == []
    # Thursday 9:00 is one working day after the due time.
    assert deadlines.sweep(at(2026, 3, 5, 8)).escalated == 0
    assert deadlines.sweep(at(2026, 3, 5, 9)).escalated == 1
    assert len(inbox("director")) == 1
    assert deadlines.sweep(at(2026, 3, 20, 9)).escalated == 0
    deadline.refresh_from_db()
    assert deadline.escalation_level == 3 and deadline.next_escalation_at is None
    assert Notification.objects.get(user=staff["director"]).link == "/complaints/7/"


def test_a_late_sweep_catches_up_every_missed_step(staff):
    deadlines.deadline_start(("complaints.complaint", 8), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE, ladder=LADDER)
    result = deadlines.sweep(at(2026, 3, 10, 9))
    assert (result.breached, result.escalated) == (1, 3)
    assert Notification.objects.count() == 3


def test_met_deadline_stops_escalating(staff):
    deadline = deadlines.deadline_start(("complaints.complaint", 9), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE, ladder=LADDER)
    deadlines.deadline_met(deadline, at(2026, 3, 2, 9, 30))
    assert deadlines.sweep(at(2026, 3, 10, 9)).escalated == 0
    assert not Notification.objects.exists()


def test_ladder_is_checked_when_the_timer_starts():
    with pytest.raises(Invalid):
        deadlines.deadline_start(("x.y", 1), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE, ladder=[{"after": "soon", "notify": "owner"}])
    with pytest.raises(Invalid):  # nobody registered who the owner of an x.y is
        deadlines.deadline_start(("x.y", 1), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE, ladder=[{"after": "0 hours", "notify": "owner"}])
    with pytest.raises(Invalid):
        deadlines.deadline_start(("x.y", 1), "k", at(2026, 3, 2, 9), 1, "fortnights", SOURCE)
    assert not Deadline.objects.exists()


def test_sweep_breaches_with_one_update(django_assert_max_num_queries):
    for i in range(50):
        deadlines.deadline_start(("complaints.complaint", i), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    # One UPDATE for the breaches, one SELECT for escalations (none here), plus transaction bookkeeping.
    with django_assert_max_num_queries(6):
        assert deadlines.sweep(at(2026, 3, 3, 9)).breached == 50


def test_a_ladder_step_in_a_year_without_holidays_waits_without_stalling_the_others(staff):
    from zhidu.kernel import calendar

    # Due on the last working day of 2026; its third step (one working day later) needs 2027's holidays.
    year_end = deadlines.deadline_start(("complaints.complaint", 9), "k", at(2026, 12, 31, 9), 1, "hours", SOURCE, ladder=LADDER, title="年末")
    other = deadlines.deadline_start(("complaints.complaint", 10), "k", at(2026, 12, 30, 9), 1, "hours", SOURCE, ladder=LADDER[:2], title="其他")
    result = deadlines.sweep(at(2026, 12, 31, 12))
    assert result.escalated == 4  # both reminders and both breach notices
    year_end.refresh_from_db()
    other.refresh_from_db()
    assert year_end.escalation_level == 2 and year_end.next_escalation_at == at(2026, 12, 31, 12) + deadlines.CALENDAR_RETRY
    assert other.escalation_level == 2 and other.next_escalation_at is None

    # Still no 2027 data at the retry: nobody is told anything yet.
    assert deadlines.sweep(at(2026, 12, 31, 19)).escalated == 0
    assert not Notification.objects.filter(user=staff["director"]).exists()

    admin = get_user_model().objects.create(username="caladmin")
    calendar.holiday_year_import(calendar.read_holiday_csv("2027-01-01,holiday,元旦\n"), 2027, admin, source="测试")
    # 2027-01-01 is a holiday, so one working day after 2026-12-31 10:00 is Monday 2027-01-04 10:00.
    assert deadlines.sweep(at(2027, 1, 1, 9)).escalated == 0
    year_end.refresh_from_db()
    assert year_end.next_escalation_at == at(2027, 1, 4, 10)
    assert deadlines.sweep(at(2027, 1, 4, 10)).escalated == 1
    assert Notification.objects.filter(user=staff["director"], title="已超时：年末").count() == 1


def test_extend_gives_a_new_length_from_the_start_and_restarts_the_ladder(staff):
    deadline = deadlines.deadline_start(("complaints.complaint", 20), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE, ladder=LADDER)
    assert deadlines.sweep(at(2026, 3, 2, 10, 30)).breached == 1
    deadline.refresh_from_db()
    assert deadline.state == Deadline.State.BREACHED and deadline.escalation_level == 2

    extended = deadlines.deadline_extend(deadline, 5, "hours", at(2026, 3, 2, 10, 30), source=SOURCE + " | 延期")
    assert extended.due_at == at(2026, 3, 2, 14) and (extended.amount, extended.unit) == (5, "hours")
    assert extended.state == Deadline.State.DUE and extended.breached_at is None
    assert extended.escalation_level == 0 and extended.next_escalation_at == at(2026, 3, 2, 13)
    assert extended.source == SOURCE + " | 延期"
    deadline.refresh_from_db()
    assert deadline.due_at == at(2026, 3, 2, 14)


def test_extend_keeps_paused_time_and_a_breach_the_new_length_does_not_cure(staff):
    deadline = deadlines.deadline_start(("complaints.complaint", 21), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    deadlines.deadline_pause(deadline, at(2026, 3, 2, 9, 30))
    deadlines.deadline_resume(deadline, at(2026, 3, 2, 10))  # 30 minutes paused
    extended = deadlines.deadline_extend(deadline, 2, "hours", at(2026, 3, 2, 10))
    assert extended.due_at == at(2026, 3, 2, 11, 30) and extended.source == SOURCE

    late = deadlines.deadline_start(("complaints.complaint", 22), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    deadlines.sweep(at(2026, 3, 2, 12))
    still_late = deadlines.deadline_extend(late, 2, "hours", at(2026, 3, 2, 12))
    assert still_late.state == Deadline.State.BREACHED and still_late.breached_at is not None


def test_extend_refuses_a_met_timer_or_an_unknown_unit():
    deadline = deadlines.deadline_start(("x.y", 23), "k", at(2026, 3, 2, 9), 1, "hours", SOURCE)
    with pytest.raises(Invalid):
        deadlines.deadline_extend(deadline, 2, "fortnights")
    deadlines.deadline_met(deadline, at(2026, 3, 2, 9, 30))
    with pytest.raises(Conflict):
        deadlines.deadline_extend(deadline, 2, "hours")
    deadline.refresh_from_db()
    assert (deadline.amount, deadline.unit, deadline.due_at) == (1, "hours", at(2026, 3, 2, 10))
