"""信用管理: a credit account per customer (grade, limit, terms, trade state, and the exposure summary kept
in step with every order and receivable write), orders, receivables, investigations, emergency
measures, business-registration change reports and a credit timeline."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

MONEY = {"max_digits": 16, "decimal_places": 2}


class TradeState(models.TextChoices):
    ACTIVE = "active", _("正常交易")
    SUSPENDED = "suspended", _("暂停供货")
    TERMINATED = "terminated", _("中止交易")


class CreditAccount(models.Model):
    """One per customer. `receivables_outstanding`, `open_orders`, `exposure`, `over_limit` and
    `oldest_unpaid_due_on` are a summary the services maintain in the same transaction as every order
    and receivable write (the row is locked first), so lists and filters never aggregate at read time."""

    customer = models.OneToOneField("customers.Customer", on_delete=models.CASCADE, related_name="credit_account", verbose_name=_("客户"))
    grade = models.CharField(_("信用等级"), max_length=10, blank=True, default="")
    credit_limit = models.DecimalField(_("信用额度"), default=0, **MONEY)
    payment_term_days = models.PositiveIntegerField(_("回款期限（天）"), default=0)
    trade_state = models.CharField(_("交易状态"), max_length=12, choices=TradeState.choices, default=TradeState.ACTIVE)
    trade_reason = models.CharField(_("暂停/中止原因"), max_length=500, blank=True, default="")
    trade_changed_at = models.DateTimeField(null=True, blank=True)
    trade_changed_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    receivables_outstanding = models.DecimalField(_("应收余额"), default=0, **MONEY)
    open_orders = models.DecimalField(_("未完成订单"), default=0, **MONEY)
    exposure = models.DecimalField(_("信用敞口"), default=0, **MONEY)
    over_limit = models.BooleanField(_("超额度"), default=False)
    oldest_unpaid_due_on = models.DateField(_("最早未付到期日"), null=True, blank=True)
    info_card = models.JSONField(_("客户信息资料卡"), default=dict, blank=True)
    next_investigation_on = models.DateField(_("下次信用调查"), null=True, blank=True)
    last_investigation_on = models.DateField(_("上次信用调查"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("信用账户")
        indexes = [
            models.Index(fields=["grade", "-id"], name="credit_acct_grade_idx"),
            models.Index(fields=["trade_state", "-id"], name="credit_acct_trade_idx"),
            models.Index(fields=["oldest_unpaid_due_on"], name="credit_acct_overdue_idx"),
            models.Index(fields=["over_limit", "-id"], name="credit_acct_over_idx"),
            models.Index(fields=["-exposure", "-id"], name="credit_acct_exposure_idx"),
            models.Index(fields=["next_investigation_on"], name="credit_acct_invest_idx"),
        ]

    def __str__(self):
        return f"{self.customer_id} {self.grade}"


class OrderState(models.TextChoices):
    PENDING = "pending", _("待信用审批")
    OPEN = "open", _("已接受")
    DELIVERED = "delivered", _("已发货")
    REFUSED = "refused", _("已拒绝")
    CANCELLED = "cancelled", _("已取消")


class Payment(models.TextChoices):
    CREDIT = "credit", _("赊销")
    CASH = "cash", _("现款")


class OrderSource(models.TextChoices):
    ENTERED = "entered", _("录入")
    IMPORTED = "imported", _("导入")
    API = "api", _("接口")


class CreditOrder(models.Model):
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="credit_orders", verbose_name=_("客户"))
    reference = models.CharField(_("订单号"), max_length=60)
    ordered_on = models.DateField(_("订购日期"))
    product = models.CharField(_("品名"), max_length=200)
    quantity = models.DecimalField(_("数量"), max_digits=14, decimal_places=3)
    unit_price = models.DecimalField(_("单价"), **MONEY)
    amount = models.DecimalField(_("金额"), **MONEY)
    payment = models.CharField(_("付款方式"), max_length=8, choices=Payment.choices, default=Payment.CREDIT)
    state = models.CharField(_("状态"), max_length=10, choices=OrderState.choices)
    source = models.CharField(_("来源"), max_length=10, choices=OrderSource.choices, default=OrderSource.ENTERED)
    # What the credit check found: {"needs_approval": bool, "reasons": [...], "exposure_before", "limit", …}
    check_result = models.JSONField(_("信用检查"), default=dict, blank=True)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    refuse_reason = models.CharField(_("拒绝原因"), max_length=500, blank=True, default="")
    delivered_on = models.DateField(_("发货日期"), null=True, blank=True)
    entered_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("订单")
        constraints = [models.UniqueConstraint(fields=["customer", "reference"], name="credit_order_ref_unique")]
        indexes = [
            models.Index(fields=["customer", "-id"], name="credit_order_cust_idx"),
            models.Index(fields=["state", "-id"], name="credit_order_state_idx"),
        ]

    def __str__(self):
        return self.reference


class ReceivableState(models.TextChoices):
    OPEN = "open", _("未结清")
    PAID = "paid", _("已结清")


class Receivable(models.Model):
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="receivables", verbose_name=_("客户"))
    order = models.ForeignKey(CreditOrder, null=True, blank=True, on_delete=models.PROTECT, related_name="receivables")
    reference = models.CharField(_("单据号"), max_length=60)
    amount = models.DecimalField(_("金额"), **MONEY)
    paid_amount = models.DecimalField(_("已收金额"), default=0, **MONEY)
    invoiced_on = models.DateField(_("开票日期"))
    due_on = models.DateField(_("到期日"))
    state = models.CharField(_("状态"), max_length=6, choices=ReceivableState.choices, default=ReceivableState.OPEN)
    source = models.CharField(_("来源"), max_length=10, choices=OrderSource.choices, default=OrderSource.ENTERED)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("应收账款")
        constraints = [models.UniqueConstraint(fields=["customer", "reference"], name="credit_recv_ref_unique")]
        indexes = [
            models.Index(fields=["customer", "state", "due_on"], name="credit_recv_cust_idx"),
            models.Index(fields=["state", "due_on"], name="credit_recv_due_idx"),
        ]

    @property
    def outstanding(self):
        return self.amount - self.paid_amount


class InvestigationChannel(models.TextChoices):
    BANK = "bank", _("金融机构（银行）调查")
    INDUSTRY = "industry", _("客户或行业组织调查")
    INTERNAL = "internal", _("内部调查")
    FIELD = "field", _("业务员实地调查")


class CreditInvestigation(models.Model):
    """A credit investigation and its report (客户信用调查报告, 篇3 第10–11条)."""

    class Kind(models.TextChoices):
        PERIODIC = "periodic", _("定期报告")
        EMERGENCY = "emergency", _("紧急报告")

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="credit_investigations")
    kind = models.CharField(_("类型"), max_length=10, choices=Kind.choices, default=Kind.PERIODIC)
    channel = models.CharField(_("调查渠道"), max_length=10, choices=InvestigationChannel.choices)
    investigated_on = models.DateField(_("调查日期"))
    summary = models.TextField(_("调查结论"))
    grade_before = models.CharField(max_length=10, blank=True, default="")
    grade_after = models.CharField(_("建议等级"), max_length=10, blank=True, default="")
    task_id = models.BigIntegerField(null=True, blank=True)  # the kernel ScheduledTask it fulfilled
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("信用调查")
        indexes = [models.Index(fields=["customer", "-id"], name="credit_inv_cust_idx")]


class MeasureKind(models.TextChoices):
    GUARANTOR = "guarantor", _("要求提供担保人和连带担保人")
    DEPOSIT = "deposit", _("增加信用保证金")
    NOTARISATION = "notarisation", _("交易合同公证")
    SUPPLY_LIMIT = "supply_limit", _("减少供货量或限制发货")
    SUBROGATION = "subrogation", _("代位偿债或代物偿债")
    COLLATERAL = "collateral", _("接受抵押物还债")
    GUARANTOR_CLAIM = "guarantor_claim", _("向担保人追债")


class EmergencyMeasure(models.Model):
    """A countermeasure for a customer whose credit has deteriorated (篇3 第11条 2.(2)); it needs the
    supervisor's explicit instruction (第11条 2.(1)), recorded in `instructed_by`."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="credit_measures")
    kind = models.CharField(_("措施"), max_length=16, choices=MeasureKind.choices)
    detail = models.CharField(_("说明"), max_length=500)
    amount = models.DecimalField(_("金额"), null=True, blank=True, **MONEY)
    instructed_by = models.CharField(_("上级主管指示"), max_length=100)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    lifted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("应急措施")
        indexes = [models.Index(fields=["customer", "-id"], name="credit_measure_cust_idx")]


class ChangeKind(models.TextChoices):
    LEGAL_REPRESENTATIVE = "legal_representative", _("变更法定代表人")
    CAPITAL = "capital", _("变更注册资本或股权结构")
    NAME_ADDRESS = "name_address", _("变更名称、住所、经营范围或联系方式")
    BRANCH = "branch", _("设立、合并或终止分支机构")
    BRANCH_CHANGE = "branch_change", _("变更分支机构的营业场所、负责人或经营范围")
    OPERATIONS = "operations", _("经营状况发生重大变化")
    LITIGATION = "litigation", _("发生诉讼案件或经济纠纷")
    DEREGISTRATION = "deregistration", _("注销")
    OTHER = "other", _("其他工商变更")


class RegistrationChange(models.Model):
    """A business-registration change of a customer (工商变更) that the customer must report (S01 duty;
    S09: within 10 working days). The deadline runs from the change; receiving the report meets it."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="registration_changes")
    kind = models.CharField(_("变更事项"), max_length=24, choices=ChangeKind.choices)
    description = models.CharField(_("变更内容"), max_length=500)
    changed_on = models.DateField(_("变更日期"))
    due_at = models.DateTimeField(_("报告期限"))
    reported_on = models.DateField(_("客户报告日期"), null=True, blank=True)
    late = models.BooleanField(_("逾期报告"), default=False)
    deadline_id = models.BigIntegerField(null=True, blank=True)
    source = models.CharField(max_length=300, blank=True, default="")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("工商变更报告")
        indexes = [
            models.Index(fields=["customer", "-id"], name="credit_regchg_cust_idx"),
            models.Index(fields=["reported_on", "due_at"], name="credit_regchg_open_idx"),
        ]
        constraints = [models.CheckConstraint(condition=Q(late=False) | Q(reported_on__isnull=False), name="credit_regchg_late_reported")]


class CreditEvent(models.Model):
    """The customer's credit history: grade and limit changes, trade stopped and resumed, measures."""

    customer = models.ForeignKey("customers.Customer", on_delete=models.CASCADE, related_name="credit_events")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=30)
    summary = models.CharField(max_length=500)
    details = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-id"], name="credit_event_cust_idx")]
