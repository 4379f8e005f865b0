"""Models: imports of spreadsheets, chunked and resumable."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ImportJob", "ImportRowError"]


class ImportJob(models.Model):
    """One spreadsheet being imported. `processed_rows` is the resume cursor: the number of data rows
    (after the header) whose outcome is committed; it moves in the same transaction as the rows."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("排队中")
        RUNNING = "running", _("导入中")
        DONE = "done", _("已完成")
        FAILED = "failed", _("失败")

    kind = models.CharField(_("类型"), max_length=40)
    file_path = models.CharField(max_length=500)
    original_name = models.CharField(_("文件名"), max_length=255)
    file_sha256 = models.CharField(max_length=64)
    options = models.JSONField(default=dict, blank=True)  # e.g. {"update_existing": true, "department": "SALES"}
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(_("状态"), max_length=10, choices=Status.choices, default=Status.QUEUED)
    headers = models.JSONField(default=list, blank=True)  # the file's header row as written
    total_rows = models.PositiveIntegerField(null=True, blank=True)
    processed_rows = models.PositiveIntegerField(default=0)
    ok_rows = models.PositiveIntegerField(default=0)
    updated_rows = models.PositiveIntegerField(default=0)
    failed_rows = models.PositiveIntegerField(default=0)
    message = models.TextField(blank=True, default="")  # why the whole job failed, or notes such as ignored columns
    runner = models.CharField(max_length=64, blank=True, default="")  # token of the process that holds the job
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    error_file = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        verbose_name = _("导入任务")
        indexes = [
            models.Index(fields=["uploaded_by", "-id"], name="importjob_user_idx"),
            models.Index(fields=["status", "heartbeat_at"], name="importjob_status_idx"),
            models.Index(fields=["kind", "file_sha256"], name="importjob_file_idx"),
        ]

    def __str__(self):
        return f"{self.kind} #{self.pk} {self.original_name}"

    @property
    def finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)

    @property
    def percent(self) -> int:
        if self.status == self.Status.DONE:
            return 100
        if not self.total_rows:
            return 0
        return min(99, int(self.processed_rows * 100 / self.total_rows))


class ImportRowError(models.Model):
    """One reason a row was refused; a row may have several (one per field). The first error of a row
    keeps the row as read in `raw`, so the error file gives the user their row back with the reasons."""

    job = models.ForeignKey(ImportJob, on_delete=models.CASCADE, related_name="row_errors")
    row_number = models.PositiveIntegerField(_("行号"))
    field = models.CharField(_("字段"), max_length=60, blank=True, default="")
    message = models.CharField(_("原因"), max_length=500)
    raw = models.JSONField(default=list, blank=True)  # cell values in the order of job.headers

    class Meta:
        verbose_name = _("导入错误")
        indexes = [models.Index(fields=["job", "row_number", "id"], name="importerror_job_row_idx")]
