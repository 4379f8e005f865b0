"""Org pages: log in and out, password, profile, users, departments and roles. Thin: the services
decide who may do what; the views only pick what to show."""

from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import login, logout, update_session_auth_hash
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.debug import sensitive_post_parameters
from django.views.decorators.http import require_http_methods, require_POST

from zhidu.kernel.access import SecretLevel
from zhidu.kernel.errors import ApiError, Forbidden

from . import forms, selectors, services
from . import permissions as perms
from .models import Department, Role, User
from .signals import client_ip


def any_permission(*codes):
    """The view needs one of `codes`; anyone else gets 403."""

    def decorator(view):
        @wraps(view)
        @login_required
        def wrapper(request, *args, **kwargs):
            if not any(request.user.has_perm_code(code) for code in codes):
                raise PermissionDenied(_("无权访问此页面。"))
            return view(request, *args, **kwargs)

        return wrapper

    return decorator


def _service_error(request, exc: ApiError):
    if isinstance(exc, Forbidden):
        raise PermissionDenied(str(exc.message))
    messages.error(request, exc.message)


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return settings.LOGIN_REDIRECT_URL


# ---------------------------------------------------------------------------------------------
# Log in, log out, password, profile
# ---------------------------------------------------------------------------------------------


@sensitive_post_parameters("password")
@csrf_protect
@never_cache
@require_http_methods(["GET", "POST"])
def login_view(request):
    if request.user.is_authenticated and request.method == "GET":
        return redirect(_safe_next(request))
    form = forms.LoginForm(request.POST or None)
    locked_until = None
    if request.method == "POST" and form.is_valid():
        try:
            user = services.login_authenticate(form.cleaned_data["username"], form.cleaned_data["password"], request=request)
        except services.LoginFailed as exc:
            form.add_error(None, exc.message)
            locked_until = exc.locked_until
        else:
            login(request, user)
            return redirect(_safe_next(request))
    return render(request, "org/login.html", {"form": form, "next": _safe_next(request), "locked_until": locked_until})


@require_POST
def logout_view(request):
    if request.user.is_authenticated:
        services.logout_record(request.user, request=request)
    logout(request)
    return redirect(settings.LOGIN_URL)


@sensitive_post_parameters("old_password", "new_password", "new_password2")
@login_required
@require_http_methods(["GET", "POST"])
def password_change(request):
    form = forms.PasswordChangeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.password_change(
                request.user,
                old_password=form.cleaned_data["old_password"],
                new_password=form.cleaned_data["new_password"],
                keep_session_key=request.session.session_key,
                request=request,
            )
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        else:
            old_key = request.session.session_key
            update_session_auth_hash(request, user)  # keeps this session signed in under a new key
            services.session_forget(old_key)
            services.session_record(user, request.session.session_key, client_ip(request))
            messages.success(request, _("密码已修改，其他设备上的登录已退出。"))
            return redirect("org:profile")
    context = {"form": form, "help_texts": _password_help(), "expired": services.password_expired(request.user)}
    return render(request, "org/password_change.html", context)


def _password_help() -> list[str]:
    from django.contrib.auth.password_validation import password_validators_help_texts

    return password_validators_help_texts()


@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    initial = {"display_name": user.display_name, "email": user.email, "phone": user.phone}
    form = forms.ProfileForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(request.user, user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        except ApiError as exc:
            _service_error(request, exc)
        else:
            messages.success(request, _("个人资料已保存。"))
            return redirect("org:profile")
    role = user.role
    context = {
        "form": form,
        "role": role,
        "permissions": [perms.ALL[c] for c in (role.permissions if role else []) if c in perms.ALL],
        "clearance_label": SecretLevel(user.clearance).label,
    }
    return render(request, "org/profile.html", context)


# ---------------------------------------------------------------------------------------------
# Users
# ---------------------------------------------------------------------------------------------


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


@any_permission(perms.USERS_MANAGE, perms.ROLES_MANAGE)
def users(request):
    active = {"1": True, "0": False}.get(request.GET.get("active", ""))
    page = selectors.users_page(
        request.user,
        q=request.GET.get("q", ""),
        department_id=_int(request.GET.get("department")),
        role_id=_int(request.GET.get("role")),
        active=active,
        after=_int(request.GET.get("after")),
    )
    params = request.GET.copy()
    params.pop("after", None)
    context = {
        "page": page,
        "department_choices": forms.department_choices()[1:],
        "now": timezone.now(),
        "roles": Role.objects.order_by("-is_builtin", "code"),
        "filters": request.GET,
        "base_query": params.urlencode(),
        "can_manage_users": services.can_manage_users(request.user),
    }
    return render(request, "org/users.html", context)


@any_permission(perms.USERS_MANAGE)
@require_http_methods(["GET", "POST"])
def user_create(request):
    form = forms.UserCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_create(request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        except ApiError as exc:
            _service_error(request, exc)
        else:
            messages.success(request, _("已创建账号 %(username)s。角色与密级许可由安全管理员分配。") % {"username": user.username})
            return redirect("org:user_edit", pk=user.pk)
    return render(request, "org/user_form.html", {"form": form, "creating": True})


@any_permission(perms.USERS_MANAGE, perms.ROLES_MANAGE)
@require_http_methods(["GET", "POST"])
def user_edit(request, pk: int):
    target = get_object_or_404(selectors.users_visible_to(request.user), pk=pk)
    can_users = services.can_manage_users(request.user)
    can_roles = services.can_manage_roles(request.user)
    initial = {"display_name": target.display_name, "email": target.email, "phone": target.phone, "department": target.department_id}
    form = forms.UserForm(request.POST or None, initial=initial) if can_users else None
    access_form = forms.UserAccessForm(initial={"role": target.role_id, "clearance": target.clearance}) if can_roles else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("无权修改账号资料。"))
        if form.is_valid():
            try:
                services.user_update(request.user, target, request=request, **form.cleaned_data)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            except ApiError as exc:
                _service_error(request, exc)
            else:
                messages.success(request, _("账号资料已保存。"))
                return redirect("org:user_edit", pk=target.pk)
    context = {"target": target, "form": form, "access_form": access_form, "can_manage_users": can_users, "is_self": target.pk == request.user.pk}
    return render(request, "org/user_edit.html", context)


@any_permission(perms.ROLES_MANAGE)
@require_POST
def user_access(request, pk: int):
    target = get_object_or_404(User, pk=pk)
    form = forms.UserAccessForm(request.POST)
    if not form.is_valid():
        messages.error(request, "; ".join(str(m) for errors in form.errors.values() for m in errors))
        return redirect("org:user_edit", pk=pk)
    role, clearance = form.cleaned_data["role"], form.cleaned_data["clearance"]
    try:
        # Lower the clearance before a role change and raise it after, so the role's cap holds throughout.
        if clearance <= target.clearance:
            if clearance != target.clearance:
                target = services.user_set_clearance(request.user, target, clearance, request=request)
            if role != target.role:
                target = services.user_set_role(request.user, target, role, request=request)
        else:
            if role != target.role:
                target = services.user_set_role(request.user, target, role, request=request)
            target = services.user_set_clearance(request.user, target, clearance, request=request)
    except ValidationError as exc:
        messages.error(request, "; ".join(exc.messages))
    except ApiError as exc:
        _service_error(request, exc)
    else:
        messages.success(request, _("角色与密级许可已保存。"))
    return redirect("org:user_edit", pk=pk)


def _user_action(service, success_message):
    @any_permission(perms.USERS_MANAGE)
    @require_POST
    def view(request, pk: int):
        target = get_object_or_404(User, pk=pk)
        try:
            service(request.user, target, request=request)
        except ApiError as exc:
            _service_error(request, exc)
        else:
            messages.success(request, success_message() % {"username": target.username})
        return redirect("org:user_edit", pk=pk)

    return view


user_disable = _user_action(services.user_disable, lambda: _("已停用账号 %(username)s：其所有会话和 API 令牌已立即失效。"))
user_enable = _user_action(services.user_enable, lambda: _("已启用账号 %(username)s。"))
user_unlock = _user_action(services.user_unlock, lambda: _("已解除账号 %(username)s 的锁定。"))


# ---------------------------------------------------------------------------------------------
# Departments
# ---------------------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def departments(request):
    can_edit = services.can_manage_users(request.user)
    form = forms.DepartmentCreateForm(request.POST or None) if can_edit else None
    if request.method == "POST":
        if form is None:
            raise PermissionDenied(_("无权维护部门。"))
        if form.is_valid():
            try:
                department = services.department_create(request.user, request=request, **form.cleaned_data)
            except ValidationError as exc:
                forms.apply_errors(form, exc)
            except ApiError as exc:
                _service_error(request, exc)
            else:
                messages.success(request, _("已创建部门 %(name)s。") % {"name": department.name})
                return redirect("org:departments")
    return render(request, "org/departments.html", {"tree": selectors.departments_tree(), "form": form, "can_edit": can_edit})


@any_permission(perms.USERS_MANAGE)
@require_http_methods(["GET", "POST"])
def department_edit(request, pk: int):
    department = get_object_or_404(Department, pk=pk)
    form = forms.DepartmentEditForm(request.POST or None, initial={"name": department.name, "parent": department.parent_id})
    if request.method == "POST" and form.is_valid():
        try:
            if form.cleaned_data["name"] != department.name:
                department = services.department_rename(request.user, department, name=form.cleaned_data["name"], request=request)
            parent = form.cleaned_data["parent"]
            if (parent.pk if parent else None) != department.parent_id:
                department = services.department_move(request.user, department, parent=parent, request=request)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        except ApiError as exc:
            if exc.details.get("parent"):
                form.add_error("parent", exc.message)
            else:
                _service_error(request, exc)
        else:
            messages.success(request, _("部门已保存。"))
            return redirect("org:departments")
    return render(request, "org/department_form.html", {"department": department, "form": form})


# ---------------------------------------------------------------------------------------------
# Roles
# ---------------------------------------------------------------------------------------------


@login_required
def roles(request):
    if not (services.can_manage_roles(request.user) or services.can_manage_users(request.user) or request.user.has_perm_code(perms.AUDIT_VIEW)):
        raise PermissionDenied(_("无权访问此页面。"))
    can_edit = services.can_manage_roles(request.user)
    context = {
        "roles": selectors.roles_list(),
        "permission_labels": perms.ALL,
        "can_edit": can_edit,
        "can_list_users": can_edit or services.can_manage_users(request.user),
        "labels": forms.FIELD_LABELS,
    }
    return render(request, "org/roles.html", context)


def _role_initial(role: Role) -> dict:
    return {"name": role.name, "data_scope": role.data_scope, "permissions": role.permissions, "unmasked_fields": role.unmasked_fields, "max_clearance": role.max_clearance}


@any_permission(perms.ROLES_MANAGE)
@require_http_methods(["GET", "POST"])
def role_edit(request, pk: int):
    role = get_object_or_404(Role, pk=pk)
    form = forms.RoleForm(request.POST or None, initial=_role_initial(role))
    if request.method == "POST" and form.is_valid():
        try:
            services.role_update(request.user, role, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        except ApiError as exc:
            _service_error(request, exc)
        else:
            messages.success(request, _("角色已保存。"))
            return redirect("org:roles")
    return render(request, "org/role_form.html", {"form": form, "role": role})


@any_permission(perms.ROLES_MANAGE)
@require_http_methods(["GET", "POST"])
def role_create(request):
    form = forms.RoleCreateForm(request.POST or None, initial={"max_clearance": SecretLevel.PUBLIC})
    if request.method == "POST" and form.is_valid():
        try:
            services.role_create(request.user, request=request, **form.cleaned_data)
        except ValidationError as exc:
            forms.apply_errors(form, exc)
        except ApiError as exc:
            _service_error(request, exc)
        else:
            messages.success(request, _("角色已创建。"))
            return redirect(reverse("org:roles"))
    return render(request, "org/role_form.html", {"form": form, "role": None})
