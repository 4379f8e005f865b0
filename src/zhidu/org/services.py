"""Every write to departments, users and roles. One function per business action, each in a transaction
with an audit entry.

Who may do what (S05 三员分立, 000 Doc7 第三十四条):
- `org.users.manage` (system admin): accounts and departments; never roles or clearances.
- `org.roles.manage` (security admin): roles and clearances; never accounts.
- `audit.view` (auditor): reads the audit log; none of these services.
Nobody changes their own role or clearance. `actor=None` is the setup step or a management command
run on the server; a web request or API call always passes the signed-in user.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

import phonenumbers
from django.contrib.auth import authenticate
from django.contrib.auth.password_validation import validate_password
from django.contrib.sessions.models import Session
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Value
from django.db.models.functions import Replace
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zhidu.kernel import audit, policy
from zhidu.kernel.access import DataScope, SecretLevel
from zhidu.kernel.errors import Conflict, Forbidden, Invalid

from . import permissions as perms
from .models import Department, Role, User, UserSession
from .tokens import tokens_revoke_all

# ---------------------------------------------------------------------------------------------
# Built-in roles
# ---------------------------------------------------------------------------------------------

ALL_CUSTOMERS = [
    perms.CUSTOMERS_VIEW,
    perms.CUSTOMERS_CREATE,
    perms.CUSTOMERS_EDIT,
    perms.CUSTOMERS_EXPORT,
    perms.CUSTOMERS_IMPORT,
    perms.CUSTOMERS_TRANSFER,
]

COMPLAINTS_ALL = [perms.COMPLAINTS_VIEW, perms.COMPLAINTS_HANDLE, perms.COMPLAINTS_MANAGE, perms.COMPLAINTS_EXPORT]
GRADING_ALL = [
    perms.GRADING_VIEW,
    perms.GRADING_ADMIT,
    perms.GRADING_REVIEW,
    perms.GRADING_BLACKLIST,
    perms.GRADING_BLACKLIST_COMPANY,
    perms.GRADING_EXPORT,
]
CREDIT_ALL = [perms.CREDIT_VIEW, perms.CREDIT_MANAGE, perms.CREDIT_ORDERS, perms.CREDIT_EXPORT]
FRONT_LINE = [perms.COMPLAINTS_VIEW, perms.COMPLAINTS_HANDLE, perms.GRADING_VIEW, perms.GRADING_ADMIT, perms.CREDIT_VIEW, perms.CREDIT_ORDERS]

# code, name (a msgid: shown translated), data scope, permissions, unmasked fields, highest clearance
BUILTIN_ROLES = [
    # S05: the system admin runs accounts and departments. It holds customers.view with scope "all" on
    # purpose: its 公开 clearance cap is what keeps classified customer files from it.
    ("sysadmin", gettext_noop("系统管理员"), DataScope.ALL, [perms.USERS_MANAGE, perms.CUSTOMERS_VIEW], [], SecretLevel.PUBLIC),
    ("secadmin", gettext_noop("安全管理员"), DataScope.OWN, [perms.ROLES_MANAGE], [], SecretLevel.PUBLIC),
    ("auditor", gettext_noop("审计员"), DataScope.OWN, [perms.AUDIT_VIEW], [], SecretLevel.PUBLIC),
    (
        "general_manager",
        gettext_noop("总经理"),
        DataScope.ALL,
        [*ALL_CUSTOMERS, perms.ACCESS_APPROVE, perms.PACKS_MANAGE, perms.CALENDAR_MANAGE, *COMPLAINTS_ALL, *GRADING_ALL, *CREDIT_ALL],
        ["phone"],
        SecretLevel.TOP_SECRET,
    ),
    (
        "dept_manager",
        gettext_noop("部门经理"),
        DataScope.SUBTREE,
        [*ALL_CUSTOMERS, perms.ACCESS_APPROVE, *COMPLAINTS_ALL, *[p for p in GRADING_ALL if p != perms.GRADING_BLACKLIST_COMPANY],
         perms.CREDIT_VIEW, perms.CREDIT_ORDERS, perms.CREDIT_EXPORT],
        [],
        SecretLevel.TOP_SECRET,
    ),
    (
        "supervisor",
        gettext_noop("主管"),
        DataScope.DEPARTMENT,
        [perms.CUSTOMERS_VIEW, perms.CUSTOMERS_CREATE, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT, *FRONT_LINE],
        [],
        SecretLevel.TOP_SECRET,
    ),
    (
        "sales",
        gettext_noop("业务员"),
        DataScope.OWN,
        [perms.CUSTOMERS_VIEW, perms.CUSTOMERS_CREATE, perms.CUSTOMERS_EDIT, perms.CUSTOMERS_EXPORT, *FRONT_LINE],
        [],
        SecretLevel.TOP_SECRET,
    ),
    # S07: the archive keeper reads every file and approves borrowing requests.
    ("archivist", gettext_noop("档案管理员"), DataScope.ALL, [perms.CUSTOMERS_VIEW, perms.ACCESS_APPROVE], [], SecretLevel.TOP_SECRET),
    # S02/S03: the quality manager decides, assigns and closes complaints company-wide.
    ("quality_manager", gettext_noop("质量经理"), DataScope.ALL, [perms.CUSTOMERS_VIEW, *COMPLAINTS_ALL], [], SecretLevel.SECRET),
    # S16/S23: the customer-service agent receives and works complaints of their department.
    ("service_agent", gettext_noop("客服专员"), DataScope.DEPARTMENT, [perms.CUSTOMERS_VIEW, perms.COMPLAINTS_VIEW, perms.COMPLAINTS_HANDLE], [], SecretLevel.PUBLIC),
    # S28: the credit controller sets grades and limits and approves orders over them.
    ("credit_controller", gettext_noop("信用管理员"), DataScope.ALL, [perms.CUSTOMERS_VIEW, perms.GRADING_VIEW, *CREDIT_ALL], [], SecretLevel.SECRET),
    # S01 四、职责分工: the marketing division keeps the company blacklist and runs grading.
    (
        "marketing_manager",
        gettext_noop("营销事业部经理"),
        DataScope.ALL,
        [perms.CUSTOMERS_VIEW, perms.CUSTOMERS_EXPORT, *GRADING_ALL, perms.COMPLAINTS_VIEW, perms.CREDIT_VIEW],
        [],
        SecretLevel.SECRET,
    ),
]


def builtin_role_objects() -> list[Role]:
    return [
        Role(code=code, name=name, data_scope=scope, permissions=list(permissions), unmasked_fields=list(unmasked), max_clearance=cap, is_builtin=True)
        for code, name, scope, permissions, unmasked, cap in BUILTIN_ROLES
    ]


@transaction.atomic
def roles_ensure_builtin() -> list[str]:
    """Creates the built-in roles that are missing; roles that exist (perhaps edited by the security
    admin) are left as they are. Returns the codes created now. Safe to run any number of times."""
    existing = set(Role.objects.filter(code__in=[r[0] for r in BUILTIN_ROLES]).values_list("code", flat=True))
    missing = [role for role in builtin_role_objects() if role.code not in existing]
    for role in missing:
        role.clean()
    if missing:
        Role.objects.bulk_create(missing, ignore_conflicts=True)
        audit.record(None, "org.roles.builtin_created", target=None, details={"codes": [r.code for r in missing]})
    return [r.code for r in missing]


# ---------------------------------------------------------------------------------------------
# Who may do what
# ---------------------------------------------------------------------------------------------


def require(actor, permission: str) -> None:
    """Raises Forbidden unless `actor` holds `permission`; `actor=None` is the server itself."""
    if actor is None:
        return
    if not actor.has_perm_code(permission):
        raise Forbidden(_("无权执行此操作：需要“%(permission)s”权限。") % {"permission": perms.ALL[permission]}, details={"permission": permission})


def can_manage_users(actor) -> bool:
    return actor.has_perm_code(perms.USERS_MANAGE)


def can_manage_roles(actor) -> bool:
    return actor.has_perm_code(perms.ROLES_MANAGE)


def _not_self(actor, user: User, message: str) -> None:
    if actor is not None and actor.pk == user.pk:
        raise Forbidden(message)


def _snapshot(user: User) -> dict:
    return {
        "username": user.username,
        "display_name": user.display_name,
        "department": user.department_id,
        "role": user.role.code if user.role_id else None,
        "clearance": user.clearance,
        "is_active": user.is_active,
    }


# ---------------------------------------------------------------------------------------------
# Departments
# ---------------------------------------------------------------------------------------------


def _department_validate(department: Department) -> None:
    try:
        department.full_clean(exclude=["parent", "path"])
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


def _check_depth(path_length: int) -> None:
    if path_length > Department._meta.get_field("path").max_length:
        raise Invalid(_("部门层级过深。"), details={"parent": [_("部门层级过深。")]})


@transaction.atomic
def department_create(actor, *, name: str, code: str, parent: Department | None = None, request=None) -> Department:
    require(actor, perms.USERS_MANAGE)
    department = Department(name=(name or "").strip(), code=(code or "").strip(), parent=parent)
    _department_validate(department)
    department.save()
    # The path holds the row's own id, so it is known only after the insert.
    prefix = Department.objects.get(pk=parent.pk).path if parent else "/"
    department.path = f"{prefix}{department.pk}/"
    _check_depth(len(department.path))
    Department.objects.filter(pk=department.pk).update(path=department.path)
    audit.record(actor, "org.department.create", target=department, details={"name": department.name, "code": department.code, "parent": parent.pk if parent else None}, request=request)
    return department


@transaction.atomic
def department_rename(actor, department: Department, *, name: str, request=None) -> Department:
    require(actor, perms.USERS_MANAGE)
    department = Department.objects.select_for_update().get(pk=department.pk)
    old = department.name
    department.name = (name or "").strip()
    _department_validate(department)
    department.save(update_fields=["name"])
    audit.record(actor, "org.department.rename", target=department, details={"from": old, "to": department.name}, request=request)
    return department


@transaction.atomic
def department_move(actor, department: Department, *, parent: Department | None, request=None) -> Department:
    """Moves a department (with its whole subtree) under `parent`, or to the top when parent is None.
    Every path in the subtree is rewritten by one UPDATE."""
    require(actor, perms.USERS_MANAGE)
    department = Department.objects.select_for_update().get(pk=department.pk)
    if parent is not None:
        parent = Department.objects.select_for_update().get(pk=parent.pk)
        if parent.path.startswith(department.path):
            raise Invalid(_("不能把部门移到它自己或它的下级部门之下。"), details={"parent": [_("不能把部门移到它自己或它的下级部门之下。")]})
    old_path = department.path
    new_path = f"{parent.path if parent else '/'}{department.pk}/"
    old_parent = department.parent_id
    longest = max(len(p) for p in Department.objects.filter(path__startswith=old_path).values_list("path", flat=True))
    _check_depth(longest - len(old_path) + len(new_path))
    if new_path != old_path:
        # Ids are unique, so old_path ("/1/4/") occurs in a path only as the prefix of its own subtree.
        Department.objects.filter(path__startswith=old_path).update(path=Replace("path", Value(old_path), Value(new_path)))
    Department.objects.filter(pk=department.pk).update(parent=parent)
    department.refresh_from_db()
    audit.record(
        actor,
        "org.department.move",
        target=department,
        details={"from_parent": old_parent, "to_parent": parent.pk if parent else None, "from_path": old_path, "to_path": new_path},
        request=request,
    )
    return department


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------

USER_EDITABLE = ("display_name", "email", "phone", "department")
SELF_EDITABLE = ("display_name", "email", "phone")


def _normalise_phone(phone: str) -> str:
    phone = (phone or "").strip()
    if not phone:
        return ""
    try:
        number = phonenumbers.parse(phone, "CN")
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise ValidationError({"phone": [_("手机号码无效。")]})
    if number.country_code == 86:
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL).replace(" ", "").replace("-", "")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def _user_validate(user: User, *, password: str | None = None) -> None:
    errors: dict[str, list[str]] = {}
    try:
        user.full_clean(exclude=["password", "last_login", "role", "department"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if password is not None:
        try:
            validate_password(password, user)
        except ValidationError as exc:
            errors["password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)


def _check_clearance_cap(role: Role | None, clearance: int) -> None:
    if role is None:
        return
    # S05: a separated admin stays at 公开 even if an older row still carries a higher cap.
    cap = SecretLevel.PUBLIC if role.is_separated_admin else role.max_clearance
    if clearance > cap:
        message = _("角色“%(role)s”最高只能授予“%(cap)s”密级许可。") % {"role": role.label, "cap": SecretLevel(cap).label}
        raise ValidationError({"clearance": [message]})


@transaction.atomic
def user_create(
    actor,
    *,
    username: str,
    password: str,
    display_name: str = "",
    email: str = "",
    phone: str = "",
    department: Department | None = None,
    role: Role | None = None,
    clearance: int = SecretLevel.PUBLIC,
    request=None,
) -> User:
    """Creates an account. The system admin creates it without a role; the security admin then assigns
    the role and clearance. Errors come back per field (ValidationError with a dict)."""
    require(actor, perms.USERS_MANAGE)
    if role is not None or clearance != SecretLevel.PUBLIC:
        require(actor, perms.ROLES_MANAGE)
    if clearance not in SecretLevel.values:
        raise ValidationError({"clearance": [_("密级许可无效。")]})
    user = User(
        username=(username or "").strip(),
        display_name=(display_name or "").strip(),
        email=(email or "").strip(),
        department=department,
        role=role,
        clearance=clearance,
    )
    errors = {}
    try:
        user.phone = _normalise_phone(phone)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        _check_clearance_cap(role, clearance)
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        _user_validate(user, password=password or "")
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if not password:
        errors["password"] = [_("请设置初始密码。")]
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.password_changed_at = timezone.now()
    try:
        with transaction.atomic():
            user.save()
    except IntegrityError:
        raise ValidationError({"username": [_("该用户名已存在。")]}) from None
    audit.record(actor, "org.user.create", target=user, details=_snapshot(user), request=request)
    return user


@transaction.atomic
def user_update(actor, user: User, *, request=None, **changes) -> User:
    """Changes a user's name, e-mail, phone or department. A user may change their own name, e-mail
    and phone; everything else needs `org.users.manage`."""
    unknown = set(changes) - set(USER_EDITABLE)
    if unknown:
        raise Invalid(_("不能修改这些字段：%s") % ", ".join(sorted(unknown)), details={"fields": sorted(unknown)})
    is_self = actor is not None and actor.pk == user.pk
    if not (is_self and set(changes) <= set(SELF_EDITABLE)):
        require(actor, perms.USERS_MANAGE)
    user = User.objects.select_for_update(of=("self",)).select_related("role").get(pk=user.pk)
    before = {field: getattr(user, f"{field}_id" if field == "department" else field) for field in changes}
    for field, value in changes.items():
        if field == "phone":
            value = _normalise_phone(value)
        elif isinstance(value, str):
            value = value.strip()
        setattr(user, field, value)
    _user_validate(user)
    user.save(update_fields=list(changes) or None)
    after = {field: getattr(user, f"{field}_id" if field == "department" else field) for field in changes}
    audit.record(actor, "org.user.update", target=user, details={"before": before, "after": after}, request=request)
    return user


@transaction.atomic
def user_set_role(actor, user: User, role: Role | None, *, request=None) -> User:
    require(actor, perms.ROLES_MANAGE)
    _not_self(actor, user, _("不能修改自己的角色。"))
    user = User.objects.select_for_update(of=("self",)).select_related("role").get(pk=user.pk)
    old = user.role.code if user.role_id else None
    _check_clearance_cap(role, user.clearance)
    user.role = role
    user.save(update_fields=["role"])
    audit.record(actor, "org.user.set_role", target=user, details={"from": old, "to": role.code if role else None}, request=request)
    return user


@transaction.atomic
def user_set_clearance(actor, user: User, clearance: int, *, request=None) -> User:
    require(actor, perms.ROLES_MANAGE)
    _not_self(actor, user, _("不能修改自己的密级许可。"))
    try:
        clearance = int(clearance)
    except (TypeError, ValueError):
        clearance = -1
    if clearance not in SecretLevel.values:
        raise ValidationError({"clearance": [_("密级许可无效。")]})
    user = User.objects.select_for_update(of=("self",)).select_related("role").get(pk=user.pk)
    _check_clearance_cap(user.role, clearance)
    old = user.clearance
    user.clearance = clearance
    user.save(update_fields=["clearance"])
    audit.record(actor, "org.user.set_clearance", target=user, details={"from": old, "to": clearance}, request=request)
    return user


def sessions_end(user: User, *, keep_session_key: str | None = None) -> int:
    """Deletes the user's server-side sessions (all but `keep_session_key`); returns how many."""
    keys = UserSession.objects.filter(user=user)
    if keep_session_key:
        keys = keys.exclude(session_key=keep_session_key)
    ended, _detail = Session.objects.filter(session_key__in=keys.values("session_key")).delete()
    keys.delete()
    return ended


@transaction.atomic
def user_disable(actor, user: User, *, reason: str = "", request=None) -> User:
    """A leaver (S05 第三十八条): the account is disabled, every session ends and every API token is
    revoked at once, and the leaving time is recorded."""
    require(actor, perms.USERS_MANAGE)
    _not_self(actor, user, _("不能停用自己的账号。"))
    user = User.objects.select_for_update().get(pk=user.pk)
    if not user.is_active:
        raise Conflict(_("该账号已停用。"))
    user.is_active = False
    user.left_at = timezone.now()
    user.save(update_fields=["is_active", "left_at"])
    sessions = sessions_end(user)
    tokens = tokens_revoke_all(user)
    audit.record(actor, "org.user.disable", target=user, details={"reason": reason, "sessions_ended": sessions, "tokens_revoked": tokens}, request=request)
    return user


@transaction.atomic
def user_enable(actor, user: User, *, request=None) -> User:
    require(actor, perms.USERS_MANAGE)
    user = User.objects.select_for_update().get(pk=user.pk)
    if user.is_active:
        raise Conflict(_("该账号已是启用状态。"))
    user.is_active = True
    user.left_at = None
    user.failed_logins = 0
    user.locked_until = None
    user.save(update_fields=["is_active", "left_at", "failed_logins", "locked_until"])
    audit.record(actor, "org.user.enable", target=user, request=request)
    return user


@transaction.atomic
def user_unlock(actor, user: User, *, request=None) -> User:
    """Lifts a lock-out before its time runs out."""
    require(actor, perms.USERS_MANAGE)
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    user.refresh_from_db()
    audit.record(actor, "org.user.unlock", target=user, request=request)
    return user


@transaction.atomic
def password_change(user: User, *, old_password: str, new_password: str, keep_session_key: str | None = None, request=None) -> User:
    """The user changes their own password; their other sessions end."""
    user = User.objects.select_for_update().get(pk=user.pk)
    errors = {}
    if not user.check_password(old_password or ""):
        errors["old_password"] = [_("原密码不正确。")]
    if new_password and old_password and new_password == old_password:
        errors["new_password"] = [_("新密码不能与原密码相同。")]
    else:
        try:
            validate_password(new_password or "", user)
        except ValidationError as exc:
            errors["new_password"] = list(exc.messages)
    if errors:
        raise ValidationError(errors)
    user.set_password(new_password)
    user.password_changed_at = timezone.now()
    user.save(update_fields=["password", "password_changed_at"])
    ended = sessions_end(user, keep_session_key=keep_session_key)
    audit.record(user, "org.user.password_change", target=user, details={"other_sessions_ended": ended}, request=request)
    return user


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------

ROLE_EDITABLE = ("name", "data_scope", "permissions", "unmasked_fields", "max_clearance")


def _role_validate(role: Role) -> None:
    try:
        role.full_clean()
    except ValidationError as exc:
        raise ValidationError(exc.message_dict) from None


@transaction.atomic
def role_create(actor, *, code: str, name: str, data_scope: str = DataScope.OWN, permissions=(), unmasked_fields=(), max_clearance: int = SecretLevel.PUBLIC, request=None) -> Role:
    require(actor, perms.ROLES_MANAGE)
    role = Role(
        code=(code or "").strip(),
        name=(name or "").strip(),
        data_scope=data_scope,
        permissions=sorted(set(permissions)),
        unmasked_fields=sorted(set(unmasked_fields)),
        max_clearance=max_clearance,
    )
    _role_validate(role)
    role.save()
    audit.record(actor, "org.role.create", target=role, details=_role_snapshot(role), request=request)
    return role


@transaction.atomic
def role_update(actor, role: Role, *, request=None, **changes) -> Role:
    """Changes a role. The security admin may not edit the role they hold themselves, and a role's
    clearance cap may not fall below a holder's current clearance."""
    require(actor, perms.ROLES_MANAGE)
    unknown = set(changes) - set(ROLE_EDITABLE)
    if unknown:
        raise Invalid(_("不能修改这些字段：%s") % ", ".join(sorted(unknown)), details={"fields": sorted(unknown)})
    if actor is not None and actor.role_id == role.pk:
        raise Forbidden(_("不能修改自己所属的角色。"))
    role = Role.objects.select_for_update().get(pk=role.pk)
    before = _role_snapshot(role)
    for field, value in changes.items():
        if field in ("permissions", "unmasked_fields"):
            value = sorted(set(value))
        elif isinstance(value, str):
            value = value.strip()
        setattr(role, field, value)
    _role_validate(role)
    if "max_clearance" in changes and role.users.filter(clearance__gt=role.max_clearance).exists():
        raise ValidationError({"max_clearance": [_("已有该角色的用户持有更高的密级许可，请先调整他们的密级许可。")]})
    role.save()
    audit.record(actor, "org.role.update", target=role, details={"before": before, "after": _role_snapshot(role)}, request=request)
    return role


def _role_snapshot(role: Role) -> dict:
    return {
        "code": role.code,
        "name": role.name,
        "data_scope": role.data_scope,
        "permissions": list(role.permissions),
        "unmasked_fields": list(role.unmasked_fields),
        "max_clearance": role.max_clearance,
    }


# ---------------------------------------------------------------------------------------------
# Login and lock-out
# ---------------------------------------------------------------------------------------------


class LoginFailed(Exception):
    def __init__(self, message, *, locked_until: datetime | None = None):
        super().__init__(str(message))
        self.message = message
        self.locked_until = locked_until


@dataclass
class _Outcome:
    user: User | None = None
    error: LoginFailed | None = None


def _locked_message(until: datetime) -> str:
    local = timezone.localtime(until)
    return _("连续登录失败次数过多，账号已锁定，请于 %(time)s 之后再试，或联系系统管理员解锁。") % {"time": date_format(local, "Y-m-d H:i")}


def login_authenticate(username: str, password: str, *, request=None) -> User:
    """Checks a username and password for the login page. Counts failures and locks the account for
    `org.login.lockout_minutes` after `org.login.max_failures` failures in a row; every attempt is
    audited. Returns the user, or raises LoginFailed with the message to show."""
    username = (username or "").strip()
    with transaction.atomic():
        outcome = _login_attempt(username, password or "", request)
    if outcome.error is not None:
        raise outcome.error
    return outcome.user


def _login_setting(key: str) -> int:
    # Lock-out must work even while a pack leaves the number unset, so the schema default stands in.
    try:
        return int(policy.value(key))
    except policy.ParameterMissing:
        from zhidu.kernel.policy import registry

        return int(registry.param(key).default)


def _login_attempt(username: str, password: str, request) -> _Outcome:
    now = timezone.now()
    generic = LoginFailed(_("用户名或密码错误。"))
    user = User.objects.select_for_update().filter(username=username).first()
    if user is None:
        authenticate(request, username=username, password=password)  # same work as for a real user
        audit.record(None, "org.login.failed", target=None, details={"username": username, "reason": "unknown_user"}, request=request)
        return _Outcome(error=generic)
    if user.locked_until and user.locked_until > now:
        audit.record(None, "org.login.refused", target=user, details={"username": username, "reason": "locked", "locked_until": user.locked_until.isoformat()}, request=request)
        return _Outcome(error=LoginFailed(_locked_message(user.locked_until), locked_until=user.locked_until))
    if user.locked_until:  # the lock has run out: start counting again
        user.failed_logins = 0
        user.locked_until = None
    if not user.is_active:
        reason = "disabled"
        error = LoginFailed(_("该账号已停用，请联系系统管理员。")) if user.check_password(password) else generic
        user.save(update_fields=["failed_logins", "locked_until"])
        audit.record(None, "org.login.refused", target=user, details={"username": username, "reason": reason}, request=request)
        return _Outcome(error=error)
    authenticated = authenticate(request, username=username, password=password)
    if authenticated is None:
        user.failed_logins += 1
        details = {"username": username, "reason": "bad_password", "failures": user.failed_logins}
        error = generic
        if user.failed_logins >= _login_setting("org.login.max_failures"):
            user.locked_until = now + timedelta(minutes=_login_setting("org.login.lockout_minutes"))
            details["locked_until"] = user.locked_until.isoformat()
            error = LoginFailed(_locked_message(user.locked_until), locked_until=user.locked_until)
        user.save(update_fields=["failed_logins", "locked_until"])
        audit.record(None, "org.login.failed", target=user, details=details, request=request)
        return _Outcome(error=error)
    # `authenticated` carries the backend that django.contrib.auth.login() needs.
    User.objects.filter(pk=user.pk).update(failed_logins=0, locked_until=None)
    authenticated.failed_logins, authenticated.locked_until = 0, None
    audit.record(authenticated, "org.login", target=authenticated, request=request)
    return _Outcome(user=authenticated)


def password_expired(user: User, now: datetime | None = None) -> bool:
    """True when the pack sets `org.password.max_age_days` and the user's password is older than that
    (an account that never changed its password counts from when it was created)."""
    try:
        days = int(policy.value("org.password.max_age_days"))
    except policy.ParameterMissing:
        return False
    if days <= 0:
        return False
    changed = user.password_changed_at or user.date_joined
    return changed + timedelta(days=days) <= (now or timezone.now())


def session_record(user: User, session_key: str, ip: str | None = None) -> None:
    """Remembers that `session_key` belongs to `user` (bookkeeping for ending sessions at once)."""
    if session_key:
        UserSession.objects.update_or_create(session_key=session_key, defaults={"user": user, "ip": ip or None})


def session_forget(session_key: str | None) -> None:
    if session_key:
        UserSession.objects.filter(session_key=session_key).delete()


def logout_record(user: User, *, request=None) -> None:
    audit.record(user, "org.logout", target=user, request=request)
