"""Customer grading: per-customer metrics (the inputs of the evaluation form), the current grade with
its "四优先" priority rank, grade history, reviews with their proposed changes, and single grade changes.

The grade scheme itself (keys, labels, criteria, quotas) lives in the applied pack (grading/policy.py).
"""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HospitalLevel(models.IntegerChoices):
    NONE = 0, _("无/不适用")
    LEVEL_1 = 1, _("一级")
    LEVEL_2B = 2, _("二级乙等")
    LEVEL_2A = 3, _("二级甲等")
    LEVEL_3B = 4, _("三级乙等")
    LEVEL_3A = 5, _("三级甲等")


class CustomerMetrics(models.Model):
    """The current evaluation inputs of one customer, entered on the grading page, by API or imported.
    The review reads this table set-based; `score` is written by the review."""

    customer = models.OneToOneField("customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="grading_metrics")
    sales_amount = models.DecimalField(_("年业务量（万元）"), max_digits=14, decimal_places=2, null=True, blank=True)
    sales_growth = models.DecimalField(_("销售增长率（%）"), max_digits=8, decimal_places=2, null=True, blank=True)
    bed_count = models.PositiveIntegerField(_("病床位数"), null=True, blank=True)
    hospital_level = models.PositiveSmallIntegerField(_("医院等级"), choices=HospitalLevel.choices, null=True, blank=True)
    overdue_count = models.PositiveIntegerField(_("违约记录数"), default=0, help_text=_("滞期付款、逾期未提货等违约记录"))
    evaluation_score = models.DecimalField(_("评价表得分"), max_digits=6, decimal_places=2, null=True, blank=True)
    nature = models.CharField(_("性质"), max_length=40, blank=True, default="")
    size = models.CharField(_("规模"), max_length=40, blank=True, default="")
    product = models.CharField(_("主要品种"), max_length=60, blank=True, default="")
    business_since = models.DateField(_("合作起始日期"), null=True, blank=True)
    score = models.DecimalField(_("评分"), max_digits=7, decimal_places=2, null=True, blank=True)
    scored_at = models.DateTimeField(null=True, blank=True)
    note = models.CharField(_("说明"), max_length=300, blank=True, default="")
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("客户评价指标")
        indexes = [models.Index(fields=["product"], name="grading_metrics_product_idx")]


class EvaluationRecord(models.Model):
    """One filled evaluation form (审核评价表 / 阶段评价表): the values entered and who entered them."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="grading_evaluations")
    form = models.CharField(_("评价表"), max_length=80)
    values = models.JSONField(default=dict)
    note = models.CharField(_("说明"), max_length=300, blank=True, default="")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    import_job = models.ForeignKey("kernel.ImportJob", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")

    class Meta:
        verbose_name = _("评价记录")
        indexes = [models.Index(fields=["customer", "-id"], name="grading_eval_customer_idx")]


class CustomerGrade(models.Model):
    """The grade in force for one customer. `priority_rank` is the "四优先" rank other modules sort by
    (1 = highest); `grade_order` is the position of the grade in the scheme (0 = highest)."""

    customer = models.OneToOneField("customers.Customer", primary_key=True, on_delete=models.CASCADE, related_name="grading_grade")
    grade = models.CharField(_("等级"), max_length=20)
    grade_order = models.PositiveSmallIntegerField(default=0)
    priority_rank = models.PositiveSmallIntegerField(_("优先级"), null=True, blank=True)
    provisional_until = models.DateField(_("暂定至"), null=True, blank=True)
    score = models.DecimalField(_("评分"), max_digits=7, decimal_places=2, null=True, blank=True)
    since = models.DateTimeField(_("定级时间"))
    citation = models.CharField(_("制度依据"), max_length=300, blank=True, default="")
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("客户等级")
        indexes = [
            models.Index(fields=["grade"], name="grading_grade_idx"),
            models.Index(fields=["priority_rank"], name="grading_priority_idx"),
        ]


class Review(models.Model):
    """A grading review (阶段评审 / 年度评定) over the customers of one department (or all): proposals
    computed set-based, decided by the pack's approval chain, then applied in one pass."""

    class State(models.TextChoices):
        DRAFT = "draft", _("待提交")
        SUBMITTED = "submitted", _("审批中")
        APPLIED = "applied", _("已生效")
        REJECTED = "rejected", _("已驳回")
        CANCELLED = "cancelled", _("已撤销")

    title = models.CharField(_("名称"), max_length=200)
    department = models.ForeignKey("org.Department", null=True, blank=True, on_delete=models.PROTECT, related_name="+", verbose_name=_("部门"))
    state = models.CharField(_("状态"), max_length=10, choices=State.choices, default=State.DRAFT)
    form = models.CharField(_("评价表"), max_length=80, blank=True, default="")
    citation = models.CharField(_("制度依据"), max_length=300, blank=True, default="")
    counts = models.JSONField(default=dict, blank=True)  # {"total", "up", "down", "same", "new", "over_quota", …}
    started_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    started_at = models.DateTimeField(auto_now_add=True)
    submitted_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    downgrade_due_at = models.DateTimeField(_("降级期限"), null=True, blank=True)
    schedule_task = models.ForeignKey("kernel.ScheduledTask", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("分级评审")
        indexes = [models.Index(fields=["state", "-id"], name="grading_review_state_idx")]


class ReviewItem(models.Model):
    class Change(models.TextChoices):
        NEW = "new", _("首次定级")
        UP = "up", _("升级")
        DOWN = "down", _("降级")
        SAME = "same", _("不变")

    review = models.ForeignKey(Review, on_delete=models.CASCADE, related_name="items")
    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="+")
    department_id = models.BigIntegerField()
    product = models.CharField(max_length=60, blank=True, default="")
    current_grade = models.CharField(max_length=20, blank=True, default="")
    current_order = models.PositiveSmallIntegerField(null=True, blank=True)
    eligible_grade = models.CharField(max_length=20)  # by the criteria alone, before quotas
    proposed_grade = models.CharField(max_length=20)
    proposed_order = models.PositiveSmallIntegerField(default=0)
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    change = models.CharField(max_length=4, choices=Change.choices, default=Change.SAME)
    quota_note = models.CharField(max_length=200, blank=True, default="")  # capped or over a warn quota
    provisional = models.BooleanField(default=False)
    excluded = models.BooleanField(default=False)  # the reviewer keeps the current grade for this customer
    evidence = models.CharField(_("依据材料"), max_length=500, blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["review", "customer"], name="grading_item_unique")]
        indexes = [
            models.Index(fields=["review", "change", "id"], name="grading_item_change_idx"),
            models.Index(fields=["review", "department_id", "proposed_grade"], name="grading_item_dept_idx"),
        ]


class GradeChange(models.Model):
    """A proposed upgrade or downgrade of one customer outside a review (e.g. a VIP with a serious
    problem in the stage), through the approval chain; a downgrade carries the pack's deadline."""

    class State(models.TextChoices):
        PENDING = "pending", _("审批中")
        APPLIED = "applied", _("已生效")
        REJECTED = "rejected", _("已驳回")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="grading_changes")
    from_grade = models.CharField(max_length=20, blank=True, default="")
    to_grade = models.CharField(max_length=20)
    is_downgrade = models.BooleanField(default=False)
    reason = models.CharField(_("原因"), max_length=300)
    evidence = models.CharField(_("依据材料"), max_length=500, blank=True, default="")
    citation = models.CharField(_("制度依据"), max_length=300, blank=True, default="")
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    proposed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    proposed_at = models.DateTimeField(auto_now_add=True)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    due_at = models.DateTimeField(null=True, blank=True)
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-id"], name="grading_change_customer_idx"),
                   models.Index(fields=["state", "-id"], name="grading_change_state_idx")]


class GradeHistory(models.Model):
    """Append-only: every grade a customer was given, why, by whom, on what evidence and article."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="grading_history")
    from_grade = models.CharField(max_length=20, blank=True, default="")
    to_grade = models.CharField(max_length=20)
    reason = models.CharField(_("原因"), max_length=300)
    evidence = models.CharField(_("依据材料"), max_length=500, blank=True, default="")
    citation = models.CharField(_("制度依据"), max_length=300, blank=True, default="")
    reviewer = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    review = models.ForeignKey(Review, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    change = models.ForeignKey(GradeChange, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    score = models.DecimalField(max_digits=7, decimal_places=2, null=True, blank=True)
    at = models.DateTimeField()
    pack_version = models.ForeignKey("kernel.PackVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        verbose_name = _("等级历史")
        indexes = [models.Index(fields=["customer", "-id"], name="grading_history_customer_idx")]
