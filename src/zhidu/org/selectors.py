"""Reads of users, departments and roles for views and the API, scoped by the reader's access."""

from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet

from zhidu.kernel.access import DataScope, user_scope

from . import permissions as perms
from .models import Department, Role, User

USERS_PAGE_SIZE = 50


def _user_scope_q(user) -> Q:
    """The users inside `user`'s data scope (the same own/department/subtree/all rule as for customers)."""
    scope = user_scope(user)
    if scope == DataScope.ALL:
        return Q()
    department = getattr(user, "department", None)
    if scope == DataScope.OWN or department is None:
        return Q(pk=user.pk)
    if scope == DataScope.DEPARTMENT:
        return Q(department_id=department.pk) | Q(pk=user.pk)
    return Q(department__path__startswith=department.path) | Q(pk=user.pk)


def users_visible_to(user) -> QuerySet[User]:
    """Every account for the system and security admins; otherwise the users in the reader's data scope."""
    users = User.objects.select_related("department", "role")
    if user.has_perm_code(perms.USERS_MANAGE) or user.has_perm_code(perms.ROLES_MANAGE):
        return users
    return users.filter(_user_scope_q(user))


@dataclass
class UsersPage:
    rows: list
    next_after: int | None


def users_page(user, *, q: str = "", department_id: int | None = None, role_id: int | None = None, active: bool | None = None, after: int | None = None, limit: int = USERS_PAGE_SIZE) -> UsersPage:
    """One page of the users list, newest account last, by keyset on id (no COUNT of the table).
    `department_id` includes that department's subtree."""
    users = users_visible_to(user)
    q = (q or "").strip()
    if q:
        users = users.filter(Q(username__icontains=q) | Q(display_name__icontains=q) | Q(phone__endswith=q) | Q(email__icontains=q))
    if department_id:
        department = Department.objects.filter(pk=department_id).only("path").first()
        users = users.filter(department__path__startswith=department.path) if department else users.none()
    if role_id:
        users = users.filter(role_id=role_id)
    if active is not None:
        users = users.filter(is_active=active)
    if after:
        users = users.filter(pk__gt=after)
    rows = list(users.order_by("pk")[: limit + 1])
    next_after = rows[limit - 1].pk if len(rows) > limit else None
    return UsersPage(rows=rows[:limit], next_after=next_after)


@dataclass
class TreeNode:
    department: Department
    depth: int
    user_count: int


def departments_tree() -> list[TreeNode]:
    """All departments in tree order (each parent before its children, siblings by name), with the
    number of active users in each. The tree is small; the order is built here rather than by sorting
    `path`, whose collation differs between databases."""
    departments = list(Department.objects.annotate(user_count=Count("users", filter=Q(users__is_active=True))))
    children: dict[int | None, list[Department]] = {}
    for department in departments:
        children.setdefault(department.parent_id, []).append(department)
    for siblings in children.values():
        siblings.sort(key=lambda d: (d.name, d.pk))
    nodes: list[TreeNode] = []
    stack = [(d, 0) for d in reversed(children.get(None, []))]
    while stack:
        department, depth = stack.pop()
        nodes.append(TreeNode(department, depth, department.user_count))
        stack.extend((child, depth + 1) for child in reversed(children.get(department.pk, [])))
    return nodes


def roles_with_permission(permission: str) -> list[int]:
    """Ids of the roles granting `permission` (roles are few; JSON containment is not portable to SQLite)."""
    return [pk for pk, granted in Role.objects.values_list("pk", "permissions") if permission in (granted or [])]


def staff_for_assignment(user) -> QuerySet[User]:
    """Active users `user` may hand customers to: holders of customers.edit inside `user`'s data scope."""
    return (
        User.objects.select_related("department", "role")
        .filter(is_active=True, role_id__in=roles_with_permission(perms.CUSTOMERS_EDIT))
        .filter(_user_scope_q(user))
        .order_by("department__name", "display_name", "username")
    )


def roles_list() -> QuerySet[Role]:
    return Role.objects.annotate(user_count=Count("users", filter=Q(users__is_active=True))).order_by("-is_builtin", "code")
