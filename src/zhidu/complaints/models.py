"""Complaints (投诉): one case per complaint with its timeline, investigation, remedy plans, return visits,
extension requests and penalties. The workflow, the taxonomy and the time limits come from the pack that
was in force when the case was registered (`policy` snapshot + `pack_version`); see policy.py.

Overdue filter: `next_due_at` is the earliest due time of the case's running or breached timers
(kernel Deadline rows), kept by the services whenever a timer starts, is met, paused, resumed or
extended. "Overdue" is `next_due_at <= now`: one range condition on an indexed column, right even
before the kernel sweep has marked the Deadline rows breached.
"""

import datetime as dt

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class Status(models.TextChoices):
    REGISTERED = "registered", _("已登记")
    REJECTED = "rejected", _("不成立（已答复）")
    ACCEPTED = "accepted", _("投诉成立")
    ASSIGNED = "assigned", _("处理中")
    INVESTIGATED = "investigated", _("已查明原因")
    PLAN_PENDING = "plan_pending", _("方案审批中")
    PLAN_APPROVED = "plan_approved", _("方案已批准")
    CARRIED_OUT = "carried_out", _("方案已实施")
    INFORMED = "informed", _("已告知客户")
    SATISFIED = "satisfied", _("客户满意，待结案")
    CLOSED = "closed", _("已结案")


OPEN_STATUSES = tuple(s for s in Status.values if s not in (Status.REJECTED, Status.CLOSED))


class Validity(models.TextChoices):
    PENDING = "pending", _("待判定")
    VALID = "valid", _("成立")
    INVALID = "invalid", _("不成立")


class Severity(models.TextChoices):
    GENERAL = "general", _("一般")
    MAJOR = "major", _("重大")


class Complaint(models.Model):
    tracking_no = models.CharField(_("受理编号"), max_length=30, unique=True)
    # Given to the complainant with the tracking number; with it (or the phone) the public page shows the case.
    access_code = models.CharField(max_length=12, editable=False)
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.SET_NULL, related_name="complaints", verbose_name=_("客户"))
    complainant_name = models.CharField(_("投诉人"), max_length=100)
    complainant_phone = models.CharField(_("电话"), max_length=30, blank=True, default="")
    complainant_email = models.CharField(_("电子邮箱"), max_length=254, blank=True, default="")
    complainant_address = models.CharField(_("地址"), max_length=300, blank=True, default="")
    complainant_type = models.CharField(_("投诉者类别"), max_length=40, blank=True, default="")
    motive = models.CharField(_("投诉心态"), max_length=40, blank=True, default="")
    subject = models.CharField(_("投诉对象/事由"), max_length=200)
    content = models.TextField(_("投诉内容"))
    incident_at = models.DateTimeField(_("事发时间"), null=True, blank=True)
    households_affected = models.PositiveIntegerField(_("涉及户数"), null=True, blank=True)
    channel = models.CharField(_("投诉方式"), max_length=40)
    category = models.CharField(_("投诉类别"), max_length=40, blank=True, default="")
    extra = models.JSONField(_("其他信息"), default=dict, blank=True)  # e.g. 车型、车牌 (S03)

    validity = models.CharField(_("是否成立"), max_length=10, choices=Validity.choices, default=Validity.PENDING)
    invalid_reason = models.CharField(_("不成立原因"), max_length=40, blank=True, default="")
    malicious = models.BooleanField(_("恶意投诉"), default=False)
    reply_text = models.TextField(_("答复客户"), blank=True, default="")
    time_barred = models.BooleanField(_("超过投诉时限"), default=False)
    severity = models.CharField(_("严重程度"), max_length=10, choices=Severity.choices, default=Severity.GENERAL)
    major_reasons = models.JSONField(_("重大投诉情形"), default=list, blank=True)

    receiver = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints_received", verbose_name=_("首问负责人"))
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints_owned", verbose_name=_("受理负责人"))
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="complaints", verbose_name=_("受理部门"))
    subject_staff = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="complaints_about", verbose_name=_("被投诉人"))
    subject_department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="complaints_about", verbose_name=_("被投诉部门"))

    status = models.CharField(_("状态"), max_length=14, choices=Status.choices, default=Status.REGISTERED)
    waiting_since = models.DateTimeField(_("等待投诉人自"), null=True, blank=True)
    round = models.PositiveSmallIntegerField(_("处理轮次"), default=1)
    escalated_at = models.DateTimeField(_("升级时间"), null=True, blank=True)
    priority_rank = models.PositiveSmallIntegerField(_("客户优先级"), null=True, blank=True)

    closing_summary = models.TextField(_("总结评价"), blank=True, default="")
    corrective_actions = models.TextField(_("纠正措施"), blank=True, default="")
    preventive_actions = models.TextField(_("预防措施"), blank=True, default="")
    closed_at = models.DateTimeField(_("结案时间"), null=True, blank=True)
    archive_after = models.DateTimeField(_("归档时间"), null=True, blank=True)
    archived = models.BooleanField(_("已归档"), default=False)
    archived_at = models.DateTimeField(_("归档于"), null=True, blank=True)

    # Timers (kernel Deadline rows) denormalised for lists and the API.
    first_response_due = models.DateTimeField(_("首次响应时限"), null=True, blank=True)
    resolution_due = models.DateTimeField(_("处理时限"), null=True, blank=True)
    next_due_at = models.DateTimeField(_("最近时限"), null=True, blank=True)

    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    policy = models.JSONField(default=dict, blank=True, editable=False)  # the pack's complaints.* values at registration
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(_("登记时间"), auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("投诉")
        indexes = [
            models.Index(fields=["status", "-id"], name="complaint_status_idx"),
            models.Index(fields=["department", "status", "-id"], name="complaint_dept_status_idx"),
            models.Index(fields=["owner", "status", "-id"], name="complaint_owner_status_idx"),
            models.Index(fields=["receiver", "-id"], name="complaint_receiver_idx"),
            models.Index(fields=["severity", "-id"], name="complaint_severity_idx"),
            models.Index(fields=["channel", "-id"], name="complaint_channel_idx"),
            models.Index(fields=["category", "-id"], name="complaint_category_idx"),
            models.Index(fields=["validity", "-id"], name="complaint_validity_idx"),
            models.Index(fields=["next_due_at"], name="complaint_next_due_idx"),
            models.Index(fields=["department", "next_due_at"], name="complaint_dept_due_idx"),
            models.Index(fields=["customer", "-id"], name="complaint_customer_idx"),
            models.Index(fields=["complainant_phone", "-id"], name="complaint_phone_idx"),
            models.Index(fields=["subject_staff", "-id"], name="complaint_subject_staff_idx"),
            models.Index(fields=["archived", "archive_after"], name="complaint_archive_idx"),
            models.Index(fields=["created_at"], name="complaint_created_idx"),
        ]

    def __str__(self):
        return self.tracking_no

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def overdue(self) -> bool:
        from django.utils import timezone

        return self.next_due_at is not None and self.next_due_at <= timezone.now()


class ComplaintEvent(models.Model):
    """One line of the case timeline: who did what, when, with a note. `public` lines are shown to the
    complainant on the tracking page."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=40)
    note = models.TextField(blank=True, default="")
    public = models.BooleanField(default=False)
    data = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["complaint", "id"], name="complaint_event_idx")]


class Decision(models.TextChoices):
    PENDING = "pending", _("审批中")
    APPROVED = "approved", _("已批准")
    REJECTED = "rejected", _("已驳回")
    CANCELLED = "cancelled", _("已撤回")


class Investigation(models.Model):
    """The handling department's findings (原因、具体职责人) for one handling round."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="investigations")
    round = models.PositiveSmallIntegerField(default=1)
    cause = models.TextField(_("原因"))
    findings = models.TextField(_("调查经过"), blank=True, default="")
    loopholes = models.TextField(_("管理漏洞"), blank=True, default="")
    responsible_user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("责任人"))
    responsible_department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("责任部门"))
    investigated_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["complaint", "id"], name="complaint_investigation_idx")]


class RemedyPlan(models.Model):
    """A handling plan (处理方案); with compensation it goes through the chain the pack's authority
    matrix picks for the amount."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="remedies")
    round = models.PositiveSmallIntegerField(default=1)
    description = models.TextField(_("处理方案"))
    compensation = models.DecimalField(_("赔偿/补偿金额（元）"), max_digits=12, decimal_places=2, default=0)
    state = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    carried_out_at = models.DateTimeField(null=True, blank=True)
    carry_out_note = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["complaint", "id"], name="complaint_remedy_idx")]


class ReturnVisit(models.Model):
    """A return visit (回访) after the complainant was informed: satisfied closes the loop, not satisfied
    reopens the case for another round."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="return_visits")
    round = models.PositiveSmallIntegerField(default=1)
    visited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    role_code = models.CharField(max_length=40, blank=True, default="")
    satisfied = models.BooleanField(_("是否满意"))
    note = models.TextField(_("谈话记录"), blank=True, default="")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["complaint", "id"], name="complaint_visit_idx")]


class ExtensionRequest(models.Model):
    """A request to extend the resolution time limit (特殊情况), approved through the pack's chain."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="extensions")
    amount = models.IntegerField(_("延长后的处理时限"))
    unit = models.CharField(max_length=20)
    reason = models.TextField(_("理由"))
    state = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["complaint", "id"], name="complaint_extension_idx")]
        constraints = [
            models.UniqueConstraint(fields=["complaint"], condition=Q(state="pending"), name="complaint_one_pending_extension"),
        ]


class Penalty(models.Model):
    """A penalty on the staff member a standing complaint is attributed to (fine in yuan or points),
    proposed for approval and, once approved, posted to the kernel ledger (account "staff:<id>")."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="penalties")
    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="complaint_penalties")
    amount = models.DecimalField(_("金额"), max_digits=12, decimal_places=2)
    unit = models.CharField(_("单位"), max_length=6)
    reason = models.CharField(_("事由"), max_length=300)
    citation = models.CharField(_("制度依据"), max_length=300)
    state = models.CharField(max_length=10, choices=Decision.choices, default=Decision.PENDING)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    ledger_entry = models.ForeignKey("kernel.LedgerEntry", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            models.Index(fields=["staff", "-id"], name="complaint_penalty_staff_idx"),
            models.Index(fields=["complaint", "id"], name="complaint_penalty_idx"),
        ]


class PendingTimer(models.Model):
    """A time limit that could not start at registration because the working-day calendar has no holiday
    data for a year it needs (`year`). It starts later, counted from `start_at`, once that year is entered
    (job complaints.timers.start_pending). Meanwhile the case may move on: `met_at` records the step that
    fulfilled it, `paused_at`/`paused_total` the time spent waiting for the complainant, so the started
    timer ends up where it would have been. The row is deleted when its timer starts."""

    complaint = models.ForeignKey(Complaint, on_delete=models.CASCADE, related_name="pending_timers")
    key = models.CharField(max_length=40)  # the pack's timer key ("first_response")
    start_at = models.DateTimeField()
    year = models.PositiveSmallIntegerField()  # the year the calendar lacks
    met_at = models.DateTimeField(null=True, blank=True)
    paused_at = models.DateTimeField(null=True, blank=True)
    paused_total = models.DurationField(default=dt.timedelta)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["year", "complaint"], name="complaint_pending_timer_idx")]
        constraints = [models.UniqueConstraint(fields=["complaint", "key"], name="complaint_one_pending_timer_per_key")]
