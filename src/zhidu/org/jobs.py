"""Periodic org work."""

from datetime import timedelta

from django.contrib.sessions.models import Session

from zhidu.kernel import jobs

from .models import UserSession


@jobs.job("org.sessions_sweep", every=timedelta(hours=1))
def sessions_sweep(now):
    """Deletes expired sessions and the bookkeeping rows of sessions that no longer exist (two statements)."""
    expired, _detail = Session.objects.filter(expire_date__lt=now).delete()
    orphans, _detail = UserSession.objects.exclude(session_key__in=Session.objects.values("session_key")).delete()
    return f"expired sessions {expired}, session records {orphans}"
