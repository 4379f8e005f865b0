"""Domain-free access vocabulary: data scopes, secret levels and field masking.

The org app supplies users, departments and roles; selectors everywhere call `scope_q` and
`clearance_q` so that the UI, the API, search and export obey the same rules.
"""

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class DataScope(models.TextChoices):
    OWN = "own", _("本人")
    DEPARTMENT = "department", _("本部门")
    SUBTREE = "subtree", _("本部门及下级")
    ALL = "all", _("全部")


class SecretLevel(models.IntegerChoices):
    PUBLIC = 0, _("公开")
    SECRET = 1, _("秘密")
    CONFIDENTIAL = 2, _("机密")
    TOP_SECRET = 3, _("绝密")


MASKABLE_FIELDS = ("phone", "id_number", "bank_account")


def mask_phone(value: str) -> str:
    """138****1234: keep the first three and last four digits."""
    if not value:
        return value
    digits = value.strip()
    if len(digits) <= 7:
        return "*" * len(digits)
    return digits[:3] + "*" * (len(digits) - 7) + digits[-4:]


def mask_id_number(value: str) -> str:
    """110***********1234 for a 身份证号; the same shape for any identifier."""
    if not value:
        return value
    if len(value) <= 7:
        return "*" * len(value)
    return value[:3] + "*" * (len(value) - 7) + value[-4:]


def mask_bank_account(value: str) -> str:
    """Only the last four digits stay visible."""
    if not value:
        return value
    return "*" * max(len(value) - 4, 0) + value[-4:]


MASKERS = {"phone": mask_phone, "id_number": mask_id_number, "bank_account": mask_bank_account}


def mask(field_kind: str, value: str, user) -> str:
    """Masks `value` unless the user's role lists `field_kind` as unmasked."""
    if not value or field_kind in user_unmasked_fields(user):
        return value
    return MASKERS[field_kind](value)


def user_unmasked_fields(user) -> frozenset[str]:
    role = getattr(user, "role", None)
    return frozenset(role.unmasked_fields) if role else frozenset()


def user_scope(user) -> str:
    role = getattr(user, "role", None)
    return role.data_scope if role else DataScope.OWN


def user_clearance(user) -> int:
    return getattr(user, "clearance", SecretLevel.PUBLIC)


def scope_q(user, *, owner_field: str = "owner", department_field: str = "department") -> Q:
    """The rows inside the user's data scope, as a Q on the owner and department columns."""
    condition = Q()
    for arm in scope_arms(user, owner_field=owner_field, department_field=department_field):
        condition |= arm
    return condition


def scope_arms(user, *, owner_field: str = "owner", department_field: str = "department") -> list[Q]:
    """scope_q as the list of its OR-ed conditions (one Q() for scope "all"). A keyset list can page
    each arm on its own index, newest first, and merge: an OR across columns leaves the databases
    collecting and sorting every row in scope."""
    scope = user_scope(user)
    if scope == DataScope.ALL:
        return [Q()]
    department = getattr(user, "department", None)
    own = Q(**{f"{owner_field}_id": user.pk})
    if scope == DataScope.OWN or department is None:
        return [own]
    if scope == DataScope.DEPARTMENT:
        return [Q(**{f"{department_field}_id": department.pk}), own]
    # An id-IN subquery on the department tree keeps the filter on the indexed department column; a join
    # with LIKE on the path made SQLite scan the whole table. The model comes from the user, as the
    # kernel does not import org.
    subtree = type(department)._default_manager.filter(path__startswith=department.path).values("pk")
    return [Q(**{f"{department_field}_id__in": subtree}), own]


def clearance_q(user, *, level_field: str = "secret_level") -> Q:
    """The rows at or below the user's clearance."""
    return Q(**{f"{level_field}__lte": user_clearance(user)})
