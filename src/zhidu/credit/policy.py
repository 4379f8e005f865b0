"""Pack parameters of credit management (S28: 004 篇3 客户信用管理制度; 000 Doc9 (三) 客户信用管理).

The seed names four credit grades A–D and what each may do (L126–129) and how often each is
investigated (L145–147), but the table that defines the grades (L124) is missing and the terms are
words, not numbers ("不超过一次进货", "一个进货周期", "少量信用额度"). So the criteria, the highest
credit limit of each grade and the payment term of each grade have no default here: a pack that
implements the text marks them `required: true` and an administrator sets them on the pack page.
"""

from typing import Annotated, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhidu.kernel.policy.schema import Param, Schema

GRADE_KEY = r"^[A-Za-z0-9_]{1,10}$"
SETTLEMENTS = ("credit", "cash_on_delivery", "prepayment")


class CreditGrade(BaseModel):
    """One credit grade: what a customer of this grade may do and how often it is investigated."""

    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=GRADE_KEY)]
    label: Annotated[str, Field(min_length=1, max_length=40)]
    label_en: Annotated[str, Field(max_length=60)] = ""
    # False: no order on credit at all (S28 D: 不给予任何信用交易); only cash orders are taken.
    credit_allowed: bool = True
    # How the grade normally settles: on credit up to its limit, cash on delivery, or payment first.
    settlement: Literal[SETTLEMENTS] = "credit"  # type: ignore[valid-type]
    investigation_every_months: Annotated[int, Field(ge=1, le=60)]
    terms: Annotated[str, Field(max_length=300)] = ""
    terms_en: Annotated[str, Field(max_length=300)] = ""


def _grades_ok(grades: list[CreditGrade]) -> list[CreditGrade]:
    if not grades:
        raise ValueError("at least one credit grade is needed")
    keys = [g.key for g in grades]
    if len(set(keys)) != len(keys):
        raise ValueError("credit grade keys must be unique")
    return grades


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Annotated[str, Field(min_length=1, max_length=40)]
    label: Annotated[str, Field(max_length=60)] = ""


class Period(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Annotated[int, Field(ge=1, le=365)]
    unit: Literal["calendar_days", "working_days"]


class LadderStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    after: Annotated[str, Field(pattern=r"^\s*-?\d+\s+[a-z_]+\s*$")]
    notify: Annotated[str, Field(min_length=1, max_length=40)]


Grades = Annotated[list[CreditGrade], AfterValidator(_grades_ok)]
Money = Annotated[int, Field(ge=0, le=10**12)]

DEFAULT_GRADES = [
    {"key": "A", "label": "A级", "label_en": "Grade A", "credit_allowed": True, "settlement": "credit", "investigation_every_months": 6,
     "terms": "可赊销，额度与回款期限以本级上限为限", "terms_en": "Credit sales up to the grade's limit and payment term"},
    {"key": "B", "label": "B级", "label_en": "Grade B", "credit_allowed": True, "settlement": "cash_on_delivery", "investigation_every_months": 3,
     "terms": "一般现款现货，可设定额度后逐步放宽", "terms_en": "Normally cash on delivery; a limit may be set and widened"},
    {"key": "C", "label": "C级", "label_en": "Grade C", "credit_allowed": True, "settlement": "cash_on_delivery", "investigation_every_months": 1,
     "terms": "现款现货，审查后可给少量额度", "terms_en": "Cash on delivery; a small limit after review"},
    {"key": "D", "label": "D级", "label_en": "Grade D", "credit_allowed": False, "settlement": "prepayment", "investigation_every_months": 1,
     "terms": "不给予任何信用交易，现款现货或先款后货", "terms_en": "No credit at all: cash on delivery or payment first"},
]  # fmt: skip

SCHEMA = Schema(
    "credit",
    {
        "grades": Param(
            Grades,
            DEFAULT_GRADES,
            _("信用等级"),
            _("每级：key、名称、英文名称、是否允许赊销、结算方式（credit 赊销 / cash_on_delivery 现款现货 / prepayment 先款后货）、调查周期（月）、交易政策说明"),
        ),
        "grade_criteria": Param(
            dict[Annotated[str, Field(pattern=GRADE_KEY)], Annotated[str, Field(max_length=500)]],
            label=_("信用等级评定标准"),
            help=_('每级一段文字，例如 {"A": "…", "B": "…"}；在客户信用页和等级设置时显示'),
        ),
        "grade_max_limits": Param(
            dict[Annotated[str, Field(pattern=GRADE_KEY)], Money],
            label=_("各信用等级的最高信用额度（元）"),
            help=_('例如 {"A": 500000, "B": 100000, "C": 20000, "D": 0}；为客户设定的额度不得超过其等级的上限'),
        ),
        "grade_payment_term_days": Param(
            dict[Annotated[str, Field(pattern=GRADE_KEY)], Annotated[int, Field(ge=0, le=3650)]],
            label=_("各信用等级的最长回款期限（天）"),
            help=_('例如 {"A": 30, "B": 0, "C": 0, "D": 0}；0 为现款'),
        ),
        "overdue_days": Param(
            Annotated[int, Field(ge=0, le=3650)],
            0,
            _("逾期天数阈值"),
            _("客户有应收账款逾期超过此天数时，新订单须经信用审批；0 为到期未付即须审批"),
        ),
        "tolerance_percent": Param(
            Annotated[float, Field(ge=0, le=100)],
            0,
            _("超额容差（%）"),
            _("敞口不超过信用额度 ×（1 + 容差%）时不需审批"),
        ),
        "check_stage": Param(
            Literal["order_entry", "delivery"],
            "order_entry",
            _("信用检查环节"),
            _("order_entry：录入订单时检查；delivery：发货时检查"),
        ),
        "approval_chain": Param(
            Annotated[list[ChainStep], Field(min_length=1)],
            [{"role": "credit_controller", "label": "信用管理员"}],
            _("超限/逾期订单审批链"),
        ),
        "registration_change.deadline": Param(
            Period,
            {"amount": 10, "unit": "working_days"},
            _("工商变更报告时限"),
            _("客户发生工商变更后须在此时限内报告"),
        ),
        "registration_change.ladder": Param(
            list[LadderStep],
            [{"after": "0 hours", "notify": "owner"}],
            _("工商变更报告超时提醒"),
            _('超时后依次通知：owner 客户负责人、manager 部门经理或角色代码；after 形如 "1 working_days"'),
        ),
    },
)
