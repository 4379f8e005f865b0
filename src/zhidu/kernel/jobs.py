"""Periodic jobs: plain idempotent functions registered with `@job(name, every=timedelta)`.

One code path runs them everywhere: `run_due_jobs(now)` from the in-process scheduler of `zhidu run`, or
the Celery task `zhidu.run_job(name)` fired by beat under `zhidu worker`. A run holds its JobLock row
(SELECT … FOR UPDATE SKIP LOCKED on PostgreSQL) or takes a lease on it in a short IMMEDIATE transaction
(SQLite), so the same job never runs twice at once, whichever processes are running.
"""

import logging
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import timedelta
from typing import Callable

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules

from zhidu.kernel.models import JobLock, JobRun

log = logging.getLogger(__name__)
SCHEDULER_INTERVAL_SECONDS = 30
# How long a crashed run on SQLite keeps its job blocked before another process may take over.
LEASE = timedelta(hours=1)


@dataclass(frozen=True)
class Job:
    name: str
    every: timedelta
    func: Callable  # func(now) -> a short text for JobRun.detail, or (ok, text)


_registry: dict[str, Job] = {}
_discovered = False


def job(name: str, every: timedelta):
    """Registers `func(now)` to run every `every`. Jobs must be idempotent: a run may repeat."""

    def decorator(func):
        _registry[name] = Job(name, every, func)
        return func

    return decorator


def autodiscover() -> None:
    """Imports `<app>.jobs` of every installed app so their @job registrations exist."""
    global _discovered
    if not _discovered:
        autodiscover_modules("jobs")
        _discovered = True


def registry() -> dict[str, Job]:
    autodiscover()
    return dict(_registry)


def get(name: str) -> Job:
    jobs = registry()
    if name not in jobs:
        raise KeyError(f"unknown job {name!r}; registered: {', '.join(sorted(jobs))}")
    return jobs[name]


def _is_due(lock: JobLock, job_: Job, now) -> bool:
    return lock.last_started_at is None or now - lock.last_started_at >= job_.every


def run(name: str, now=None, *, force: bool = True) -> JobRun | None:
    """Runs one job now, unless another process is running it (returns None) or, without `force`, its
    interval has not elapsed. Records a JobRun with the outcome; a failure is recorded, not raised."""
    job_ = get(name)
    now = now or timezone.now()
    JobLock.objects.get_or_create(name=name)
    if connection.features.has_select_for_update_skip_locked:
        return _run_holding_row_lock(job_, now, force)
    return _run_with_lease(job_, now, force)


def _run_holding_row_lock(job_: Job, now, force: bool) -> JobRun | None:
    # The row lock lives as long as this transaction, and ends by itself if the process dies.
    with transaction.atomic():
        lock = JobLock.objects.select_for_update(skip_locked=True).filter(name=job_.name).first()
        if lock is None or (not force and not _is_due(lock, job_, now)):
            return None
        JobLock.objects.filter(name=job_.name).update(last_started_at=now)
        job_run = _execute(job_, now)
        JobLock.objects.filter(name=job_.name).update(last_finished_at=job_run.finished_at)
    return job_run


def _run_with_lease(job_: Job, now, force: bool) -> JobRun | None:
    # SQLite has one writer at a time: holding a write transaction for a whole job would stall every
    # request, so the lease is taken and given back in two short (IMMEDIATE) transactions.
    with transaction.atomic():
        lock = JobLock.objects.get(name=job_.name)
        if lock.running_until is not None and lock.running_until > timezone.now():
            return None
        if not force and not _is_due(lock, job_, now):
            return None
        JobLock.objects.filter(name=job_.name).update(last_started_at=now, running_until=timezone.now() + LEASE)
    try:
        job_run = _execute(job_, now)
    finally:
        JobLock.objects.filter(name=job_.name).update(running_until=None, last_finished_at=timezone.now())
    return job_run


def _execute(job_: Job, now) -> JobRun:
    job_run = JobRun.objects.create(name=job_.name, started_at=timezone.now())
    try:
        with transaction.atomic():
            outcome = job_.func(now)
        # A job may report a failed check without raising: it returns (ok, detail).
        ok, detail = outcome if isinstance(outcome, tuple) else (True, outcome)
    except Exception as exc:
        log.exception("job %s failed", job_.name)
        ok, detail = False, f"{type(exc).__name__}: {exc}\n{traceback.format_exc(limit=5)}"
    JobRun.objects.filter(pk=job_run.pk).update(finished_at=timezone.now(), ok=ok, detail=str(detail or "")[:10000])
    job_run.refresh_from_db()
    return job_run


def run_due_jobs(now=None) -> list[JobRun]:
    """Runs every registered job whose interval has elapsed since its last start."""
    now = now or timezone.now()
    runs = []
    for name in sorted(registry()):
        job_run = run(name, now, force=False)
        if job_run is not None:
            runs.append(job_run)
    return runs


_scheduler_thread: threading.Thread | None = None


def start_in_process_scheduler(interval: float = SCHEDULER_INTERVAL_SECONDS) -> threading.Thread | None:
    """Starts a daemon thread that calls run_due_jobs every `interval` seconds (the embedded default of
    `zhidu run`). Does nothing when a broker is configured: then Celery beat schedules the jobs."""
    global _scheduler_thread
    if getattr(settings, "CELERY_BROKER_URL", ""):
        return None
    if _scheduler_thread is not None and _scheduler_thread.is_alive():
        return _scheduler_thread
    registry()

    def loop():
        while True:
            time.sleep(interval)
            try:
                run_due_jobs(timezone.now())
            except Exception:
                log.exception("in-process scheduler: run_due_jobs failed")
            finally:
                close_old_connections()

    _scheduler_thread = threading.Thread(target=loop, name="zhidu-scheduler", daemon=True)
    _scheduler_thread.start()
    return _scheduler_thread


# The kernel's own jobs.


@job("kernel.deadlines.sweep", every=timedelta(minutes=5))
def _deadlines_sweep(now):
    from zhidu.kernel import deadlines

    result = deadlines.sweep(now)
    return f"breached={result.breached} escalated={result.escalated} notified={result.notified}"


@job("kernel.audit.verify_daily", every=timedelta(days=1))
def _audit_verify_daily(now):
    from zhidu.kernel import audit

    return audit.verify_daily(now)


@job("kernel.idempotency.purge", every=timedelta(hours=1))
def _idempotency_purge(now):
    from zhidu.kernel import idempotency

    return f"purged={idempotency.purge(now)}"


@job("kernel.imports.resume", every=timedelta(minutes=5))
def _imports_resume(now):
    from zhidu.kernel import importing

    # Imports whose runner died (server restart, killed worker) go on from their last committed chunk.
    return f"resumed={importing.resume_stale_jobs()}"


@job("kernel.sqlite.optimize", every=timedelta(hours=6))
def _sqlite_optimize(now):
    from django.db import connection

    # SQLite plans list pages well only with fresh statistics; PRAGMA optimize refreshes those that
    # drifted and is cheap when nothing did. PostgreSQL's autovacuum does this by itself.
    if connection.vendor != "sqlite":
        return "not sqlite"
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA optimize")
    return "optimized"
