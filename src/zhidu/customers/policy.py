"""Pack parameters of the customer archive (一户一档): customer types, codes, review cycle, duplicate
detection, and who may read a file above their clearance or outside their scope."""

from typing import Annotated, Literal

from django.utils.translation import gettext_lazy as _
from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from zhidu.kernel.policy.schema import Param, Schema

ARCHIVE_FIELDS = (
    "name",
    "credit_code",
    "id_number",
    "legal_representative",
    "address",
    "region",
    "industry",
    "scale",
    "contacts",
)


class CustomerType(BaseModel):
    model_config = ConfigDict(extra="forbid")

    key: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,39}$")]
    label: Annotated[str, Field(min_length=1, max_length=40)]
    label_en: Annotated[str, Field(max_length=60)] = ""
    code_prefix: Annotated[str, Field(max_length=10, pattern=r"^[A-Za-z0-9-]*$")] = ""
    identifier: Literal["credit_code", "id_number", "none"] = "none"
    required_fields: list[Literal[ARCHIVE_FIELDS]] = ["name"]  # type: ignore[valid-type]


def _unique_keys(types: list[CustomerType]) -> list[CustomerType]:
    keys = [t.key for t in types]
    if len(set(keys)) != len(keys):
        raise ValueError("customer type keys must be unique")
    return types


def _types_ok(types: list[CustomerType]) -> list[CustomerType]:
    if not types:
        raise ValueError("at least one customer type is needed")
    return _unique_keys(types)


class ChainStep(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Annotated[str, Field(min_length=1, max_length=40)]
    label: Annotated[str, Field(max_length=60)] = ""


def _pattern_ok(pattern: str) -> str:
    if "{seq" not in pattern:
        raise ValueError("the code pattern needs a {seq} field, e.g. {prefix}{year}{seq:05d}")
    try:
        code = pattern.format(prefix="X", year=2026, month=1, seq=1)
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"bad code pattern: {exc}; fields: prefix, year, month, seq") from None
    if len(code) > 40:
        raise ValueError("codes made by this pattern are longer than 40 characters")
    return pattern


Types = Annotated[list[CustomerType], AfterValidator(_types_ok)]
CodePattern = Annotated[str, AfterValidator(_pattern_ok)]

DEFAULT_TYPES = [
    {"key": "enterprise", "label": "企业", "label_en": "Enterprise", "code_prefix": "QY", "identifier": "credit_code", "required_fields": ["name", "credit_code"]},
    {"key": "individual", "label": "个人", "label_en": "Individual", "code_prefix": "GR", "identifier": "id_number", "required_fields": ["name"]},
    {"key": "medical", "label": "医疗机构", "label_en": "Medical institution", "code_prefix": "YL", "identifier": "credit_code", "required_fields": ["name", "credit_code"]},
    {"key": "dealer", "label": "经销商", "label_en": "Dealer", "code_prefix": "JX", "identifier": "credit_code", "required_fields": ["name", "credit_code"]},
    {"key": "supplier", "label": "供应商", "label_en": "Supplier", "code_prefix": "GY", "identifier": "credit_code", "required_fields": ["name", "credit_code"]},
    {"key": "member", "label": "会员", "label_en": "Member", "code_prefix": "HY", "identifier": "id_number", "required_fields": ["name"]},
    {"key": "household", "label": "住户", "label_en": "Household", "code_prefix": "ZH", "identifier": "none", "required_fields": ["name", "address"]},
    {"key": "property_unit", "label": "物业单元", "label_en": "Property unit", "code_prefix": "WY", "identifier": "none", "required_fields": ["name", "address"]},
]

SCHEMA = Schema(
    "customers",
    {
        "types": Param(
            Types,
            DEFAULT_TYPES,
            _("客户类型"),
            _("每类：key、名称、英文名称、编码前缀、证件（credit_code 统一社会信用代码 / id_number 身份证号 / none）、必填字段"),
        ),
        "code_pattern": Param(
            CodePattern, "{prefix}{year}{seq:05d}", _("客户编码规则"), _("可用字段：{prefix} 类型前缀、{year} 年、{month} 月、{seq} 序号")
        ),
        "review_cycle_months": Param(Annotated[int, Field(ge=1, le=120)], 12, _("档案复核周期（月）")),
        "duplicate_name_threshold": Param(
            Annotated[float, Field(ge=0, le=1)], 0.9, _("名称相似度阈值"), _("新建客户时名称相似度达到此值即提示可能重复（0–1）")
        ),
        "access_request.chain": Param(
            Annotated[list[ChainStep], Field(min_length=1)],
            [{"role": "dept_manager", "label": "部门经理"}],
            _("查阅/借阅档案审批链"),
            _("查阅超出本人密级或数据范围的客户档案时，依次审批的角色"),
        ),
        "access_request.max_days": Param(Annotated[int, Field(ge=1, le=365)], 7, _("查阅授权最长天数")),
        "default_secret_level": Param(Annotated[int, Field(ge=0, le=3)], 0, _("新建档案的默认密级"), _("0 公开、1 秘密、2 机密、3 绝密")),
    },
)
