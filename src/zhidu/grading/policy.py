"""Pack parameters of customer grading: the grade scheme, the weighted criteria of the evaluation form,
the thresholds (blank in most seed texts: declared with no default), quotas, reviews, rights by grade
and the approval chain of grade changes.

Metrics a rule or criterion may read are the columns of `CustomerMetrics` listed in METRICS.
"""

from typing import Annotated, Literal

from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhidu.kernel.policy.schema import Param, Schema

# Numeric metrics (compared with gte/lte and scored in bands) and text metrics (eq/in and scored by map).
NUMERIC_METRICS = ("sales_amount", "sales_growth", "bed_count", "hospital_level", "overdue_count", "evaluation_score", "score")
TEXT_METRICS = ("nature", "size")
METRICS = NUMERIC_METRICS + TEXT_METRICS
# Thresholds a pack may leave blank: grading.threshold.<tier>.<metric>; tier t1 is the highest grade.
THRESHOLD_TIERS = ("t1", "t2", "t3")
THRESHOLD_METRICS = ("sales_amount", "sales_growth", "bed_count", "score")

Key = Annotated[str, Field(min_length=1, max_length=20)]


class Condition(BaseModel):
    """One test on a metric: `value` is fixed in the pack; `threshold` names a threshold slot
    ("t1.bed_count" → parameter grading.threshold.t1.bed_count) that the pack may leave blank."""

    model_config = ConfigDict(extra="forbid")

    metric: Literal[METRICS]  # type: ignore[valid-type]
    op: Literal["gte", "lte", "eq", "in"] = "gte"
    value: float | str | list[str] | None = None
    threshold: Annotated[str, Field(pattern=r"^t[123]\.(sales_amount|sales_growth|bed_count|score)$")] | None = None
    label: Annotated[str, Field(max_length=80)] = ""


def _condition_ok(cond: Condition) -> Condition:
    if (cond.value is None) == (cond.threshold is None):
        raise ValueError("a condition needs exactly one of value or threshold")
    if cond.metric in TEXT_METRICS and cond.op not in ("eq", "in"):
        raise ValueError(f"text metric {cond.metric} takes op eq or in")
    if cond.metric in NUMERIC_METRICS and cond.op not in ("gte", "lte"):
        raise ValueError(f"numeric metric {cond.metric} takes op gte or lte")
    if cond.threshold and cond.threshold.split(".")[1] != cond.metric:
        raise ValueError("the threshold slot must be of the condition's metric")
    return cond


Cond = Annotated[Condition, AfterValidator(_condition_ok)]


class Rules(BaseModel):
    """A customer qualifies for a grade when every `all_of` condition holds and, if `any_of` is given,
    at least one of those holds."""

    model_config = ConfigDict(extra="forbid")

    all_of: list[Cond] = []
    any_of: list[Cond] = []


class GradeDef(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=40)]
    label_en: Annotated[str, Field(max_length=60)] = ""
    # The order of the grade in the list is its rank: the first is the highest.
    priority_rank: Annotated[int, Field(ge=1, le=99)] | None = None  # "四优先" rank; None = no priority right
    visit_every_months: Annotated[int, Field(ge=1, le=24)] | None = None
    rules: Rules = Rules()


def _grades_ok(grades: list[GradeDef]) -> list[GradeDef]:
    if len(grades) < 2:
        raise ValueError("a grade scheme needs at least two grades")
    keys = [g.key for g in grades]
    if len(set(keys)) != len(keys):
        raise ValueError("grade keys must be unique")
    if grades[-1].rules.all_of or grades[-1].rules.any_of:
        raise ValueError("the last (lowest) grade takes every customer not in a higher grade: it has no rules")
    return grades


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid")

    min: float | None = None  # the band applies from this value up (numeric metrics)
    threshold: Annotated[str, Field(pattern=r"^t[123]\.(sales_amount|sales_growth|bed_count|score)$")] | None = None
    points: Annotated[float, Field(ge=0, le=100)]


class Criterion(BaseModel):
    """One line of the evaluation form: points 0–100 from bands (numeric) or a map (text), times weight.
    A numeric criterion without bands takes the metric's value itself as points (e.g. the total of the
    paper evaluation form, 0–100)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=80)]
    metric: Literal[METRICS]  # type: ignore[valid-type]
    weight: Annotated[float, Field(gt=0, le=100)]
    bands: list[Band] = []  # highest first is not required; the best matching band counts
    map: dict[str, Annotated[float, Field(ge=0, le=100)]] = {}
    lower_is_better: bool = False  # for overdue_count: bands apply "at most" instead of "at least"


def _criteria_ok(criteria: list[Criterion]) -> list[Criterion]:
    keys = [c.key for c in criteria]
    if len(set(keys)) != len(keys):
        raise ValueError("criterion keys must be unique")
    if criteria and abs(sum(c.weight for c in criteria) - 100) > 0.001:
        raise ValueError(f"criterion weights must add up to 100 (now {sum(c.weight for c in criteria):g})")
    for c in criteria:
        if c.metric in TEXT_METRICS and not c.map:
            raise ValueError(f"criterion {c.key}: a text metric is scored by a map")
        if c.metric == "score":
            raise ValueError(f"criterion {c.key}: the total score cannot be one of its own criteria")
        for band in c.bands:
            if (band.min is None) == (band.threshold is None):
                raise ValueError(f"criterion {c.key}: each band needs exactly one of min or threshold")
    return criteria


class Quota(BaseModel):
    model_config = ConfigDict(extra="forbid")

    grade: Key
    per: Literal["department", "product"]
    max_percent: Annotated[float, Field(gt=0, le=100)]
    enforcement: Literal["warn", "block"]


class ReviewWindow(BaseModel):
    model_config = ConfigDict(extra="forbid")

    month: Annotated[int, Field(ge=1, le=12)]
    day_from: Annotated[int, Field(ge=1, le=31)]
    day_to: Annotated[int, Field(ge=1, le=31)]


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(ge=1, le=365)]
    unit: Literal["calendar_days", "working_days", "hours", "working_hours"]


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Annotated[str, Field(min_length=1, max_length=40)]
    label: Annotated[str, Field(max_length=60)] = ""


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Annotated[str, Field(pattern=r"^\s*-?\d+\s+[a-z_]+\s*$")]
    notify: Annotated[str, Field(min_length=1, max_length=40)]


DEFAULT_GRADES = [
    {"key": "A", "label": "A类", "label_en": "A", "priority_rank": 1, "visit_every_months": 1,
     "rules": {"all_of": [{"metric": "score", "op": "gte", "value": 80}]}},
    {"key": "B", "label": "B类", "label_en": "B", "priority_rank": 2, "visit_every_months": 3,
     "rules": {"all_of": [{"metric": "score", "op": "gte", "value": 60}]}},
    {"key": "C", "label": "C类", "label_en": "C", "priority_rank": 3},
]
DEFAULT_CRITERIA = [
    {"key": "sales", "label": "年业务量", "metric": "sales_amount", "weight": 60,
     "bands": [{"min": 500, "points": 100}, {"min": 100, "points": 70}, {"min": 0, "points": 30}]},
    {"key": "payment", "label": "履约付款", "metric": "overdue_count", "weight": 40, "lower_is_better": True,
     "bands": [{"min": 0, "points": 100}, {"min": 2, "points": 50}]},
]

Grades = Annotated[list[GradeDef], AfterValidator(_grades_ok)]
Criteria = Annotated[list[Criterion], AfterValidator(_criteria_ok)]

_params = {
    "grades": Param(Grades, DEFAULT_GRADES, _("等级方案"),
                    _("自高到低列出各等级：key、名称、“四优先”优先级（1 最高，空 = 无）、拜访周期（月）、晋级条件（all_of 全部满足，any_of 满足其一）；最后一级为其余客户")),
    "criteria": Param(Criteria, DEFAULT_CRITERIA, _("评价表评分项"),
                      _("评价表的各项：指标、权重（合计 100）、分档（数值指标）或取值得分（文本指标）；总分 = Σ 权重 × 得分 / 100")),
    "evaluation_form": Param(Annotated[str, Field(min_length=1, max_length=80)], "客户评价表", _("评价表名称")),
    "review.form": Param(Annotated[str, Field(min_length=1, max_length=80)], "客户阶段评价表", _("阶段评审表名称")),
    "review.every_months": Param(Annotated[int, Field(ge=1, le=60)], 12, _("分级评审周期（月）")),
    "review.window": Param(ReviewWindow | None, None, _("评审时间窗口"), _("每年评审须在此月的起止日之间进行；空 = 不限")),
    "provisional_months": Param(Annotated[int, Field(ge=0, le=60)], 0, _("新客户暂定等级期（月）"),
                                _("合作不满此月数的客户，其等级为暂定；0 = 无暂定期")),
    "quotas": Param(list[Quota], [], _("等级比例上限"), _("每项：等级、按部门或按品种、最高百分比、超限时 warn 提醒 / block 阻止")),
    "discount_rates": Param(dict[str, Annotated[float, Field(gt=0, le=1)]], {}, _("等级折扣率"),
                            _("各等级享受的价格折扣率，如 0.9 表示九折")),
    "downgrade.deadline": Param(Period | None, None, _("降级办理时限"), _("评审确定降级后须在此期限内完成降级；空 = 无时限")),
    "downgrade.ladder": Param(list[LadderStep], [{"after": "0 hours", "notify": "owner"}], _("降级超时提醒阶梯")),
    "change.chain": Param(Annotated[list[ChainStep], Field(min_length=1)], [{"role": "dept_manager", "label": "部门经理"}],
                          _("等级变更审批链"), _("评审结果与单个客户升降级依次审批的角色")),
}

_TIER_LABELS = {"t1": _("第一级（最高等级）"), "t2": _("第二级"), "t3": _("第三级")}
_METRIC_LABELS = {
    "sales_amount": _("年业务量下限（万元）"),
    "sales_growth": _("销售增长率下限（%）"),
    "bed_count": _("病床位数下限（张）"),
    "score": _("评价总分下限"),
}
for _tier in THRESHOLD_TIERS:
    for _metric in THRESHOLD_METRICS:
        _params[f"threshold.{_tier}.{_metric}"] = Param(
            Annotated[float, Field(ge=0)], label=format_lazy("{}：{}", _TIER_LABELS[_tier], _METRIC_LABELS[_metric]),
            help=_("制度原文未给出的分级门槛；分级评审前须由管理员设定"))

SCHEMA = Schema("grading", _params)
