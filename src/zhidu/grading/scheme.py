"""The grade scheme in force, read from the applied pack: grades in order (highest first), thresholds,
quotas and rights. Every value comes with its citation."""

from dataclasses import dataclass

from django.utils.translation import get_language
from django.utils.translation import gettext as _

from zhidu.kernel import policy
from zhidu.kernel.errors import ApiError, Invalid
from zhidu.kernel.policy import ParameterMissing

from .policy import SCHEMA


@dataclass(frozen=True)
class Grade:
    key: str
    label: str
    label_en: str
    order: int  # 0 = highest
    priority_rank: int  # the "四优先" rank stored on CustomerGrade (lower = first)
    has_priority: bool
    visit_every_months: int | None
    rules: dict

    @property
    def display(self) -> str:
        if self.label_en and (get_language() or "").startswith("en"):
            return self.label_en
        return self.label


def grades() -> list[Grade]:
    result = []
    for index, g in enumerate(policy.value("grading.grades")):
        result.append(Grade(
            key=g["key"], label=g["label"], label_en=g.get("label_en") or "", order=index,
            priority_rank=g.get("priority_rank") or index + 1, has_priority=g.get("priority_rank") is not None,
            visit_every_months=g.get("visit_every_months"), rules=g.get("rules") or {},
        ))
    return result


def grades_by_key() -> dict[str, Grade]:
    return {g.key: g for g in grades()}


def grade(key: str) -> Grade:
    found = grades_by_key().get(key)
    if found is None:
        raise Invalid(_("未知的等级：%(key)s（制度包规定的等级为 %(keys)s）") % {"key": str(key)[:20], "keys": "、".join(g.key for g in grades())},
                      code="unknown_grade", details={"fields": {"grade": [_("未知的等级")]}})
    return found


def lowest() -> Grade:
    return grades()[-1]


def source(key: str) -> str:
    try:
        return str(policy.get(key).source or "")
    except ParameterMissing:
        return ""


def referenced_thresholds() -> list[str]:
    """Threshold slots ("t1.bed_count") named by the grade rules and criteria bands in force."""
    slots = []
    for g in policy.value("grading.grades"):
        rules = g.get("rules") or {}
        for cond in (rules.get("all_of") or []) + (rules.get("any_of") or []):
            if cond.get("threshold") and cond["threshold"] not in slots:
                slots.append(cond["threshold"])
    for c in policy.value("grading.criteria"):
        for band in c.get("bands") or []:
            if band.get("threshold") and band["threshold"] not in slots:
                slots.append(band["threshold"])
    return slots


def thresholds() -> dict[str, float]:
    """The value of every referenced threshold. When any is still blank (a `required` parameter nobody
    has set), one Invalid error names them all, with their labels and seed citations."""
    values, missing = {}, []
    for slot in referenced_thresholds():
        key = f"grading.threshold.{slot}"
        try:
            values[slot] = float(policy.value(key))
        except ParameterMissing as exc:
            declared = SCHEMA[key]
            missing.append({"key": key, "label": str(declared.label), "source": exc.details.get("source", ""),
                            "note": exc.details.get("note", "")})
    if missing:
        names = "；".join(f"{m['label']}（{m['key']}）" for m in missing)
        raise ApiError(
            _("分级门槛尚未设定，不能进行分级：%(names)s。制度原文未给出这些数值，请管理员在制度包页面设定后再评审。") % {"names": names},
            code="thresholds_missing",
            status=409,
            details={"missing": missing},
        )
    return values


def discount_rates() -> dict[str, float]:
    try:
        return dict(policy.value("grading.discount_rates") or {})
    except ParameterMissing:
        return {}


def quotas() -> list[dict]:
    return list(policy.value("grading.quotas") or [])
