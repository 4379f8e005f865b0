from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from zhidu.kernel import policy


class CharacterClassValidator:
    """A password must mix letters and digits (密码须同时包含字母和数字)."""

    def validate(self, password, user=None):
        if not (any(c.isalpha() for c in password) and any(c.isdigit() for c in password)):
            raise ValidationError(_("密码须同时包含字母和数字。"), code="password_classes")

    def get_help_text(self):
        return _("密码须同时包含字母和数字。")


class PolicyMinimumLengthValidator:
    """The minimum length the applied pack sets (`org.password.min_length`, S05 第三十五条)."""

    def min_length(self) -> int:
        return int(policy.value("org.password.min_length"))

    def validate(self, password, user=None):
        minimum = self.min_length()
        if len(password) < minimum:
            raise ValidationError(
                ngettext("密码至少需要 %(min_length)d 个字符。", "密码至少需要 %(min_length)d 个字符。", minimum) % {"min_length": minimum},
                code="password_too_short",
            )

    def get_help_text(self):
        minimum = self.min_length()
        return ngettext("密码至少需要 %(min_length)d 个字符。", "密码至少需要 %(min_length)d 个字符。", minimum) % {"min_length": minimum}
