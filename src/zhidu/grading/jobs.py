"""Periodic work of grading: the next review task by the pack, and visit tasks matching the grades."""

from datetime import timedelta

from zhidu.kernel.jobs import job

from . import services


@job("grading.reviews_schedule", every=timedelta(days=1))
def reviews_schedule(now):
    return f"{services.reviews_schedule(now)} review tasks opened"


@job("grading.visits_sync", every=timedelta(days=1))
def visits_sync(now):
    return f"{services.visits_sync()} visit tasks opened"
