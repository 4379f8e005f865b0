"""Models: approvals (one generic request/decision record), deadlines and schedules."""

from datetime import timedelta

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

__all__ = ["ApprovalRequest", "ApprovalDecision", "Deadline", "ScheduledTask"]


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
    current_role = models.CharField(max_length=40, blank=True, default="")  # chain[current_step]["role"] while pending
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
            models.Index(fields=["state", "current_role", "-id"], name="approval_pending_role_idx"),
        ]


class ApprovalDecision(models.Model):
    request = models.ForeignKey(ApprovalRequest, on_delete=models.CASCADE, related_name="decisions")
    step = models.PositiveSmallIntegerField()
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    approved = models.BooleanField()
    comment = models.CharField(max_length=500, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]


class Deadline(models.Model):
    """A timer on any record, computed from a pack parameter and the working-day calendar."""

    class State(models.TextChoices):
        DUE = "due", _("进行中")
        PAUSED = "paused", _("已暂停")
        MET = "met", _("已按时完成")
        BREACHED = "breached", _("已超时")

    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64)
    policy_key = models.CharField(max_length=100)
    title = models.CharField(max_length=200, blank=True, default="")  # shown in escalation notices
    link = models.CharField(max_length=500, blank=True, default="")
    started_at = models.DateTimeField()
    amount = models.IntegerField()
    unit = models.CharField(max_length=20)
    due_at = models.DateTimeField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.DUE)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_total = models.DurationField(default=timedelta)
    met_at = models.DateTimeField(null=True, blank=True)
    breached_at = models.DateTimeField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True, default="")  # the citation of the time limit
    # Escalation ladder copied from the pack at start: [{"after": "0 hours", "notify": "owner"}, …]
    ladder = models.JSONField(default=list, blank=True)
    ladder_source = models.CharField(max_length=300, blank=True, default="")
    escalation_level = models.PositiveSmallIntegerField(default=0)  # ladder steps already run
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("时限")
        indexes = [
            models.Index(fields=["state", "due_at"], name="deadline_state_due_idx"),
            models.Index(fields=["state", "next_escalation_at"], name="deadline_state_escalate_idx"),
            models.Index(fields=["target_type", "target_id"], name="deadline_target_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["target_type", "target_id", "policy_key"],
                condition=models.Q(state__in=["due", "paused"]),
                name="deadline_one_open_per_key",
            )
        ]


class ScheduledTask(models.Model):
    """A recurring obligation of the regulation (review every 6 months, visit monthly) as a dated task."""

    class State(models.TextChoices):
        OPEN = "open", _("待办")
        DONE = "done", _("已完成")
        CANCELLED = "cancelled", _("已取消")

    kind = models.CharField(max_length=60)
    target_type = models.CharField(max_length=60)
    target_id = models.CharField(max_length=64)
    title = models.CharField(max_length=200, blank=True, default="")
    due_on = models.DateField()
    state = models.CharField(max_length=10, choices=State.choices, default=State.OPEN)
    recurrence = models.JSONField(null=True, blank=True)  # {"amount": 6, "unit": "months"} or null for one-off
    source = models.CharField(max_length=300, blank=True, default="")
    assignee = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="scheduled_tasks")
    previous = models.OneToOneField("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="next_task")
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("计划任务")
        indexes = [
            models.Index(fields=["state", "due_on"], name="schedtask_state_due_idx"),
            models.Index(fields=["target_type", "target_id"], name="schedtask_target_idx"),
            models.Index(fields=["assignee", "state", "due_on"], name="schedtask_assignee_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["kind", "target_type", "target_id"],
                condition=models.Q(state="open"),
                name="schedtask_one_open_per_kind",
            )
        ]
