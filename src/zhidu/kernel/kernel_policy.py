"""The kernel's own pack parameters: business hours and trading sessions for the calendar."""

from typing import Annotated

from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, StringConstraints

from zhidu.kernel.policy.schema import Param, Schema

HHMM = Annotated[str, StringConstraints(pattern=r"^([01]\d|2[0-3]):[0-5]\d$")]


def _ordered_periods(periods: list[tuple[str, str]]) -> list[tuple[str, str]]:
    # "HH:MM" strings compare in time order, so plain string comparison is enough.
    previous_end = ""
    for start, end in periods:
        if not start < end:
            raise ValueError(f"{start}-{end}: the start must be before the end")
        if start < previous_end:
            raise ValueError(f"{start}-{end} overlaps or is out of order")
        previous_end = end
    return periods


Periods = Annotated[list[tuple[HHMM, HHMM]], AfterValidator(_ordered_periods)]

SCHEMA = Schema(
    "calendar",
    {
        "business_hours": Param(
            Periods,
            [["09:00", "12:00"], ["13:00", "18:00"]],
            _("工作时间段"),
            _("按工作小时计算期限时使用；每段为 [开始, 结束]，格式 HH:MM，按时间顺序且不重叠"),
        ),
        "trading_sessions": Param(
            Periods,
            [["09:00", "11:30"], ["13:30", "15:00"]],
            _("交易时段"),
            _("按交易日和交易时段计算期限时使用；每段为 [开始, 结束]，格式 HH:MM"),
        ),
    },
)
