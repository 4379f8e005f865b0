"""Forms of the org pages. They only shape input; the services validate and write."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from zhidu.kernel.access import MASKABLE_FIELDS, DataScope, SecretLevel

from . import permissions as perms
from .models import Department, Role

FIELD_LABELS = {"phone": _("手机/电话"), "id_number": _("身份证号"), "bank_account": _("银行账号")}


def apply_errors(form: forms.Form, exc: ValidationError) -> None:
    """Puts a service's ValidationError on the form, field by field."""
    if hasattr(exc, "error_dict"):
        for field, messages in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, exc.messages)


class LoginForm(forms.Form):
    username = forms.CharField(label=_("用户名"), max_length=150, widget=forms.TextInput(attrs={"autofocus": True, "autocomplete": "username"}))
    password = forms.CharField(label=_("密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))


class PasswordChangeForm(forms.Form):
    old_password = forms.CharField(label=_("原密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}))
    new_password = forms.CharField(label=_("新密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))
    new_password2 = forms.CharField(label=_("确认新密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    def clean(self):
        data = super().clean()
        if data.get("new_password") and data.get("new_password2") and data["new_password"] != data["new_password2"]:
            self.add_error("new_password2", _("两次输入的新密码不一致。"))
        return data


class ProfileForm(forms.Form):
    display_name = forms.CharField(label=_("姓名"), max_length=60, required=False)
    email = forms.EmailField(label=_("邮箱"), required=False)
    phone = forms.CharField(label=_("手机"), max_length=20, required=False)


def department_choices():
    from .selectors import departments_tree

    return [("", "—")] + [(node.department.pk, "\u3000" * node.depth + node.department.name) for node in departments_tree()]


class UserForm(ProfileForm):
    department = forms.TypedChoiceField(label=_("部门"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["department"].choices = department_choices()

    def clean_department(self):
        pk = self.cleaned_data.get("department")
        return Department.objects.filter(pk=pk).first() if pk else None


class UserCreateForm(UserForm):
    username = forms.CharField(label=_("用户名"), max_length=150)
    password = forms.CharField(label=_("初始密码"), strip=False, widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}))

    field_order = ["username", "password", "display_name", "department", "phone", "email"]


class UserAccessForm(forms.Form):
    """The security admin's form: role and clearance."""

    role = forms.TypedChoiceField(label=_("角色"), required=False, coerce=int, empty_value=None)
    clearance = forms.TypedChoiceField(label=_("密级许可"), choices=SecretLevel.choices, coerce=int)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = [("", "—")] + [(role.pk, role.label) for role in Role.objects.order_by("-is_builtin", "code")]

    def clean_role(self):
        pk = self.cleaned_data.get("role")
        return Role.objects.filter(pk=pk).first() if pk else None


class DepartmentCreateForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=100)
    code = forms.CharField(label=_("编码"), max_length=30)
    parent = forms.TypedChoiceField(label=_("上级部门"), required=False, coerce=int, empty_value=None)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["parent"].choices = department_choices()

    def clean_parent(self):
        pk = self.cleaned_data.get("parent")
        return Department.objects.filter(pk=pk).first() if pk else None


class DepartmentEditForm(DepartmentCreateForm):
    code = None


class RoleForm(forms.Form):
    name = forms.CharField(label=_("名称"), max_length=60)
    data_scope = forms.ChoiceField(label=_("数据范围"), choices=DataScope.choices)
    permissions = forms.MultipleChoiceField(label=_("权限"), required=False, widget=forms.CheckboxSelectMultiple, choices=list(perms.ALL.items()))
    unmasked_fields = forms.MultipleChoiceField(
        label=_("不脱敏字段"), required=False, widget=forms.CheckboxSelectMultiple, choices=[(f, FIELD_LABELS[f]) for f in MASKABLE_FIELDS]
    )
    max_clearance = forms.TypedChoiceField(label=_("最高密级许可"), choices=SecretLevel.choices, coerce=int)


class RoleCreateForm(RoleForm):
    code = forms.SlugField(label=_("编码"), max_length=40)

    field_order = ["code", "name"]
