from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from zhidu.kernel.access import SecretLevel


class CustomerStatus(models.TextChoices):
    PROSPECT = "prospect", _("潜在")
    ADMITTED = "admitted", _("已准入")
    ACTIVE = "active", _("合作中")
    SUSPENDED = "suspended", _("暂停")
    BLACKLISTED = "blacklisted", _("黑名单")
    TERMINATED = "terminated", _("终止")


class Customer(models.Model):
    """One file per customer (一户一档). The customer types, code pattern and required fields come
    from the applied pack (customers/policy.py)."""

    customer_type = models.CharField(_("客户类型"), max_length=40)
    code = models.CharField(_("客户编码"), max_length=40, null=True, blank=True, unique=True)
    name = models.CharField(_("名称"), max_length=200)
    # Search helpers kept in step with `name` by the services: full pinyin and initials, lower case.
    name_pinyin = models.CharField(max_length=800, blank=True, default="", editable=False)
    name_initials = models.CharField(max_length=200, blank=True, default="", editable=False)
    # The name without punctuation, spaces and legal-form suffixes, for duplicate detection.
    name_key = models.CharField(max_length=200, blank=True, default="", editable=False, db_index=True)
    credit_code = models.CharField(_("统一社会信用代码"), max_length=18, blank=True, default="")
    id_number = models.CharField(_("身份证号"), max_length=18, blank=True, default="")
    legal_representative = models.CharField(_("法定代表人"), max_length=60, blank=True, default="")
    address = models.CharField(_("地址"), max_length=300, blank=True, default="")
    region = models.CharField(_("地区"), max_length=60, blank=True, default="")
    industry = models.CharField(_("行业"), max_length=60, blank=True, default="")
    scale = models.CharField(_("规模"), max_length=30, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="owned_customers", verbose_name=_("负责人"))
    department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="customers", verbose_name=_("部门"))
    status = models.CharField(_("状态"), max_length=12, choices=CustomerStatus.choices, default=CustomerStatus.PROSPECT)
    secret_level = models.PositiveSmallIntegerField(_("密级"), choices=SecretLevel.choices, default=SecretLevel.PUBLIC)
    extra = models.JSONField(_("其他字段"), default=dict, blank=True)
    next_review_on = models.DateField(_("下次复核日期"), null=True, blank=True)
    version = models.PositiveIntegerField(default=1)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("客户")
        constraints = [
            models.UniqueConstraint(fields=["credit_code"], condition=~Q(credit_code=""), name="customer_credit_code_unique"),
            models.UniqueConstraint(fields=["id_number"], condition=~Q(id_number=""), name="customer_id_number_unique"),
        ]
        indexes = [
            models.Index(fields=["department", "status", "-id"], name="customer_dept_status_idx"),
            models.Index(fields=["owner", "status", "-id"], name="customer_owner_status_idx"),
            models.Index(fields=["owner", "-id"], name="customer_owner_idx"),
            models.Index(fields=["customer_type", "-id"], name="customer_type_idx"),
            models.Index(fields=["region", "-id"], name="customer_region_idx"),
            models.Index(fields=["status", "-id"], name="customer_status_idx"),
            models.Index(fields=["name"], name="customer_name_idx"),
            # varchar_pattern_ops: PostgreSQL uses these for LIKE 'abc%' (prefix search); other databases ignore it.
            models.Index(fields=["name_initials"], name="customer_initials_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["name_pinyin"], name="customer_pinyin_idx", opclasses=["varchar_pattern_ops"]),
            models.Index(fields=["next_review_on"], name="customer_review_idx"),
        ]

    def __str__(self):
        return self.name


class Contact(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    name = models.CharField(_("姓名"), max_length=60)
    title = models.CharField(_("职务"), max_length=60, blank=True, default="")
    phone = models.CharField(_("电话"), max_length=20, blank=True, default="")
    # The phone's digits reversed, so "ends with 1234" is an indexed prefix search.
    phone_reversed = models.CharField(max_length=20, blank=True, default="", editable=False)
    email = models.EmailField(_("邮箱"), blank=True, default="")
    is_primary = models.BooleanField(_("主要联系人"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("联系人")
        indexes = [models.Index(fields=["phone_reversed"], name="contact_phone_rev_idx", opclasses=["varchar_pattern_ops"]), models.Index(fields=["phone"], name="contact_phone_idx")]

    def __str__(self):
        return self.name


class CustomerDocument(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="documents")
    title = models.CharField(_("标题"), max_length=200)
    file = models.FileField(_("文件"), upload_to="customer-documents/%Y/%m/")
    secret_level = models.PositiveSmallIntegerField(_("密级"), choices=SecretLevel.choices, default=SecretLevel.PUBLIC)
    uploaded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    uploaded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("客户文件")


class TimelineEvent(models.Model):
    """Every change and activity on a customer file, newest first."""

    class Kind(models.TextChoices):
        CREATED = "created", _("建档")
        UPDATED = "updated", _("修改")
        STATUS = "status", _("状态变更")
        TRANSFERRED = "transferred", _("移交")
        CONTACT = "contact", _("联系人")
        DOCUMENT = "document", _("文件")
        ACCESS = "access", _("查阅")
        ACTIVITY = "activity", _("活动")
        IMPORTED = "imported", _("导入")
        REVIEW = "review", _("复核")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="timeline")
    at = models.DateTimeField(auto_now_add=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    summary = models.CharField(max_length=300)
    changes = models.JSONField(default=dict, blank=True)

    class Meta:
        indexes = [models.Index(fields=["customer", "-id"], name="timeline_customer_idx")]


class Handover(models.Model):
    """All customers of a (leaving) staff member handed to others in one action."""

    from_user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(_("原因"), max_length=300)
    customer_count = models.PositiveIntegerField(default=0)
    # Files left with from_user because their level is above a receiver's clearance.
    kept_count = models.PositiveIntegerField(default=0)


class OwnershipTransfer(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="transfers")
    from_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    to_owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    from_department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    to_department = models.ForeignKey("org.Department", on_delete=models.PROTECT, related_name="+")
    by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField(auto_now_add=True)
    reason = models.CharField(_("原因"), max_length=300)
    handover = models.ForeignKey(Handover, null=True, blank=True, on_delete=models.PROTECT, related_name="transfers")


class CodeSequence(models.Model):
    """The next number for a customer-code prefix (per type and period), taken under a row lock."""

    prefix = models.CharField(max_length=40, unique=True)
    last_value = models.PositiveBigIntegerField(default=0)


class AccessRequest(models.Model):
    """A request to read (borrow) a customer file above one's clearance or outside one's scope;
    approved by the pack's chain into a time-limited grant."""

    class State(models.TextChoices):
        PENDING = "pending", _("待审批")
        APPROVED = "approved", _("已批准")
        REJECTED = "rejected", _("已驳回")
        EXPIRED = "expired", _("已到期")

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="access_requests")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(_("事由"), max_length=300)
    days = models.PositiveSmallIntegerField(_("借阅天数"))
    state = models.CharField(max_length=10, choices=State.choices, default=State.PENDING)
    approval = models.ForeignKey("kernel.ApprovalRequest", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    granted_until = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["requested_by", "customer", "state", "granted_until"], name="access_grant_idx")]
