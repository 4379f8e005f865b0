"""Models: applied regulation packs, versioned with an effective date."""

from django.conf import settings
from django.db import models

__all__ = ["PackVersion"]


class PackVersion(models.Model):
    """One application of a pack: the fully resolved parameters (value + source per key) as applied.
    Decisions keep a foreign key to the version they were made under."""

    name = models.CharField(max_length=80)
    title = models.CharField(max_length=200)
    implements = models.JSONField(default=list)
    parameters = models.JSONField(default=dict)  # {"customers.review_cycle_months": {"value": 6, "source": "…", "required": false}}
    content_hash = models.CharField(max_length=64)
    effective_from = models.DateTimeField()
    applied_at = models.DateTimeField(auto_now_add=True)
    applied_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["-effective_from", "-id"]
        indexes = [models.Index(fields=["-effective_from", "-id"], name="packversion_effective_idx")]
