"""Pack parameters of the org app: log-in lock-out, password length and age, idle session expiry."""

from typing import Annotated

from django.utils.translation import gettext_lazy as _
from pydantic import Field

from zhidu.kernel.policy.schema import Param, Schema

PositiveInt = Annotated[int, Field(ge=1)]

SCHEMA = Schema(
    "org",
    {
        "login.max_failures": Param(PositiveInt, 5, _("连续登录失败次数上限"), _("达到此次数后锁定账号")),
        "login.lockout_minutes": Param(PositiveInt, 30, _("账号锁定时长（分钟）")),
        "password.min_length": Param(Annotated[int, Field(ge=8, le=128)], 10, _("密码最小长度")),
        "session.idle_minutes": Param(PositiveInt, 480, _("会话空闲超时（分钟）")),
        # S05 第三十五条 "定期更换密码": 0 turns expiry off.
        "password.max_age_days": Param(Annotated[int, Field(ge=0, le=3650)], 0, _("密码有效期（天）"), _("超过此天数须修改密码后才能继续使用；0 表示不过期")),
    },
)
