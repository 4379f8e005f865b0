"""Pack parameters of admission (准入清单, investigations, approval and set-up) and of the company and
department blacklists."""

from typing import Annotated

from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhidu.kernel.policy.schema import Param, Schema

Key = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
Label = Annotated[str, Field(min_length=1, max_length=300)]
Source = Annotated[str, Field(min_length=1, max_length=300)]


class ItemDef(BaseModel):
    """One condition the candidate must meet (all are required)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Label
    label_en: Annotated[str, Field(max_length=300)] = ""
    source: Source
    evidence_required: bool = True
    evidence_hint: Annotated[str, Field(max_length=300)] = ""


class StageDef(BaseModel):
    """An investigation stage; stages are recorded in the order given, each with a passing conclusion."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=100)]
    label_en: Annotated[str, Field(max_length=100)] = ""
    source: Source
    hint: Annotated[str, Field(max_length=500)] = ""


class FieldDef(BaseModel):
    """A text the application report must contain before it is submitted (S04: 交易理由, 商品目录与金额)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=100)]
    label_en: Annotated[str, Field(max_length=100)] = ""
    source: Source


class StepDef(BaseModel):
    """A set-up step done after approval (S04: 供货合同, 质量保证合同, 通知相关部门 …)."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Label
    label_en: Annotated[str, Field(max_length=300)] = ""
    source: Source


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Annotated[str, Field(min_length=1, max_length=40)]
    label: Annotated[str, Field(max_length=60)] = ""


def _unique(keys: list[str], what: str) -> None:
    if len(set(keys)) != len(keys):
        raise ValueError(f"{what} keys must be unique")


class Checklist(BaseModel):
    """The admission checklist of one or more customer types."""

    model_config = ConfigDict(extra="forbid")

    key: Key
    label: Annotated[str, Field(min_length=1, max_length=100)]
    label_en: Annotated[str, Field(max_length=100)] = ""
    customer_types: Annotated[list[Key], Field(min_length=1)]
    source: Source
    items: Annotated[list[ItemDef], Field(min_length=1)]
    stages: list[StageDef] = []
    report_fields: list[FieldDef] = []
    approval_chain: Annotated[list[ChainStep], Field(min_length=1)]
    approval_source: Source
    setup_steps: list[StepDef] = []
    # S01 五、2.4: an admitted customer that is neither VIP nor 优选 is 合格: the lowest grade on admission.
    initial_lowest_grade: bool = False

    def model_post_init(self, _context):
        _unique([i.key for i in self.items], "item")
        _unique([s.key for s in self.stages], "stage")
        _unique([f.key for f in self.report_fields], "report field")
        _unique([s.key for s in self.setup_steps], "set-up step")


def _checklists_ok(checklists: list[Checklist]) -> list[Checklist]:
    _unique([c.key for c in checklists], "checklist")
    types = [t for c in checklists for t in c.customer_types]
    if len(set(types)) != len(types):
        raise ValueError("a customer type may belong to one admission checklist only")
    return checklists


Checklists = Annotated[list[Checklist], AfterValidator(_checklists_ok)]
Chain = Annotated[list[ChainStep], Field(min_length=1)]

SCHEMA = Schema(
    "admission",
    {
        "checklists": Param(
            Checklists,
            [],
            _("准入清单"),
            _("每类客户的准入条件（全部须满足，逐项附证明文件）、调查阶段（按顺序）、申请报告内容、审批链和审批后的设立步骤；未列出的客户类型无需准入，直接建档"),
        ),
        "blacklist.department_months": Param(
            Annotated[int, Field(ge=1, le=120)],
            6,
            _("部门黑名单有效期（月）"),
            _("列入时可缩短，不可延长"),
        ),
        "blacklist.company_months": Param(
            Annotated[int, Field(ge=1, le=120)] | None,
            None,
            _("公司黑名单有效期（月）"),
            _("空 = 长期有效，直至经审批重新准入"),
        ),
        "blacklist.reentry_after_expiry": Param(
            bool,
            True,
            _("部门黑名单须在有效期满后方可申请重新准入"),
        ),
        "blacklist.reentry_chain.department": Param(
            Chain,
            [{"role": "dept_manager", "label": "部门领导"}, {"role": "general_manager", "label": "公司领导"}],
            _("部门黑名单重新准入审批链"),
        ),
        "blacklist.reentry_chain.company": Param(
            Chain,
            [{"role": "marketing_manager", "label": "营销事业部"}, {"role": "general_manager", "label": "公司领导"}],
            _("公司黑名单重新准入审批链"),
        ),
        "blacklist.notify_roles": Param(
            list[Annotated[str, Field(min_length=1, max_length=40)]],
            ["dept_manager"],
            _("列入公司黑名单时通报的角色"),
        ),
    },
)
