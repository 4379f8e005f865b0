"""Periodic work of credit management."""

from datetime import timedelta

from zhidu.kernel.jobs import job

from . import services


@job("credit.investigations_due", every=timedelta(days=1))
def investigations_due(now):
    return f"{services.investigations_due_notify(now)} credit controllers told of due credit investigations"
