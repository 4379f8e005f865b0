"""Approvals: one generic request walks a chain of steps taken from the pack; each step names a role.

The owning app registers what happens when a request of its kind is approved or rejected; the handler
runs in the same transaction as the final decision, so the two never disagree.
"""

from dataclasses import dataclass
from typing import Callable

from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit, notify
from zhidu.kernel.access import DataScope, user_scope
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import ApprovalDecision, ApprovalRequest

INBOX_LINK = "/kernel/approvals/"


@dataclass(frozen=True)
class Handlers:
    on_approved: Callable | None
    on_rejected: Callable | None


_registry: dict[str, Handlers] = {}


def register(kind: str, on_approved: Callable | None = None, on_rejected: Callable | None = None) -> None:
    _registry[kind] = Handlers(on_approved, on_rejected)


def registered(kind: str) -> bool:
    return kind in _registry


def _current_version():
    from zhidu.kernel import policy

    return policy.current_version()


def _clean_chain(chain) -> list[dict]:
    steps = getattr(chain, "value", chain)  # a policy Param or the plain list
    if not isinstance(steps, list) or not steps:
        raise Invalid(_("审批链为空：制度包必须为此类审批指定至少一个审批步骤"))
    cleaned = []
    for index, step in enumerate(steps):
        role = step.get("role") if isinstance(step, dict) else None
        if not role:
            raise Invalid(_("审批链第 %(n)d 步没有指定角色") % {"n": index + 1})
        cleaned.append({"role": str(role), "label": str(step.get("label") or role)})
    return cleaned


def role_holders(role_code: str):
    return get_user_model().objects.filter(role__code=role_code, is_active=True)


def _scope_for_requests(user) -> Q:
    """Approvers with a department or subtree scope see requests from their part of the tree only."""
    scope = user_scope(user)
    department = getattr(user, "department", None)
    if scope == DataScope.DEPARTMENT and department is not None:
        return Q(requested_by__department_id=department.pk)
    if scope == DataScope.SUBTREE and department is not None:
        return Q(requested_by__department__path__startswith=department.path)
    return Q()


def _approvers(request: ApprovalRequest):
    """Holders of the current step's role whose scope covers the requester's department."""
    department = request.requested_by.department
    unscoped = Q(role__data_scope__in=[DataScope.ALL, DataScope.OWN])
    if department is None:
        covers = unscoped
    else:
        ancestors = [int(part) for part in department.path.strip("/").split("/") if part.isdigit()] or [department.pk]
        covers = (
            unscoped
            | Q(role__data_scope=DataScope.DEPARTMENT, department_id=department.pk)
            | Q(role__data_scope=DataScope.SUBTREE, department_id__in=ancestors)
        )
    return role_holders(request.current_role).filter(covers).exclude(pk=request.requested_by_id)


def _notify_step(request: ApprovalRequest) -> None:
    step = request.chain[request.current_step]
    approvers = _approvers(request)
    notify.send(
        approvers,
        _("待审批：%(title)s") % {"title": request.title},
        _("%(label)s 审批（第 %(n)d/%(total)d 步）")
        % {"label": step["label"], "n": request.current_step + 1, "total": len(request.chain)},
        link=INBOX_LINK,
        category="approval",
    )


def start(kind: str, target, requested_by, chain, chain_source: str = "", title: str = "", payload=None) -> ApprovalRequest:
    """Opens a request of a registered kind and notifies the holders of the first step's role."""
    if kind not in _registry:
        raise Invalid(_("未知的审批类型：%(kind)s") % {"kind": kind})
    steps = _clean_chain(chain)
    chain_source = chain_source or getattr(chain, "source", "") or ""
    target_type, target_id = audit.target_ref(target)
    with transaction.atomic():
        request = ApprovalRequest.objects.create(
            kind=kind,
            target_type=target_type,
            target_id=target_id,
            title=str(title or kind)[:200],
            payload=audit._normalise(payload),
            chain=steps,
            chain_source=str(chain_source)[:300],
            current_step=0,
            current_role=steps[0]["role"],
            requested_by=requested_by,
            pack_version=_current_version(),
        )
        audit.record(requested_by, "approval.started", request,
                     {"kind": kind, "target": f"{target_type}:{target_id}", "chain": steps, "source": request.chain_source})
        _notify_step(request)
    return request


def decide(request_id: int, user, approve: bool, comment: str = "", expected_version: int | None = None) -> ApprovalRequest:
    """Records one decision on the current step. Approving the last step (or any rejection) finishes the
    request and runs the registered handler in the same transaction."""
    comment = (comment or "").strip()[:500]
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFound(_("审批申请不存在"))
        if expected_version is not None and request.version != expected_version:
            raise Conflict(_("该申请已被他人处理或已变更，请刷新后重试"),
                           details={"version": request.version, "expected_version": expected_version})
        if request.state != ApprovalRequest.State.PENDING:
            raise Conflict(_("该申请已处理完毕"), details={"state": request.state})
        step = request.chain[request.current_step]
        role = getattr(user, "role", None)
        if not user.is_active or role is None or role.code != step["role"]:
            raise Forbidden(_("当前步骤需要“%(label)s”审批，您没有该角色") % {"label": step["label"]})
        if request.requested_by_id == user.pk:
            raise Forbidden(_("不能审批自己提交的申请"))
        if not ApprovalRequest.objects.filter(pk=request.pk).filter(_scope_for_requests(user)).exists():
            raise Forbidden(_("该申请不在您的管辖范围内"))

        ApprovalDecision.objects.create(request=request, step=request.current_step, decided_by=user,
                                        approved=approve, comment=comment)
        now = timezone.now()
        finished = not approve or request.current_step + 1 >= len(request.chain)
        if finished:
            changes = {"state": ApprovalRequest.State.APPROVED if approve else ApprovalRequest.State.REJECTED,
                       "decided_at": now, "current_role": ""}
        else:
            changes = {"current_step": request.current_step + 1, "current_role": request.chain[request.current_step + 1]["role"]}
        updated = ApprovalRequest.objects.filter(pk=request.pk, version=request.version).update(version=F("version") + 1, **changes)
        if updated != 1:
            raise Conflict(_("该申请已被他人处理或已变更，请刷新后重试"))
        audit.record(user, "approval.approved" if approve else "approval.rejected", request,
                     {"kind": request.kind, "step": request.current_step, "label": step["label"], "comment": comment,
                      "target": f"{request.target_type}:{request.target_id}", "final": finished})
        request.refresh_from_db()
        if finished:
            handlers = _registry.get(request.kind)
            handler = handlers and (handlers.on_approved if approve else handlers.on_rejected)
            if handler:
                handler(request)
            notify.send(
                [request.requested_by_id],
                (_("申请已批准：%(title)s") if approve else _("申请被驳回：%(title)s")) % {"title": request.title},
                comment,
                link=INBOX_LINK,
                category="approval",
            )
        else:
            _notify_step(request)
    return request


def cancel(request_id: int, user) -> ApprovalRequest:
    """The requester withdraws a pending request."""
    with transaction.atomic():
        request = ApprovalRequest.objects.select_for_update().filter(pk=request_id).first()
        if request is None:
            raise NotFound(_("审批申请不存在"))
        if request.requested_by_id != user.pk:
            raise Forbidden(_("只有申请人可以撤回申请"))
        if request.state != ApprovalRequest.State.PENDING:
            raise Conflict(_("该申请已处理完毕"), details={"state": request.state})
        ApprovalRequest.objects.filter(pk=request.pk).update(
            state=ApprovalRequest.State.CANCELLED, decided_at=timezone.now(), current_role="", version=F("version") + 1)
        audit.record(user, "approval.cancelled", request, {"kind": request.kind})
        request.refresh_from_db()
    return request


def pending_for(user, *, before_id: int | None = None, limit: int = 50):
    """Requests waiting at a step this user's role decides, newest first (keyset by id); never their own."""
    role = getattr(user, "role", None)
    if role is None or not user.is_active:
        return ApprovalRequest.objects.none()
    qs = (
        ApprovalRequest.objects.filter(state=ApprovalRequest.State.PENDING, current_role=role.code)
        .exclude(requested_by=user)
        .filter(_scope_for_requests(user))
        .select_related("requested_by")
        .order_by("-id")
    )
    if before_id:
        qs = qs.filter(id__lt=before_id)
    return qs[:limit]


def get_visible(request_id: int, user) -> ApprovalRequest:
    """A request the user may look at: their own, one they decided, or one waiting for them."""
    request = ApprovalRequest.objects.filter(pk=request_id).select_related("requested_by").first()
    if request is None:
        raise NotFound(_("审批申请不存在"))
    if request.requested_by_id == user.pk or request.decisions.filter(decided_by=user).exists():
        return request
    role = getattr(user, "role", None)
    waiting_for_user = (
        request.state == ApprovalRequest.State.PENDING
        and role is not None
        and request.current_role == role.code
        and ApprovalRequest.objects.filter(pk=request.pk).filter(_scope_for_requests(user)).exists()
    )
    if waiting_for_user:
        return request
    raise NotFound(_("审批申请不存在"))
