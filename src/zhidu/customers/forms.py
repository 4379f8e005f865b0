"""Forms of the customer pages. They only shape the input; the services validate it and the views
put the services' field errors back on the form."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from zhidu.kernel.access import SecretLevel, user_clearance

from .models import CustomerStatus
from .validation import customer_types


def type_label(cfg: dict) -> str:
    """A pack customer type's name in the active language."""
    if (get_language() or "").startswith("en") and cfg.get("label_en"):
        return cfg["label_en"]
    return cfg.get("label") or cfg["key"]


def type_choices() -> list[tuple[str, str]]:
    return [(key, type_label(cfg)) for key, cfg in customer_types().items()]


def _secret_level_choices(user):
    return [(level.value, level.label) for level in SecretLevel if level.value <= user_clearance(user)]


class MarksInvalid:
    """Fields with errors get Bootstrap's is-invalid class, whether the form or a service found them."""

    def add_error(self, field, error):
        super().add_error(field, error)
        for name in self.errors:
            if name in self.fields:
                css = self.fields[name].widget.attrs.get("class", "")
                if "is-invalid" not in css.split():
                    self.fields[name].widget.attrs["class"] = f"{css} is-invalid".strip()


class CustomerForm(MarksInvalid, forms.Form):
    customer_type = forms.ChoiceField(label=_("客户类型"))
    name = forms.CharField(label=_("名称"), max_length=200)
    credit_code = forms.CharField(label=_("统一社会信用代码"), max_length=40, required=False)
    id_number = forms.CharField(label=_("身份证号"), max_length=40, required=False)
    legal_representative = forms.CharField(label=_("法定代表人"), max_length=60, required=False)
    address = forms.CharField(label=_("地址"), max_length=300, required=False)
    region = forms.CharField(label=_("地区"), max_length=60, required=False)
    industry = forms.CharField(label=_("行业"), max_length=60, required=False)
    scale = forms.CharField(label=_("规模"), max_length=30, required=False)
    secret_level = forms.TypedChoiceField(label=_("密级"), coerce=int)
    # Creating a file also records its first contact.
    contact_name = forms.CharField(label=_("联系人"), max_length=60, required=False)
    contact_title = forms.CharField(label=_("职务"), max_length=60, required=False)
    contact_phone = forms.CharField(label=_("联系电话"), max_length=40, required=False)
    contact_email = forms.EmailField(label=_("邮箱"), required=False)
    confirm_duplicate = forms.BooleanField(label=_("仍然创建"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    CONTACT_FIELDS = ("contact_name", "contact_title", "contact_phone", "contact_email")
    ARCHIVE_FIELDS = (
        "customer_type", "name", "credit_code", "id_number", "legal_representative",
        "address", "region", "industry", "scale", "secret_level",
    )

    def __init__(self, *args, user, editing=False, **kwargs):
        super().__init__(*args, **kwargs)
        self.editing = editing
        self.fields["customer_type"].choices = type_choices()
        self.fields["secret_level"].choices = _secret_level_choices(user)
        if editing:
            for name in (*self.CONTACT_FIELDS, "confirm_duplicate"):
                del self.fields[name]
        for field in self.fields.values():
            css = "form-select" if isinstance(field.widget, forms.Select) else "form-control"
            if isinstance(field.widget, forms.CheckboxInput):
                css = "form-check-input"
            field.widget.attrs.setdefault("class", css)

    def archive_data(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.ARCHIVE_FIELDS}

    def contact_data(self) -> dict | None:
        data = {name.removeprefix("contact_"): self.cleaned_data.get(name) or "" for name in self.CONTACT_FIELDS if name in self.fields}
        return data if any(data.values()) else None


class StatusForm(MarksInvalid, forms.Form):
    status = forms.ChoiceField(label=_("新状态"), widget=forms.Select(attrs={"class": "form-select form-select-sm"}))
    reason = forms.CharField(label=_("原因"), max_length=300, widget=forms.TextInput(attrs={"class": "form-control form-control-sm", "placeholder": _("原因（必填）")}))
    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, allowed, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["status"].choices = [(value, label) for value, label in CustomerStatus.choices if value in allowed]


class ReviewForm(MarksInvalid, forms.Form):
    note = forms.CharField(
        label=_("复核说明"),
        max_length=300,
        widget=forms.Textarea(attrs={"class": "form-control form-control-sm", "rows": 2, "placeholder": _("复核了哪些内容、有何更新（必填）")}),
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class DocumentForm(MarksInvalid, forms.Form):
    title = forms.CharField(label=_("标题"), max_length=200, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    file = forms.FileField(label=_("文件"), widget=forms.ClearableFileInput(attrs={"class": "form-control form-control-sm"}))
    secret_level = forms.TypedChoiceField(label=_("密级"), coerce=int, widget=forms.Select(attrs={"class": "form-select form-select-sm"}))

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["secret_level"].choices = _secret_level_choices(user)


class ContactForm(MarksInvalid, forms.Form):
    name = forms.CharField(label=_("姓名"), max_length=60, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    title = forms.CharField(label=_("职务"), max_length=60, required=False, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    phone = forms.CharField(label=_("电话"), max_length=40, required=False, widget=forms.TextInput(attrs={"class": "form-control form-control-sm"}))
    email = forms.EmailField(label=_("邮箱"), required=False, widget=forms.EmailInput(attrs={"class": "form-control form-control-sm"}))
    is_primary = forms.BooleanField(label=_("主要联系人"), required=False, widget=forms.CheckboxInput(attrs={"class": "form-check-input"}))


class UserChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_label", _("请选择"))
        super().__init__(*args, **kwargs)

    def label_from_instance(self, user):
        department = f" · {user.department}" if user.department_id else ""
        return f"{user}{department}"


class TransferForm(MarksInvalid, forms.Form):
    to_owner = UserChoiceField(label=_("新负责人"), queryset=None, widget=forms.Select(attrs={"class": "form-select"}))
    reason = forms.CharField(label=_("原因"), max_length=300, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}))
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["to_owner"].queryset = users


class HandoverForm(MarksInvalid, forms.Form):
    from_user = UserChoiceField(label=_("交出客户的员工"), queryset=None, widget=forms.Select(attrs={"class": "form-select"}))
    to_owner = UserChoiceField(label=_("接手的员工"), queryset=None, widget=forms.Select(attrs={"class": "form-select"}))
    reason = forms.CharField(label=_("原因"), max_length=300, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}))

    def __init__(self, *args, from_users, to_users, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["from_user"].queryset = from_users
        self.fields["to_owner"].queryset = to_users

    def clean(self):
        cleaned = super().clean()
        if cleaned.get("from_user") and cleaned.get("from_user") == cleaned.get("to_owner"):
            self.add_error("to_owner", _("接手的员工不能是交出客户的员工本人"))
        return cleaned


class AccessRequestForm(MarksInvalid, forms.Form):
    reason = forms.CharField(label=_("事由"), max_length=300, widget=forms.Textarea(attrs={"class": "form-control", "rows": 3}))
    days = forms.IntegerField(label=_("借阅天数"), min_value=1, max_value=365, initial=3, widget=forms.NumberInput(attrs={"class": "form-control"}))
    code = forms.CharField(
        label=_("客户编码"),
        required=False,
        max_length=40,
        help_text=_("档案不在您的数据范围内时，须填写准确的客户编码"),
        widget=forms.TextInput(attrs={"class": "form-control"}),
    )
