from django.contrib.auth.models import AbstractUser
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zhidu.kernel.access import MASKABLE_FIELDS, DataScope, SecretLevel

from . import permissions as perms


class Department(models.Model):
    """A node of the department tree. `path` is the materialised path of ids, e.g. "/1/4/9/",
    so a subtree is one indexed prefix query."""

    name = models.CharField(_("名称"), max_length=100)
    code = models.CharField(_("编码"), max_length=30, unique=True)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        verbose_name = _("部门")

    def __str__(self):
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2


class Role(models.Model):
    code = models.SlugField(_("编码"), max_length=40, unique=True)
    name = models.CharField(_("名称"), max_length=60)
    data_scope = models.CharField(_("数据范围"), max_length=12, choices=DataScope.choices, default=DataScope.OWN)
    permissions = models.JSONField(_("权限"), default=list, blank=True)
    unmasked_fields = models.JSONField(_("不脱敏字段"), default=list, blank=True)
    # The highest clearance a holder of this role may be given (S05 least privilege: the three
    # administrator roles stay at 公开 so they never read classified customer data).
    max_clearance = models.PositiveSmallIntegerField(
        _("最高密级许可"), choices=SecretLevel.choices, default=SecretLevel.TOP_SECRET
    )
    is_builtin = models.BooleanField(default=False)

    class Meta:
        ordering = ["code"]
        verbose_name = _("角色")

    def __str__(self):
        return self.label

    @property
    def label(self) -> str:
        """The name in the reader's language: built-in role names are translatable msgids."""
        return gettext(self.name) if self.is_builtin else self.name

    def clean(self):
        unknown = set(self.permissions) - set(perms.ALL)
        if unknown:
            raise ValidationError({"permissions": _("未知权限：%s") % ", ".join(sorted(unknown))})
        unknown_fields = set(self.unmasked_fields) - set(MASKABLE_FIELDS)
        if unknown_fields:
            raise ValidationError({"unmasked_fields": _("未知字段：%s") % ", ".join(sorted(unknown_fields))})
        combined = [p for p in perms.SEPARATED_ADMIN_DUTIES if p in self.permissions]
        if len(combined) > 1:
            raise ValidationError(
                {"permissions": _("系统管理员、安全管理员、审计员的职责不得兼任（S05）：%s") % ", ".join(combined)}
            )
        if perms.AUDIT_VIEW in self.permissions and set(self.permissions) != {perms.AUDIT_VIEW}:
            raise ValidationError({"permissions": _("审计员角色只能查看审计日志，不得兼有其他权限（S05）。")})
        if combined:
            writes = [p for p in perms.BUSINESS_WRITES if p in self.permissions]
            if writes:
                raise ValidationError(
                    {"permissions": _("管理员角色不得修改、导出、导入或移交业务数据（S05）：%s") % ", ".join(writes)}
                )
            if self.max_clearance != SecretLevel.PUBLIC:
                raise ValidationError({"max_clearance": _("系统管理员、安全管理员、审计员角色的最高密级许可只能是“公开”（S05）。")})

    @property
    def is_separated_admin(self) -> bool:
        return any(p in self.permissions for p in perms.SEPARATED_ADMIN_DUTIES)


class User(AbstractUser):
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    role = models.ForeignKey(Role, null=True, blank=True, on_delete=models.PROTECT, related_name="users")
    clearance = models.PositiveSmallIntegerField(_("密级许可"), choices=SecretLevel.choices, default=SecretLevel.PUBLIC)
    display_name = models.CharField(_("姓名"), max_length=60, blank=True)
    phone = models.CharField(_("手机"), max_length=20, blank=True)
    failed_logins = models.PositiveSmallIntegerField(default=0)
    locked_until = models.DateTimeField(null=True, blank=True)
    left_at = models.DateTimeField(_("离职时间"), null=True, blank=True)
    password_changed_at = models.DateTimeField(_("密码修改时间"), null=True, blank=True)

    class Meta:
        verbose_name = _("用户")
        indexes = [models.Index(fields=["department", "is_active"])]

    def __str__(self):
        return self.display_name or self.username

    def has_perm_code(self, code: str) -> bool:
        return bool(self.is_active and self.role and code in self.role.permissions)


class ApiToken(models.Model):
    """An API token; only its SHA-256 is stored. Disabling the user or revoking ends it at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="api_tokens")
    key_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=8)
    name = models.CharField(max_length=60, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)


class UserSession(models.Model):
    """Which session keys belong to which user, so disabling a user ends every session at once."""

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="sessions")
    session_key = models.CharField(max_length=40, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
