"""Periodic work of complaint handling. The kernel's deadline sweep marks breached time limits and runs
their escalation ladders; the case list shows them through `next_due_at` (see models.py)."""

from datetime import timedelta

from zhidu.kernel.jobs import job

from . import services


@job("complaints.archive", every=timedelta(days=1))
def archive(now):
    return f"{services.complaints_archive_due(now)} complaints archived"
