"""/api/v1/org: the signed-in user, departments, users (for the system and security admins)."""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Schema
from pydantic import Field

from zhidu.kernel.access import user_scope
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden, NotFound

from . import permissions as perms
from . import selectors, services
from .models import User

router = Router(tags=["org"])

MAX_ID = 2**63 - 1


class DepartmentRef(Schema):
    id: int
    name: str
    code: str


class RoleRef(Schema):
    code: str
    name: str


class MeOut(Schema):
    id: int
    username: str
    display_name: str
    department: DepartmentRef | None
    role: RoleRef | None
    data_scope: str
    clearance: int
    permissions: list[str]
    unmasked_fields: list[str]


class DepartmentOut(Schema):
    id: int
    name: str
    code: str
    parent_id: int | None
    path: str
    depth: int
    user_count: int


class UserOut(Schema):
    id: int
    username: str
    display_name: str
    email: str
    phone: str
    department: DepartmentRef | None
    role: RoleRef | None
    clearance: int
    is_active: bool
    locked_until: datetime | None
    left_at: datetime | None
    last_login: datetime | None


class UsersPageOut(Schema):
    items: list[UserOut]
    next_after: int | None = Field(None, description="Pass as `after` for the next page; null on the last page")


class UsersFilter(Schema):
    q: str = Field("", max_length=100)
    department: int | None = Field(None, ge=1, le=MAX_ID)
    role: int | None = Field(None, ge=1, le=MAX_ID)
    active: bool | None = None
    after: int | None = Field(None, ge=0, le=MAX_ID)
    limit: int = Field(50, ge=1, le=200)


class DisableIn(Schema):
    reason: str = Field("", max_length=300)


def _department(d) -> dict | None:
    return {"id": d.pk, "name": d.name, "code": d.code} if d else None


def _role(r) -> dict | None:
    return {"code": r.code, "name": r.label} if r else None


def _user(u: User) -> dict:
    return {
        "id": u.pk,
        "username": u.username,
        "display_name": u.display_name,
        "email": u.email,
        "phone": u.phone,
        "department": _department(u.department),
        "role": _role(u.role),
        "clearance": u.clearance,
        "is_active": u.is_active,
        "locked_until": u.locked_until,
        "left_at": u.left_at,
        "last_login": u.last_login,
    }


@router.get("/me", response={200: MeOut, **ERROR_RESPONSES}, summary="The signed-in user: role, data scope, clearance, permissions")
def me(request):
    user = request.user
    role = user.role
    return {
        "id": user.pk,
        "username": user.username,
        "display_name": user.display_name,
        "department": _department(user.department),
        "role": _role(role),
        "data_scope": user_scope(user),
        "clearance": user.clearance,
        "permissions": sorted(role.permissions) if role else [],
        "unmasked_fields": sorted(role.unmasked_fields) if role else [],
    }


@router.get("/departments", response={200: list[DepartmentOut], **ERROR_RESPONSES}, summary="All departments in tree order")
def departments(request):
    return [
        {
            "id": n.department.pk,
            "name": n.department.name,
            "code": n.department.code,
            "parent_id": n.department.parent_id,
            "path": n.department.path,
            "depth": n.depth,
            "user_count": n.user_count,
        }
        for n in selectors.departments_tree()
    ]


def _require_admin(user) -> None:
    if not (user.has_perm_code(perms.USERS_MANAGE) or user.has_perm_code(perms.ROLES_MANAGE)):
        raise Forbidden(_("无权查看账号列表。"))


@router.get("/users", response={200: UsersPageOut, **ERROR_RESPONSES}, summary="Users, keyset-paginated by id (system or security admin)")
def users(request, filters: Query[UsersFilter]):
    _require_admin(request.user)
    page = selectors.users_page(
        request.user,
        q=filters.q,
        department_id=filters.department,
        role_id=filters.role,
        active=filters.active,
        after=filters.after,
        limit=filters.limit,
    )
    return {"items": [_user(u) for u in page.rows], "next_after": page.next_after}


@router.post("/users/{user_id}/disable", response={200: UserOut, **ERROR_RESPONSES}, summary="Disable a leaver: ends all sessions and tokens at once")
def user_disable(request, user_id: int = Path(..., ge=1, le=MAX_ID), payload: DisableIn | None = None):
    target = selectors.users_visible_to(request.user).filter(pk=user_id).first()
    if target is None:
        if not request.user.has_perm_code(perms.USERS_MANAGE):
            raise Forbidden(_("无权执行此操作：需要“%(permission)s”权限。") % {"permission": perms.ALL[perms.USERS_MANAGE]})
        raise NotFound(_("用户不存在。"))
    user = services.user_disable(request.user, target, reason=payload.reason if payload else "", request=request)
    return _user(User.objects.select_related("department", "role").get(pk=user.pk))
