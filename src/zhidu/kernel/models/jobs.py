"""Models: runs of periodic jobs and the per-job lock row."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["JobRun", "JobLock"]


class JobLock(models.Model):
    """One row per job. On PostgreSQL a run holds this row locked; on SQLite a run takes a lease
    (`running_until`) in a short write transaction. Either way the same job never runs twice at once."""

    name = models.CharField(max_length=100, primary_key=True)
    running_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)


class JobRun(models.Model):
    name = models.CharField(max_length=100)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    ok = models.BooleanField(null=True)
    detail = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-id"]
        verbose_name = _("任务运行记录")
        indexes = [models.Index(fields=["name", "-started_at"], name="jobrun_name_idx")]
