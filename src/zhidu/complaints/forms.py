"""Forms of the complaint pages. They only shape the input; the services validate it (against the
case's pack) and the views put the services' field errors back on the form.

The choices (channels, categories, reasons …) come from a pack: the one in force for a new case, the
case's own snapshot (`Complaint.policy`) for the steps of an existing case."""

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from zhidu.customers.forms import MarksInvalid, UserChoiceField

def option_label(option: dict) -> str:
    """A pack option's name in the active language."""
    if (get_language() or "").startswith("en") and option.get("label_en"):
        return option["label_en"]
    return option.get("label") or option.get("key", "")


def option_choices(options, *, blank: bool = True) -> list[tuple[str, str]]:
    choices = [(o["key"], option_label(o)) for o in options or [] if isinstance(o, dict) and o.get("key")]
    return [("", "—")] + choices if blank else choices


def _style(form: forms.Form, small: bool = False) -> None:
    for field in form.fields.values():
        widget = field.widget
        if isinstance(widget, forms.HiddenInput):
            continue
        if isinstance(widget, (forms.CheckboxInput, forms.RadioSelect, forms.CheckboxSelectMultiple)):
            widget.attrs.setdefault("class", "form-check-input")
        elif isinstance(widget, forms.Select):
            widget.attrs.setdefault("class", "form-select form-select-sm" if small else "form-select")
        else:
            widget.attrs.setdefault("class", "form-control form-control-sm" if small else "form-control")


class DepartmentChoiceField(forms.ModelChoiceField):
    def __init__(self, *args, **kwargs):
        kwargs.setdefault("empty_label", _("请选择"))
        super().__init__(*args, **kwargs)

    def label_from_instance(self, department):
        return department.name


# ---------------------------------------------------------------- registration (staff)


class RegisterForm(MarksInvalid, forms.Form):
    """The register (申诉和投诉处理登记表) as staff fill it in when a complaint comes in."""

    channel = forms.ChoiceField(label=_("投诉方式"))
    complainant_name = forms.CharField(label=_("投诉人"), max_length=100)
    complainant_phone = forms.CharField(label=_("电话"), max_length=30, required=False)
    complainant_email = forms.EmailField(label=_("电子邮箱"), required=False)
    complainant_address = forms.CharField(label=_("地址"), max_length=300, required=False)
    customer = forms.IntegerField(label=_("客户编号"), required=False, min_value=1, widget=forms.HiddenInput)
    subject = forms.CharField(label=_("投诉对象/事由"), max_length=200)
    content = forms.CharField(label=_("投诉内容"), widget=forms.Textarea(attrs={"rows": 5}))
    incident_at = forms.DateTimeField(
        label=_("事发时间"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    category = forms.ChoiceField(label=_("投诉类别"), required=False)
    major_reasons = forms.MultipleChoiceField(label=_("重大投诉情形"), required=False, widget=forms.CheckboxSelectMultiple)
    households_affected = forms.IntegerField(label=_("涉及户数"), required=False, min_value=1)
    complainant_type = forms.ChoiceField(label=_("投诉者类别"), required=False)
    motive = forms.ChoiceField(label=_("投诉心态"), required=False)
    subject_staff = UserChoiceField(label=_("被投诉人"), queryset=None, required=False)
    subject_department = DepartmentChoiceField(label=_("被投诉部门"), queryset=None, required=False)

    OPTION_FIELDS = {
        "channel": "channels",
        "category": "categories",
        "complainant_type": "complainant_types",
        "motive": "motives",
        "major_reasons": "major.reasons",
    }

    def __init__(self, *args, options: dict, staff, departments, **kwargs):
        super().__init__(*args, **kwargs)
        for name, key in self.OPTION_FIELDS.items():
            self.fields[name].choices = option_choices(options.get(key), blank=name not in ("channel", "major_reasons"))
            if not options.get(key) and name not in ("channel",):
                del self.fields[name]
        if "households_affected" in self.fields and not options.get("major.min_households"):
            del self.fields["households_affected"]
        self.fields["subject_staff"].queryset = staff
        self.fields["subject_department"].queryset = departments
        _style(self)

    def service_data(self) -> dict:
        data = dict(self.cleaned_data)
        for name in ("subject_staff", "subject_department"):
            data[name] = data[name].pk if data.get(name) else None
        if not data.get("customer"):
            data.pop("customer", None)
        if not data.get("incident_at"):
            data.pop("incident_at", None)
        return {key: value for key, value in data.items() if value not in ("", None) or key in ("complainant_name", "subject", "content")}


# ---------------------------------------------------------------- public page


class PublicComplaintForm(MarksInvalid, forms.Form):
    complainant_name = forms.CharField(label=_("您的姓名"), max_length=100)
    complainant_phone = forms.CharField(label=_("联系电话"), max_length=30, help_text=_("查询处理进度时需要填写此电话"))
    complainant_email = forms.EmailField(label=_("电子邮箱"), required=False)
    category = forms.ChoiceField(label=_("投诉类别"), required=False)
    subject = forms.CharField(label=_("投诉对象/事由"), max_length=200, help_text=_("例如：哪个门店、哪位员工、哪项服务"))
    content = forms.CharField(label=_("投诉内容"), max_length=5000, widget=forms.Textarea(attrs={"rows": 6}))
    incident_at = forms.DateTimeField(
        label=_("事发时间"), required=False, widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    )
    # A field people do not see; automated form fillers do. A submission with it filled is dropped.
    website = forms.CharField(required=False, widget=forms.TextInput(attrs={"tabindex": "-1", "autocomplete": "off"}))

    def __init__(self, *args, categories=(), **kwargs):
        super().__init__(*args, **kwargs)
        if categories:
            self.fields["category"].choices = option_choices([c for c in categories if not c.get("parent")])
        else:
            del self.fields["category"]
        _style(self)

    def service_data(self) -> dict:
        data = {k: v for k, v in self.cleaned_data.items() if k != "website" and v not in ("", None)}
        return data


class TrackForm(MarksInvalid, forms.Form):
    tracking_no = forms.CharField(label=_("受理编号"), max_length=30)
    code = forms.CharField(label=_("联系电话或查询码"), max_length=30, help_text=_("提交投诉时填写的电话，或页面上给出的查询码"))

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _style(self)

    def clean_tracking_no(self):
        return self.cleaned_data["tracking_no"].strip().upper()

    def clean_code(self):
        return self.cleaned_data["code"].strip()


# ---------------------------------------------------------------- workflow steps on the case page


class StepForm(MarksInvalid, forms.Form):
    """Every step form carries the case version it was shown with (optimistic locking)."""

    version = forms.IntegerField(widget=forms.HiddenInput)

    def __init__(self, *args, complaint=None, options=None, **kwargs):
        self.complaint = complaint
        self.options = options or {}
        super().__init__(*args, **kwargs)
        self.setup()
        _style(self, small=True)

    def setup(self):
        pass

    def arguments(self) -> dict:
        """Keyword arguments for the service (without version)."""
        return {k: v for k, v in self.cleaned_data.items() if k != "version"}


class DecideForm(StepForm):
    valid = forms.TypedChoiceField(
        label=_("是否成立"), coerce=lambda v: v == "1", choices=[("1", _("成立")), ("0", _("不成立"))], widget=forms.RadioSelect
    )
    reply_text = forms.CharField(label=_("答复投诉人"), required=False, widget=forms.Textarea(attrs={"rows": 3}), help_text=_("不成立时必填：委婉答复，取得谅解"))
    invalid_reason = forms.ChoiceField(label=_("不成立原因"), required=False)
    malicious = forms.BooleanField(label=_("恶意投诉"), required=False)
    category = forms.ChoiceField(label=_("投诉类别"), required=False)
    major_reasons = forms.MultipleChoiceField(label=_("重大投诉情形"), required=False, widget=forms.CheckboxSelectMultiple)

    def setup(self):
        for name, key in (("invalid_reason", "invalid_reasons"), ("category", "categories"), ("major_reasons", "major.reasons")):
            if self.options.get(key):
                self.fields[name].choices = option_choices(self.options[key], blank=name != "major_reasons")
            else:
                del self.fields[name]
        if self.complaint is not None and "category" in self.fields:
            self.fields["category"].initial = self.complaint.category
        if self.complaint is not None and "major_reasons" in self.fields:
            self.fields["major_reasons"].initial = list(self.complaint.major_reasons or [])

    def arguments(self) -> dict:
        data = super().arguments()
        if "category" in data and not data["category"]:
            data["category"] = None
        if "major_reasons" in data and not data["major_reasons"]:
            data["major_reasons"] = None
        return data


class ClassifyForm(StepForm):
    category = forms.ChoiceField(label=_("投诉类别"), required=False)
    major_reasons = forms.MultipleChoiceField(label=_("重大投诉情形"), required=False, widget=forms.CheckboxSelectMultiple)
    households_affected = forms.IntegerField(label=_("涉及户数"), required=False, min_value=1)
    complainant_type = forms.ChoiceField(label=_("投诉者类别"), required=False)
    motive = forms.ChoiceField(label=_("投诉心态"), required=False)

    def setup(self):
        for name, key in (
            ("category", "categories"), ("major_reasons", "major.reasons"), ("complainant_type", "complainant_types"), ("motive", "motives"),
        ):  # fmt: skip
            if self.options.get(key):
                self.fields[name].choices = option_choices(self.options[key], blank=name != "major_reasons")
            else:
                del self.fields[name]
        if not self.options.get("major.min_households"):
            del self.fields["households_affected"]
        c = self.complaint
        if c is not None:
            for name in ("category", "complainant_type", "motive", "households_affected"):
                if name in self.fields:
                    self.fields[name].initial = getattr(c, name)
            if "major_reasons" in self.fields:
                self.fields["major_reasons"].initial = list(c.major_reasons or [])

    def arguments(self) -> dict:
        data = super().arguments()
        if "major_reasons" in data:
            data["major_reasons"] = list(data["major_reasons"] or [])
        return {k: (v if v != "" else None) for k, v in data.items()}


class AssignForm(StepForm):
    department = DepartmentChoiceField(label=_("受理部门"), queryset=None)
    owner = UserChoiceField(label=_("受理负责人"), queryset=None)
    note = forms.CharField(label=_("说明"), required=False, max_length=500)

    def __init__(self, *args, departments=None, staff=None, **kwargs):
        self._departments, self._staff = departments, staff
        super().__init__(*args, **kwargs)

    def setup(self):
        self.fields["department"].queryset = self._departments
        self.fields["owner"].queryset = self._staff
        if self.complaint is not None:
            self.fields["department"].initial = self.complaint.department_id
            self.fields["owner"].initial = self.complaint.owner_id

    def arguments(self) -> dict:
        data = super().arguments()
        data["department"] = data["department"].pk
        data["owner"] = data["owner"].pk
        return data


class InvestigateForm(StepForm):
    cause = forms.CharField(label=_("投诉原因"), widget=forms.Textarea(attrs={"rows": 3}))
    findings = forms.CharField(label=_("调查经过"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    loopholes = forms.CharField(label=_("管理漏洞"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    responsible_user = UserChoiceField(label=_("具体职责人"), queryset=None, required=False)
    responsible_department = DepartmentChoiceField(label=_("责任部门"), queryset=None, required=False)
    penalty_amount = forms.DecimalField(label=_("建议处罚"), required=False, min_value=0, max_digits=12, decimal_places=2)

    def __init__(self, *args, departments=None, staff=None, **kwargs):
        self._departments, self._staff = departments, staff
        super().__init__(*args, **kwargs)

    def setup(self):
        self.fields["responsible_user"].queryset = self._staff
        self.fields["responsible_department"].queryset = self._departments
        penalty = self.options.get("penalty")
        if not penalty:
            del self.fields["penalty_amount"]
        else:
            self.fields["penalty_amount"].help_text = penalty_range(penalty)

    def arguments(self) -> dict:
        data = super().arguments()
        for name in ("responsible_user", "responsible_department"):
            data[name] = data[name].pk if data.get(name) else None
        return data


def penalty_range(penalty: dict) -> str:
    unit = _("元") if penalty.get("unit") == "yuan" else _("分")
    low, high = penalty.get("min"), penalty.get("max")
    if high:
        return _("范围 %(min)s–%(max)s %(unit)s") % {"min": _num(low), "max": _num(high), "unit": unit}
    return _("不少于 %(min)s %(unit)s") % {"min": _num(low), "unit": unit}


def _num(value) -> str:
    if value is None:
        return ""
    return str(int(value)) if float(value).is_integer() else str(value)


class RemedyForm(StepForm):
    description = forms.CharField(label=_("处理方案"), widget=forms.Textarea(attrs={"rows": 4}), help_text=_("参照客户的要求提出具体方案"))
    compensation = forms.DecimalField(label=_("赔偿/补偿金额（元）"), required=False, min_value=0, max_digits=12, decimal_places=2, initial=0)

    def arguments(self) -> dict:
        data = super().arguments()
        data["compensation"] = data.get("compensation") or 0
        return data


class NoteForm(StepForm):
    """carry_out, wait, resume: one note."""

    note = forms.CharField(label=_("说明"), widget=forms.Textarea(attrs={"rows": 2}))


class OptionalNoteForm(StepForm):
    note = forms.CharField(label=_("说明"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class InformForm(StepForm):
    message = forms.CharField(label=_("告知投诉人的处理结果"), widget=forms.Textarea(attrs={"rows": 3}))


class ReturnVisitForm(StepForm):
    satisfied = forms.TypedChoiceField(
        label=_("客户是否满意"), coerce=lambda v: v == "1", choices=[("1", _("满意")), ("0", _("不满意"))], widget=forms.RadioSelect
    )
    note = forms.CharField(label=_("谈话记录"), required=False, widget=forms.Textarea(attrs={"rows": 3}))


class ReasonForm(StepForm):
    reason = forms.CharField(label=_("原因"), widget=forms.Textarea(attrs={"rows": 2}))


class CloseForm(StepForm):
    summary = forms.CharField(label=_("总结评价"), widget=forms.Textarea(attrs={"rows": 3}))
    corrective_actions = forms.CharField(label=_("纠正措施"), required=False, widget=forms.Textarea(attrs={"rows": 2}))
    preventive_actions = forms.CharField(label=_("预防措施"), required=False, widget=forms.Textarea(attrs={"rows": 2}))


class ReportForm(StepForm):
    text = forms.CharField(label=_("报告内容"), widget=forms.Textarea(attrs={"rows": 3}))


class ExtensionForm(StepForm):
    amount = forms.IntegerField(label=_("延长后的处理时限"), min_value=1)
    reason = forms.CharField(label=_("理由"), widget=forms.Textarea(attrs={"rows": 2}))

    def setup(self):
        extension = self.options.get("extension") or {}
        if extension.get("max_amount"):
            self.fields["amount"].max_value = extension["max_amount"]
            self.fields["amount"].widget.attrs["max"] = extension["max_amount"]
            self.fields["amount"].initial = extension["max_amount"]


class PenaltyForm(StepForm):
    staff = UserChoiceField(label=_("被处罚员工"), queryset=None)
    amount = forms.DecimalField(label=_("金额"), required=False, min_value=0, max_digits=12, decimal_places=2)
    reason = forms.CharField(label=_("事由"), required=False, max_length=300)

    def __init__(self, *args, staff=None, **kwargs):
        self._staff = staff
        super().__init__(*args, **kwargs)

    def setup(self):
        self.fields["staff"].queryset = self._staff
        penalty = self.options.get("penalty")
        if penalty:
            self.fields["amount"].help_text = penalty_range(penalty)

    def arguments(self) -> dict:
        data = super().arguments()
        data["staff"] = data["staff"].pk
        if data.get("amount") is None:
            data.pop("amount", None)
        return data


class ApprovalDecisionForm(MarksInvalid, forms.Form):
    decision = forms.ChoiceField(choices=[("approve", "approve"), ("reject", "reject")])
    comment = forms.CharField(required=False, max_length=500)
    version = forms.IntegerField(required=False)
