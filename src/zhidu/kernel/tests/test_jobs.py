import threading
import time
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import override_settings
from django.utils import timezone

from zhidu.kernel import audit, jobs
from zhidu.kernel.models import AuditEntry, JobLock, JobRun, Notification
from zhidu.org.models import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def only_job():
    """Runs the test with just the given jobs registered (the kernel's own are put back afterwards)."""
    saved = dict(jobs.registry())
    jobs._registry.clear()

    def register(name, every, func):
        jobs.job(name, every=every)(func)

    yield register
    jobs._registry.clear()
    jobs._registry.update(saved)


def test_kernel_jobs_are_registered():
    registry = jobs.registry()
    assert registry["kernel.deadlines.sweep"].every == timedelta(minutes=5)
    assert registry["kernel.audit.verify_daily"].every == timedelta(days=1)


def test_run_due_jobs_runs_each_job_once_per_interval(only_job):
    calls = []
    only_job("test.count", timedelta(minutes=10), lambda now: calls.append(now) or f"n={len(calls)}")
    start = timezone.now()
    assert [r.name for r in jobs.run_due_jobs(start)] == ["test.count"]
    assert jobs.run_due_jobs(start + timedelta(minutes=9)) == []
    assert len(jobs.run_due_jobs(start + timedelta(minutes=10))) == 1
    assert len(calls) == 2
    run = JobRun.objects.filter(name="test.count").order_by("-id").first()
    assert run.ok is True and run.detail == "n=2" and run.finished_at is not None


def test_failing_job_is_recorded_and_its_writes_undone(only_job):
    def broken(now):
        audit.record(None, "half.done")
        raise RuntimeError("数据库里缺少客户 42")

    only_job("test.broken", timedelta(minutes=1), broken)
    run = jobs.run("test.broken")
    assert run.ok is False
    assert "RuntimeError" in run.detail and "客户 42" in run.detail
    assert not AuditEntry.objects.filter(action="half.done").exists()
    assert JobLock.objects.get(name="test.broken").last_finished_at is not None


@pytest.mark.django_db(transaction=True)
def test_same_job_never_runs_twice_at_once(only_job):
    running = []
    overlaps = []

    def slow(now):
        running.append(1)
        if len(running) > 1:
            overlaps.append(1)
        time.sleep(0.5)
        running.pop()
        return "slow"

    only_job("test.slow", timedelta(hours=1), slow)
    now = timezone.now()
    results = []

    def worker():
        try:
            results.append(jobs.run_due_jobs(now))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert overlaps == []
    assert JobRun.objects.filter(name="test.slow").count() == 1
    assert sorted(len(r) for r in results) == [0, 0, 1]


@pytest.mark.skipif("connection.vendor != 'postgresql'")
@pytest.mark.django_db(transaction=True)
def test_locked_job_is_skipped_on_postgresql(only_job):
    only_job("test.locked", timedelta(minutes=1), lambda now: "ran")
    JobLock.objects.create(name="test.locked")
    holding = threading.Event()
    release = threading.Event()

    def holder():
        from django.db import transaction

        try:
            with transaction.atomic():
                JobLock.objects.select_for_update().get(name="test.locked")
                holding.set()
                release.wait(10)
        finally:
            connections.close_all()

    thread = threading.Thread(target=holder)
    thread.start()
    holding.wait(10)
    try:
        assert jobs.run("test.locked") is None
    finally:
        release.set()
        thread.join()
    assert jobs.run("test.locked").detail == "ran"


def test_verify_daily_records_result_and_alerts_auditors_on_tampering():
    auditor_role = Role.objects.create(code="auditor", name="审计员", permissions=["audit.view"])
    auditor = get_user_model().objects.create(username="shenji", role=auditor_role)
    clerk = get_user_model().objects.create(username="clerk")
    audit.record(clerk, "customer.created")
    ok_run = jobs.run("kernel.audit.verify_daily")
    assert ok_run.ok is True and ok_run.detail.startswith("OK")
    entry = audit.record(clerk, "customer.exported")
    with connection.cursor() as cursor:
        cursor.execute("UPDATE kernel_auditentry SET action = %s WHERE id = %s", ["customer.viewed", entry.pk])
    bad_run = jobs.run("kernel.audit.verify_daily")
    assert bad_run.ok is False
    assert f"id={entry.pk}" in bad_run.detail
    alert = Notification.objects.get(user=auditor)
    assert "审计日志" in alert.title
    assert not Notification.objects.filter(user=clerk).exists()


def test_in_process_scheduler_stays_off_when_a_broker_is_configured():
    with override_settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/15"):
        assert jobs.start_in_process_scheduler() is None


def test_worker_command_explains_missing_broker():
    with override_settings(CELERY_BROKER_URL=""):
        with pytest.raises(CommandError, match="ZHIDU_BROKER_URL"):
            call_command("worker")


def test_beat_schedule_covers_every_registered_job():
    from zhidu.kernel.celery_app import app, beat_schedule

    schedule = beat_schedule()
    entry = schedule["zhidu-job:kernel.deadlines.sweep"]
    assert entry["task"] == "zhidu.run_job" and entry["args"] == ("kernel.deadlines.sweep",)
    assert entry["schedule"] == timedelta(minutes=5)
    assert set(app.conf.beat_schedule) == set(schedule)
    assert "zhidu.run_job" in app.tasks


@pytest.mark.skipif("connection.vendor == 'postgresql'")
def test_a_leased_job_is_skipped_until_the_lease_ends_on_sqlite(only_job):
    only_job("test.leased", timedelta(minutes=1), lambda now: "ran")
    JobLock.objects.create(name="test.leased", running_until=timezone.now() + timedelta(minutes=30))
    assert jobs.run("test.leased") is None
    # A process that died mid-run leaves its lease behind; once the lease has run out the job runs again.
    JobLock.objects.filter(name="test.leased").update(running_until=timezone.now() - timedelta(seconds=1))
    assert jobs.run("test.leased").detail == "ran"
    assert JobLock.objects.get(name="test.leased").running_until is None


@pytest.mark.django_db
def test_sqlite_statistics_job_runs_on_every_database():
    run = jobs.run("kernel.sqlite.optimize", force=True)
    assert run.ok
    assert run.detail == ("optimized" if connection.vendor == "sqlite" else "not sqlite")
