"""Models: the append-only ledger of points and money, and its accounting periods."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["LedgerEntry", "LedgerPeriod", "LedgerImmutable"]


class LedgerImmutable(Exception):
    """Raised when code tries to change or remove a ledger entry; corrections are reversing entries."""


class LedgerQuerySet(models.QuerySet):
    def update(self, **kwargs):
        raise LedgerImmutable("台账只能追加，不能修改")

    def delete(self):
        raise LedgerImmutable("台账只能追加，不能删除")


class LedgerEntry(models.Model):
    class Unit(models.TextChoices):
        POINTS = "points", _("分")
        YUAN = "yuan", _("元")

    account = models.CharField(_("账户"), max_length=80)  # e.g. "staff:42", "customer:1001"
    period = models.CharField(_("期间"), max_length=7)  # "YYYY-MM"
    amount = models.DecimalField(_("金额"), max_digits=14, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=6, choices=Unit.choices)
    reason = models.CharField(_("事由"), max_length=300)
    citation = models.CharField(_("制度依据"), max_length=300)
    target_type = models.CharField(max_length=60, blank=True, default="")
    target_id = models.CharField(max_length=64, blank=True, default="")
    reverses = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reversals")
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    objects = LedgerQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        verbose_name = _("台账分录")
        indexes = [
            models.Index(fields=["account", "unit", "period"], name="ledger_account_idx"),
            models.Index(fields=["target_type", "target_id"], name="ledger_source_idx"),
        ]

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise LedgerImmutable("台账只能追加，不能修改")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise LedgerImmutable("台账只能追加，不能删除")


class LedgerPeriod(models.Model):
    period = models.CharField(max_length=7, unique=True)
    closed = models.BooleanField(default=False)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
