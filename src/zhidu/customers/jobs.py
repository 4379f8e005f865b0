"""Periodic work of the customer archive."""

from datetime import timedelta

from zhidu.kernel.jobs import job

from . import services


@job("customers.access_grants_expire", every=timedelta(minutes=15))
def access_grants_expire(now):
    return f"{services.access_grants_expire(now)} grants expired"


@job("customers.reviews_due", every=timedelta(days=1))
def reviews_due(now):
    return f"{services.reviews_due_notify(now)} owners notified of files due for review"
