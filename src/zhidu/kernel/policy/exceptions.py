"""Errors of the regulation-pack engine."""

from django.utils.translation import gettext_lazy as _

from zhidu.kernel.errors import ApiError


class UnknownParameter(LookupError):
    """A key that no app's schema declares: a programming error, not a user error."""

    def __init__(self, key: str):
        super().__init__(f"unknown pack parameter: {key} (not declared in any app's policy.py SCHEMA)")
        self.key = key


class ParameterMissing(ApiError):
    """The applied pack leaves this parameter to be set (its number is blank or garbled in the regulation
    text) and nobody has set it yet."""

    status = 409
    code = "parameter_missing"

    def __init__(self, key: str, source: str = "", note: str = ""):
        message = _("制度包参数 %(key)s 尚未设置：制度原文中此数值空缺或无法辨认，请管理员在“制度包”页面设置后再操作。") % {"key": key}
        super().__init__(message, details={"key": key, "source": source, "note": note})
        self.key = key
        self.source = source

    def __str__(self):
        return str(self.message)
