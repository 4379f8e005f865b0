"""Models: approvals (one generic request/decision record), deadlines and schedules."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ApprovalRequest", "ApprovalDecision"]


class ApprovalRequest(models.Model):
    """A request that walks the pack's chain of steps (each step names a role). The owning app
    registers what happens on approval or rejection under `kind`."""

    class State(models.TextChoices):
        PENDING = "pending", _("审批中")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        CANCELLED = "cancelled", _("已撤回")

    kind = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=40)
    title = models.CharField(max_length=200)
    payload = models.JSONField(default=dict, blank=True)
    chain = models.JSONField(default=list)  # [{"role": "manager", "label": "部门经理"}, …], copied from the pack
    chain_source = models.CharField(max_length=300, blank=True, default="")  # the citation of the chain
    current_step = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="approval_requests")
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        indexes = [
            models.Index(fields=["state", "kind"], name="approval_state_kind_idx"),
            models.Index(fields=["target_type", "target_id"], name="approval_target_idx"),
        ]


class ApprovalDecision(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveSmallIntegerField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    comment = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)
