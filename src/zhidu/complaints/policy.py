"""Pack parameters of complaint handling: channels and taxonomy, what makes a complaint major, the steps
of the workflow and who may do them, the time limits and their escalation ladders, the authority matrix
for remedies, extensions, return visits and reopening, penalties on staff, and archiving.

Every value is copied onto a case when it is registered (Complaint.policy), so applying another pack
changes new cases only.

Steps (complaints.steps), usually in this order; a pack keeps the ones its text has and may move
validity later (S23 judges validity after the investigation) or the plan earlier:
    validity     决定投诉是否成立 (not standing: reply to the complainant, case ends)    always
    assign       确定受理部门和负责人                                                 always
    investigate  查明原因及具体职责人                                                 optional
    remedy       提出处理方案并报批 (approval chain from remedy.chains)                optional
    carry_out    实施处理方案                                                         always
    inform       通知客户处理结果                                                     optional
    return_visit 回访/满意度 (not satisfied: reopen, another round)                  optional
    close        结案 (summary, corrective and preventive actions)                   always

Timers (complaints.deadlines): each {key, label, start, amount, unit, met_by, when, ladder}. `start` is the
event that starts the clock: register, accept (validity decided as standing), major (the case becomes
major), carry_out, inform. `met_by` is the step or action that fulfils it (a step above, or "report" /
"major_report"). `when`: any, general or major cases only. `unit`: a calendar unit, or "same_day" (until
24:00 of the start day). Keys "first_response" and "resolution" are shown as the case's first-response
and resolution due times; the extension request extends "resolution".
"""

from typing import Annotated, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhidu.kernel.calendar import UNITS
from zhidu.kernel.policy.schema import Param, Schema

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
RoleCode = Annotated[str, Field(min_length=1, max_length=40)]
TimerUnit = Literal[UNITS + ("same_day",)]  # type: ignore[valid-type]

STEPS = ("validity", "assign", "investigate", "remedy", "carry_out", "inform", "return_visit", "close")
REQUIRED_STEPS = ("validity", "assign", "carry_out", "close")
TIMER_STARTS = ("register", "accept", "major", "carry_out", "inform")
TIMER_MET_BY = STEPS + ("report", "major_report")


class Option(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=60)]
    label_en: Annotated[str, Field(max_length=80)] = ""


class Category(Option):
    parent: Annotated[str, Field(max_length=40)] = ""  # key of the parent category, "" at the top


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: RoleCode
    label: Annotated[str, Field(max_length=60)] = ""


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Annotated[str, Field(pattern=r"^\s*-?\d+\s+[a-z_]+\s*$")]
    notify: RoleCode  # "owner", "manager" or a role code


class Timer(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=60)]
    start: Literal[TIMER_STARTS] = "register"  # type: ignore[valid-type]
    amount: Annotated[int, Field(ge=0, le=10000)]
    unit: TimerUnit
    met_by: Literal[TIMER_MET_BY]  # type: ignore[valid-type]
    when: Literal["any", "general", "major"] = "any"
    ladder: list[LadderStep] = []


class RemedyChain(BaseModel):
    """One row of the authority matrix (权限核决表): the first row whose severity fits and whose
    max_amount (yuan, inclusive; null = no upper bound) is not below the compensation decides."""

    model_config = ConfigDict(extra="forbid")

    severity: Literal["any", "general", "major"] = "any"
    max_amount: Annotated[float, Field(ge=0)] | None = None
    chain: list[ChainStep]  # empty: the regulation names no approver, the plan stands when proposed


class Extension(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_amount: Annotated[int, Field(ge=1, le=10000)]  # the resolution limit may be extended up to this
    unit: Literal[UNITS]  # type: ignore[valid-type]
    chain: Annotated[list[ChainStep], Field(min_length=1)]


class ReturnVisit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    escalate_after: Annotated[int, Field(ge=1, le=100)] | None = None  # unsatisfied rounds before escalating
    notify: list[RoleCode] = []  # told when the case escalates: role codes, or "owner" / "manager" of the case


class Penalty(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Literal["yuan", "points"]
    min: Annotated[float, Field(gt=0)]
    max: Annotated[float, Field(gt=0)] | None = None
    default: Annotated[float, Field(gt=0)] | None = None  # proposed when the investigator names no amount
    chain: Annotated[list[ChainStep], Field(min_length=1)]

    def model_post_init(self, _context):
        if self.max is not None and self.max < self.min:
            raise ValueError("penalty max is below min")
        if self.default is not None and (self.default < self.min or (self.max is not None and self.default > self.max)):
            raise ValueError("penalty default is outside min..max")


class MajorRepeat(BaseModel):
    model_config = ConfigDict(extra="forbid")

    count: Annotated[int, Field(ge=2, le=100)]  # this many complaints by the same complainant …
    within_days: Annotated[int, Field(ge=1, le=3650)]  # … within this many days (this one included)


class TimeBar(BaseModel):
    model_config = ConfigDict(extra="forbid")

    categories: Annotated[list[Key], Field(min_length=1)]
    amount: Annotated[int, Field(ge=1)]
    unit: Literal[UNITS]  # type: ignore[valid-type]


class Archive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(ge=0, le=1200)]
    unit: Literal["calendar_days", "months", "year_end"]  # year_end: on 1 January after the closing year


def _unique(options):
    keys = [o.key for o in options]
    if len(set(keys)) != len(keys):
        raise ValueError("keys must be unique")
    return options


def _categories_ok(categories):
    _unique(categories)
    keys = {c.key for c in categories}
    for c in categories:
        if c.parent and c.parent not in keys:
            raise ValueError(f"category {c.key}: unknown parent {c.parent}")
    return categories


def _steps_ok(steps):
    if len(set(steps)) != len(steps):
        raise ValueError("steps must be unique")
    missing = [s for s in REQUIRED_STEPS if s not in steps]
    if missing:
        raise ValueError("steps must include " + ", ".join(missing))
    position = {step: index for index, step in enumerate(steps)}
    if steps[-1] != "close":
        raise ValueError("close must be the last step")
    for later in ("investigate", "remedy", "carry_out"):
        if later in position and position[later] < position["assign"]:
            raise ValueError(f"{later} must come after assign")
    for step in ("validity", "remedy", "investigate"):
        if step in position and position[step] > position["carry_out"]:
            raise ValueError(f"{step} must come before carry_out")
    for step in ("inform", "return_visit"):
        if step in position and position[step] < position["carry_out"]:
            raise ValueError(f"{step} must come after carry_out")
    if "inform" in position and "return_visit" in position and position["return_visit"] < position["inform"]:
        raise ValueError("return_visit must come after inform")
    return steps


def _step_roles_ok(mapping):
    unknown = [k for k in mapping if k not in STEPS]
    if unknown:
        raise ValueError("unknown steps: " + ", ".join(unknown))
    return mapping


def _timers_ok(timers):
    keys = [t.key for t in timers]
    if len(set(keys)) != len(keys):
        raise ValueError("timer keys must be unique")
    return timers


Options = Annotated[list[Option], AfterValidator(_unique)]
NonEmptyOptions = Annotated[list[Option], Field(min_length=1), AfterValidator(_unique)]
Categories = Annotated[list[Category], AfterValidator(_categories_ok)]
Steps = Annotated[list[Literal[STEPS]], AfterValidator(_steps_ok)]  # type: ignore[valid-type]
StepRoles = Annotated[dict[str, list[RoleCode]], AfterValidator(_step_roles_ok)]
Timers = Annotated[list[Timer], AfterValidator(_timers_ok)]

DEFAULT_CHANNELS = [
    {"key": "phone", "label": "电话投诉", "label_en": "Phone"},
    {"key": "onsite", "label": "现场投诉", "label_en": "In person"},
    {"key": "written", "label": "书面投诉", "label_en": "Written"},
    {"key": "online", "label": "网上投诉", "label_en": "Online"},
]
DEFAULT_CATEGORIES = [
    {"key": "product", "label": "产品质量", "label_en": "Product quality"},
    {"key": "service", "label": "服务", "label_en": "Service"},
    {"key": "other", "label": "其他", "label_en": "Other"},
]
DEFAULT_DEADLINES = [
    {"key": "first_response", "label": "首次响应", "start": "register", "amount": 1, "unit": "working_days", "met_by": "validity",
     "ladder": [{"after": "0 hours", "notify": "owner"}, {"after": "1 working_days", "notify": "manager"}]},
    {"key": "resolution", "label": "处理完毕", "start": "register", "amount": 5, "unit": "working_days", "met_by": "carry_out",
     "ladder": [{"after": "0 hours", "notify": "owner"}, {"after": "1 working_days", "notify": "manager"}]},
]
DEFAULT_CHAIN = [{"role": "dept_manager", "label": "部门经理"}]
# zhidu's own default, stated by no seed: a pack that says nothing on reopening escalates after the third
# round handled again. Its source reads "zhidu 默认值 …" wherever it is cited (case page, notification).
ZHIDU_DEFAULT_RETURN_VISIT = {"escalate_after": 3, "notify": ["manager", "quality_manager"]}

SCHEMA = Schema(
    "complaints",
    {
        "channels": Param(NonEmptyOptions, DEFAULT_CHANNELS, _("投诉方式"), _("受理渠道，如电话、现场、书面")),
        "public_channel": Param(Key | None, "online", _("网上投诉渠道"),
                                _("公开投诉页面登记的案件使用的投诉方式；须在“投诉方式”中；为空则不开放网上投诉")),
        "categories": Param(Categories, DEFAULT_CATEGORIES, _("投诉类别"), _("每类：key、名称；parent 为上级类别的 key")),
        "complainant_types": Param(Options, [], _("投诉者类别")),
        "motives": Param(Options, [], _("投诉者心态")),
        "invalid_reasons": Param(Options, [], _("不成立（无效投诉）情形")),
        "severity_labels": Param(dict[Literal["general", "major"], Annotated[str, Field(min_length=1, max_length=30)]],
                                 {"general": "一般投诉", "major": "重大投诉"}, _("严重程度名称")),
        "major.reasons": Param(Options, [], _("重大投诉情形"), _("登记或分类时勾选任一情形即为重大投诉")),
        "major.categories": Param(list[Key], [], _("一律按重大投诉处理的类别")),
        "major.repeat": Param(MajorRepeat | None, None, _("重复投诉"), _("同一投诉人在期限内投诉达到次数即为重大投诉")),
        "major.min_households": Param(Annotated[int, Field(ge=2)] | None, None, _("集体投诉户数"), _("涉及户数达到此数即为重大投诉")),
        "time_bars": Param(list[TimeBar], [], _("投诉时效"), _("事发后超过期限才提出的投诉标记为“超过投诉时限”")),
        "steps": Param(Steps, list(STEPS), _("处理步骤"), _("按顺序：validity, assign, investigate, remedy, carry_out, inform, return_visit, close；"
                                                         "validity、assign、carry_out、close 必须有")),
        "step_roles": Param(StepRoles, {}, _("步骤角色"), _("某步骤只能由这些角色办理，如 {return_visit: [quality_manager]}；未列出的步骤按权限")),
        "deadlines": Param(Timers, DEFAULT_DEADLINES, _("处理时限"), _("计时器：key、名称、起算事件、时长、单位、完成于哪一步、适用严重程度、升级阶梯")),
        "remedy.chains": Param(Annotated[list[RemedyChain], Field(min_length=1)], [{"chain": DEFAULT_CHAIN}], _("处理方案审批（权限核决表）"),
                               _("按严重程度与赔偿金额选第一条符合的审批链")),
        "extension": Param(Extension | None, None, _("延长处理时限"), _("特殊情况经审批可延长到的最长处理时限；为空则不可延长")),
        "return_visit": Param(ReturnVisit, ZHIDU_DEFAULT_RETURN_VISIT, _("回访与重新处理"),
                              _("客户不满意则重新处理；不满意达到轮数后升级，通知这些角色（owner、manager 或角色代码）。"
                                "制度未规定时用 zhidu 默认值（非制度原文）：重新处理 3 轮后升级，通知部门负责人和质量经理")),
        "penalty": Param(Penalty | None, None, _("投诉责任处罚"), _("投诉成立且责任归属到员工时，按此提出处罚（元或分）并报批")),
        "archive_after": Param(Archive, {"amount": 12, "unit": "months"}, _("结案后归档期限")),
    },
)
