"""Models: applied regulation packs, versioned with an effective date."""

from django.conf import settings
from django.db import models

__all__ = ["PackVersion"]


class PackVersion(models.Model):
    """One application of a pack: the fully resolved parameters (value + source per key) as applied.
    Rows are never changed: setting a parameter makes a new version. Decisions keep a foreign key to the
    version they were made under."""

    name = models.CharField(max_length=80)
    title = models.CharField(max_length=200)
    implements = models.JSONField(default=list)
    apps = models.JSONField(default=list)
    extends = models.JSONField(default=list)  # the chain of parent packs, nearest first
    # {"customers.review_cycle_months": {"value": 6, "source": "…", "required": false, "pack": "s01-prosthetics"}}
    parameters = models.JSONField(default=dict)
    content_hash = models.CharField(max_length=64)  # of the resolved parameters stored in this row
    pack_hash = models.CharField(max_length=64, blank=True, default="")  # of the pack files as loaded
    based_on = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    note = models.CharField(max_length=300, blank=True, default="")
    effective_from = models.DateTimeField()
    applied_at = models.DateTimeField(auto_now_add=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-effective_from", "-id"]
        indexes = [models.Index(fields=["-effective_from", "-id"], name="packversion_effective_idx")]

    def __str__(self):
        return f"{self.name} v{self.pk}"

    def unset_required(self) -> list[str]:
        return sorted(k for k, p in self.parameters.items() if p.get("required") and p.get("value") is None)
