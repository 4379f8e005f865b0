"""客户准入与黑名单: admission applications with the pack's checklist, evidence and investigations, and
the company and department blacklists.

A customer enters the database (入库) only when its application is approved: the Customer row is
created then, with its code. Blacklist entries keep the name and identifiers of the customer as they
were when listed, so an application under the same 统一社会信用代码 or name is refused too.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class AdmissionState(models.TextChoices):
    DRAFT = "draft", _("填写中")
    SUBMITTED = "submitted", _("审批中")
    APPROVED = "approved", _("已准入")
    REJECTED = "rejected", _("已驳回")
    WITHDRAWN = "withdrawn", _("已撤回")


OPEN_STATES = (AdmissionState.DRAFT, AdmissionState.SUBMITTED)


class AdmissionApplication(models.Model):
    """One application of a candidate customer for admission, under the checklist the pack gives its
    customer type. The checklist (items, investigation stages, approval chain) is copied from the pack
    when the application is opened, with the citations, so a later pack change does not alter it."""

    checklist_key = models.CharField(_("准入清单"), max_length=40)
    checklist_label = models.CharField(max_length=100, blank=True, default="")
    checklist_source = models.CharField(max_length=300, blank=True, default="")
    stages = models.JSONField(default=list, blank=True)  # [{key, label, source, label_en}] in order
    chain = models.JSONField(default=list, blank=True)  # [{role, label}]
    chain_source = models.CharField(max_length=300, blank=True, default="")
    report_fields = models.JSONField(default=list, blank=True)  # [{key, label, source, label_en}]
    answers = models.JSONField(_("申请报告"), default=dict, blank=True)  # {report field key: text}
    pack_version_id = models.IntegerField(null=True, blank=True)

    customer_type = models.CharField(_("客户类型"), max_length=40)
    name = models.CharField(_("名称"), max_length=200)
    name_key = models.CharField(max_length=200, blank=True, default="", editable=False)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, default="")
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, default="")
    legal_representative = models.CharField(_("法定代表人"), max_length=60, blank=True, default="")
    address = models.CharField(_("地址"), max_length=300, blank=True, default="")
    region = models.CharField(_("地区"), max_length=60, blank=True, default="")
    industry = models.CharField(_("行业"), max_length=60, blank=True, default="")
    contact_name = models.CharField(_("联系人"), max_length=60, blank=True, default="")
    contact_phone = models.CharField(_("联系电话"), max_length=20, blank=True, default="")
    note = models.CharField(_("申请说明"), max_length=1000, blank=True, default="")

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("申请人"))
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+", verbose_name=_("部门"))
    state = models.CharField(_("状态"), max_length=10, choices=AdmissionState.choices, default=AdmissionState.DRAFT)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    customer = models.ForeignKey("customers.Customer", null=True, blank=True, on_delete=models.PROTECT, related_name="admissions")
    previous = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reapplications")
    rejection_reasons = models.JSONField(default=list, blank=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("准入申请")
        constraints = [
            # One open application per identifier at a time; a re-application opens after a rejection.
            models.UniqueConstraint(
                fields=["credit_code"], condition=~Q(credit_code="") & Q(state__in=["draft", "submitted"]), name="admission_open_credit_code_unique"
            ),
            models.UniqueConstraint(
                fields=["id_number"], condition=~Q(id_number="") & Q(state__in=["draft", "submitted"]), name="admission_open_id_number_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "-id"], name="admission_state_idx"),
            models.Index(fields=["department", "state", "-id"], name="admission_dept_state_idx"),
            models.Index(fields=["owner", "state", "-id"], name="admission_owner_state_idx"),
            models.Index(fields=["checklist_key", "-id"], name="admission_checklist_idx"),
            models.Index(fields=["credit_code"], name="admission_credit_code_idx"),
            models.Index(fields=["name_key"], name="admission_name_key_idx"),
        ]

    def __str__(self):
        return self.name

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES


class ChecklistItem(models.Model):
    """One condition of the checklist on one application: met or not, with a note and its evidence."""

    application = models.ForeignKey(AdmissionApplication, on_delete=models.CASCADE, related_name="items")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=300)
    label_en = models.CharField(max_length=300, blank=True, default="")
    source = models.CharField(max_length=300, blank=True, default="")
    evidence_required = models.BooleanField(default=True)
    evidence_hint = models.CharField(max_length=300, blank=True, default="")
    met = models.BooleanField(null=True, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True, default="")
    checked_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "position"]
        constraints = [models.UniqueConstraint(fields=["application", "key"], name="admission_item_key_unique")]


class SetupStep(models.Model):
    """A set-up step after approval (S04: contracts, notifying departments, payment method, filing)."""

    application = models.ForeignKey(AdmissionApplication, on_delete=models.CASCADE, related_name="setup_steps")
    position = models.PositiveSmallIntegerField(default=0)
    key = models.CharField(max_length=40)
    label = models.CharField(max_length=300)
    label_en = models.CharField(max_length=300, blank=True, default="")
    source = models.CharField(max_length=300, blank=True, default="")
    done_on = models.DateField(_("完成日期"), null=True, blank=True)
    note = models.CharField(_("说明"), max_length=500, blank=True, default="")
    done_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        ordering = ["application", "position"]
        constraints = [models.UniqueConstraint(fields=["application", "key"], name="admission_setup_key_unique")]


class Evidence(models.Model):
    """A document supporting one checklist item (营业执照, 资质证书, 决算表 …)."""

    application = models.ForeignKey(AdmissionApplication, on_delete=models.CASCADE, related_name="evidence")
    item = models.ForeignKey(ChecklistItem, on_delete=models.CASCADE, related_name="evidence")
    title = models.CharField(_("标题"), max_length=200)
    file = models.FileField(_("文件"), upload_to="admission-evidence/%Y/%m/")
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["item", "-id"], name="admission_evidence_item_idx")]


class Investigation(models.Model):
    """The record of one investigation stage (S04: 一般调查, then 实地调查)."""

    class Conclusion(models.TextChoices):
        PASS = "pass", _("符合")
        FAIL = "fail", _("不符合")

    application = models.ForeignKey(AdmissionApplication, on_delete=models.CASCADE, related_name="investigations")
    stage = models.CharField(_("调查阶段"), max_length=40)
    stage_label = models.CharField(max_length=100, blank=True, default="")
    conducted_on = models.DateField(_("调查日期"))
    investigators = models.CharField(_("调查人员"), max_length=300)
    findings = models.TextField(_("调查情况"), max_length=4000)
    conclusion = models.CharField(_("结论"), max_length=4, choices=Conclusion.choices)
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["application", "stage", "-id"], name="admission_investigation_idx")]


class BlacklistScope(models.TextChoices):
    COMPANY = "company", _("公司黑名单")
    DEPARTMENT = "department", _("部门黑名单")


class BlacklistState(models.TextChoices):
    ACTIVE = "active", _("生效中")
    EXPIRED = "expired", _("已到期")
    LIFTED = "lifted", _("已解除")
    READMITTED = "readmitted", _("已重新准入")


class BlacklistEntry(models.Model):
    """A customer on the company blacklist or on one department's blacklist. In force while ACTIVE and
    not past `valid_until` (the last day in force; empty = indefinite)."""

    scope = models.CharField(_("名单"), max_length=10, choices=BlacklistScope.choices)
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("部门"))
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="blacklist_entries", verbose_name=_("客户"))
    name = models.CharField(_("名称"), max_length=200)
    name_key = models.CharField(max_length=200, blank=True, default="")
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, default="")
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, default="")
    reason = models.CharField(_("列入原因"), max_length=1000)
    citation = models.CharField(_("依据"), max_length=300, blank=True, default="")
    pack_version_id = models.IntegerField(null=True, blank=True)
    listed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+", verbose_name=_("列入人"))
    listed_on = models.DateField(_("列入日期"))
    valid_until = models.DateField(_("有效期至"), null=True, blank=True)
    state = models.CharField(_("状态"), max_length=10, choices=BlacklistState.choices, default=BlacklistState.ACTIVE)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    end_reason = models.CharField(max_length=1000, blank=True, default="")
    version = models.PositiveIntegerField(default=1)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("黑名单")
        constraints = [
            models.CheckConstraint(
                condition=(Q(scope="company") & Q(department__isnull=True)) | (Q(scope="department") & Q(department__isnull=False)),
                name="blacklist_scope_department",
            ),
            # One listing in force per customer and list.
            models.UniqueConstraint(
                fields=["customer"], condition=Q(state="active", scope="company"), name="blacklist_company_active_unique"
            ),
            models.UniqueConstraint(
                fields=["customer", "department"], condition=Q(state="active", scope="department"), name="blacklist_dept_active_unique"
            ),
        ]
        indexes = [
            models.Index(fields=["state", "valid_until"], name="blacklist_expiry_idx"),
            models.Index(fields=["customer", "state"], name="blacklist_customer_idx"),
            models.Index(fields=["credit_code", "state"], name="blacklist_credit_code_idx"),
            models.Index(fields=["id_number", "state"], name="blacklist_id_number_idx"),
            models.Index(fields=["name_key", "state"], name="blacklist_name_key_idx"),
            models.Index(fields=["scope", "state", "-id"], name="blacklist_scope_state_idx"),
            models.Index(fields=["department", "state", "-id"], name="blacklist_dept_state_idx"),
        ]

    def __str__(self):
        return self.name


class ReentryRequest(models.Model):
    """A request to bring a blacklisted customer back into the customer list after a review
    (S01 五、3.5 c): approved along the pack's chain; the customer returns at the lowest grade."""

    class State(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")

    entry = models.ForeignKey(BlacklistEntry, on_delete=models.CASCADE, related_name="reentries")
    review = models.CharField(_("评审意见"), max_length=2000)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    decision_comment = models.CharField(max_length=500, blank=True, default="")
    grade = models.CharField(max_length=40, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["entry"], condition=Q(state="pending"), name="reentry_pending_unique")]
