"""Periodic work of admission and the blacklist."""

from datetime import timedelta

from zhidu.kernel.jobs import job

from . import services


@job("admission.blacklist_expire", every=timedelta(hours=1))
def blacklist_expire(now):
    return f"{services.blacklist_expire(now)} blacklist listings reached the end of their period"
