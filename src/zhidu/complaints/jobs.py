"""Periodic work of complaint handling. The kernel's deadline sweep marks breached time limits and runs
their escalation ladders; the case list shows them through `next_due_at` (see models.py)."""

from datetime import timedelta

from zhidu.kernel import jobs as kernel_jobs
from zhidu.kernel.jobs import job

from . import services

START_PENDING = "complaints.timers.start_pending"


@job("complaints.archive", every=timedelta(days=1))
def archive(now):
    return f"{services.complaints_archive_due(now)} complaints archived"


@job(START_PENDING, every=timedelta(minutes=30))
def start_pending_timers(now):
    started, pending = services.timers_start_pending(now)
    return f"{started} pending timers started, {pending} still pending"


def after_year_entered(year: int) -> None:
    """Registered with kernel.calendar.on_year_entered: the timers waiting for `year` start at once."""
    kernel_jobs.run(START_PENDING)
