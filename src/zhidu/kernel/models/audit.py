"""Models: the append-only, hash-chained audit log."""

from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["AuditEntry", "AuditHead", "AuditImmutable"]


class AuditImmutable(Exception):
    """Raised when code tries to change or remove an audit entry."""


class AuditQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise AuditImmutable("审计日志只能追加，不能修改")

    def delete(self):
        raise AuditImmutable("审计日志只能追加，不能删除")


class AuditEntry(models.Model):
    """One audited event. `hash` = sha256(prev_hash + canonical JSON of the entry's content), so altering,
    reordering or removing any row breaks the chain (see `zhidu.kernel.audit.verify`)."""

    seq = models.BigIntegerField(unique=True)
    at = models.DateTimeField(db_index=True)
    actor_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=80, db_index=True)
    target_type = models.CharField(max_length=60, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    ip = models.CharField(max_length=45, blank=True, default="")
    details = models.JSONField(default=dict, blank=True)
    prev_hash = models.CharField(max_length=64)
    hash = models.CharField(max_length=64)

    objects = AuditQuerySet.as_manager()

    class Meta:
        ordering = ["seq"]
        verbose_name = _("审计日志")
        indexes = [models.Index(fields=["target_type", "target_id", "seq"], name="audit_target_idx")]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AuditImmutable("审计日志只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AuditImmutable("审计日志只能追加，不能删除")


class AuditHead(models.Model):
    """The single row holding the last sequence number and hash; appends lock it to serialise writers."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    seq = models.BigIntegerField(default=0)
    hash = models.CharField(max_length=64, default="")
