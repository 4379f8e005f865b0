"""Kernel API: the notification inbox, approvals waiting for me, and the audit log (auditors only)."""

from datetime import datetime
from typing import Annotated

from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema

from zhidu.kernel import approvals, audit, notify
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden
from zhidu.kernel.idempotency import idempotent

router = Router(tags=["kernel"])
PAGE = 50
MAX_ID = 2**63 - 1  # ids beyond a 64-bit integer are refused at the boundary, not by the database


class NotificationOut(Schema):
    id: int
    title: str
    body: str
    link: str
    category: str
    created_at: datetime
    read_at: datetime | None


class InboxOut(Schema):
    unread: int
    items: list[NotificationOut]
    next_before: int | None = Field(None, description="pass as `before` for the next (older) page")


class InboxFilter(Schema):
    before: int | None = Field(None, ge=0, le=MAX_ID)
    unread_only: bool = False
    limit: int = Field(PAGE, ge=1, le=200)


class MarkReadIn(Schema):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ID)]] | None = Field(None, max_length=1000, description="notifications to mark read; omit to mark all read")


class MarkReadOut(Schema):
    marked: int
    unread: int


class StepOut(Schema):
    role: str
    label: str


class ApprovalOut(Schema):
    id: int
    kind: str
    title: str
    target_type: str
    target_id: str
    state: str
    current_step: int
    chain: list[StepOut]
    chain_source: str
    requested_by: str
    created_at: datetime
    decided_at: datetime | None
    version: int
    payload: dict

    @staticmethod
    def resolve_requested_by(obj):
        return obj.requested_by.get_username()


class ApprovalPageOut(Schema):
    items: list[ApprovalOut]
    next_before: int | None = None


class DecideIn(Schema):
    approve: bool
    comment: str = Field("", max_length=500)
    version: int | None = Field(None, ge=0, le=MAX_ID, description="the version you saw; a stale version is refused with 409")


class AuditEntryOut(Schema):
    id: int
    seq: int
    at: datetime
    actor_id: int | None
    actor_username: str
    action: str
    target_type: str
    target_id: str
    ip: str
    details: dict
    hash: str


class AuditFilter(Schema):
    before: int | None = Field(None, ge=0, le=MAX_ID, description="seq: entries older than this one")
    action: str = Field("", max_length=100)
    target_type: str = Field("", max_length=100)
    target_id: str = Field("", max_length=100)
    actor: str = Field("", max_length=150)
    limit: int = Field(PAGE, ge=1, le=500)


class AuditPageOut(Schema):
    items: list[AuditEntryOut]
    next_before: int | None = None


@router.get("/inbox", response={200: InboxOut, **ERROR_RESPONSES}, summary="我的通知 My notifications")
def inbox(request, filters: Query[InboxFilter]):
    items = notify.inbox(request.user, before_id=filters.before, unread_only=filters.unread_only, limit=filters.limit)
    next_before = items[-1].id if len(items) == filters.limit else None
    return {"unread": notify.unread_count(request.user), "items": items, "next_before": next_before}


@router.post("/inbox/read", response={200: MarkReadOut, **ERROR_RESPONSES}, summary="标为已读 Mark notifications read")
def inbox_read(request, payload: MarkReadIn):
    marked = notify.mark_read(request.user, payload.ids)
    return {"marked": marked, "unread": notify.unread_count(request.user)}


@router.get("/approvals/pending", response={200: ApprovalPageOut, **ERROR_RESPONSES}, summary="待我审批 Approvals waiting for me")
def approvals_pending(request, before: int | None = Query(None, ge=0, le=MAX_ID), limit: int = Query(PAGE, ge=1, le=200)):
    items = list(approvals.pending_for(request.user, before_id=before, limit=limit))
    return {"items": items, "next_before": items[-1].id if len(items) == limit else None}


@router.get("/approvals/{request_id}", response={200: ApprovalOut, **ERROR_RESPONSES}, summary="审批申请 One approval request")
def approval_detail(request, request_id: int = Path(..., ge=1, le=MAX_ID)):
    return approvals.get_visible(request_id, request.user)


@router.post("/approvals/{request_id}/decide", response={200: ApprovalOut, **ERROR_RESPONSES}, summary="审批 Approve or reject")
@idempotent
def approval_decide(request, payload: DecideIn, request_id: int = Path(..., ge=1, le=MAX_ID)):
    decided = approvals.decide(request_id, request.user, payload.approve, payload.comment, payload.version)
    decided.requested_by  # noqa: B018  (loaded for the response)
    return decided


@router.get("/audit", response={200: AuditPageOut, **ERROR_RESPONSES}, summary="审计日志 Audit log (auditors)")
def audit_list(request, filters: Query[AuditFilter]):
    if not request.user.has_perm_code("audit.view"):
        raise Forbidden(_("只有审计员可以查看审计日志"))
    items = audit.entries(before_seq=filters.before, action=filters.action, target_type=filters.target_type,
                          target_id=filters.target_id, actor=filters.actor, limit=filters.limit)
    return {"items": items, "next_before": items[-1].seq if len(items) == filters.limit else None}
