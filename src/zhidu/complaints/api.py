"""/api/v1/complaints: register (Idempotency-Key honoured), list (keyset, filters incl. overdue), detail,
every step of the workflow (each takes the case's `version`: a stale one is 409), approvals of plans,
extensions and penalties, the caller's own penalties, and the public tracking lookup (no login,
rate-limited). Thin: services and selectors do the work; errors come out as {code, message, details}."""

from django.utils.translation import gettext as _
from ninja import Path, Query, Router, Status

from zhidu.kernel.access import mask
from zhidu.kernel.errors import ERROR_RESPONSES, ApiError, Forbidden, NotFound
from zhidu.kernel.idempotency import idempotent
from zhidu.org import permissions as perms

from . import ratelimit, selectors, services
from .schemas import (
    ApprovalDecisionIn,
    AssignIn,
    ClassifyIn,
    CloseIn,
    ComplaintApprovalOut,
    ComplaintDecideIn,
    ComplaintIn,
    ComplaintOut,
    ComplaintPage,
    ExtensionIn,
    Id,
    InformIn,
    InvestigateIn,
    NoteIn,
    OptionalNoteIn,
    PenaltyIn,
    PenaltyOut,
    PenaltyPage,
    PublicComplaintIn,
    PublicCreatedOut,
    RemedyIn,
    ReopenIn,
    ReportIn,
    ReturnVisitIn,
    TrackOut,
)

router = Router(tags=["complaints"])
ERRORS = {**ERROR_RESPONSES, 429: ERROR_RESPONSES[400]}


class RateLimited(ApiError):
    status = 429
    code = "rate_limited"


def _user(request):
    return request.auth


def _ref(obj) -> dict | None:
    if obj is None:
        return None
    return {"id": obj.pk, "name": getattr(obj, "name", None) if hasattr(obj, "path") else str(obj)}


def _require_view(user):
    if not user.has_perm_code(perms.COMPLAINTS_VIEW):
        raise Forbidden(_("您没有查看投诉的权限"), details={"permission": perms.COMPLAINTS_VIEW})


def _row(user, c, customers: set[int]) -> dict:
    """One case for the API; `customers`: the linked customers the caller may read (others stay unnamed)."""
    return {
        "id": c.pk,
        "tracking_no": c.tracking_no,
        "status": c.status,
        "status_label": str(c.get_status_display()),
        "validity": c.validity,
        "severity": c.severity,
        "severity_label": selectors.severity_label(c),
        "channel": c.channel,
        "channel_label": selectors.option_label(c, "channels", c.channel),
        "category": c.category,
        "category_label": selectors.option_label(c, "categories", c.category),
        "complainant_name": c.complainant_name,
        "complainant_phone": mask("phone", c.complainant_phone, user),
        "subject": c.subject,
        "customer": {"id": c.customer_id, "name": c.customer.name} if c.customer_id in customers else None,
        "owner": _ref(c.owner),
        "receiver": _ref(c.receiver),
        "department": _ref(c.department),
        "priority_rank": c.priority_rank,
        "round": c.round,
        "waiting": c.waiting_since is not None,
        "overdue": c.overdue,
        "first_response_due": c.first_response_due,
        "resolution_due": c.resolution_due,
        "next_due_at": c.next_due_at,
        "created_at": c.created_at,
        "closed_at": c.closed_at,
        "archived": c.archived,
        "version": c.version,
    }


def _approval_role(approval) -> str:
    return approval.current_role if approval is not None else ""


def _penalty_out(p) -> dict:
    return {
        "id": p.pk, "complaint": p.complaint_id, "tracking_no": p.complaint.tracking_no, "staff": _ref(p.staff),
        "amount": p.amount, "unit": p.unit, "reason": p.reason, "citation": p.citation, "state": p.state,
        "approval": p.approval_id, "current_role": _approval_role(p.approval), "ledger_entry": p.ledger_entry_id,
        "period": p.ledger_entry.period if p.ledger_entry_id else None, "created_at": p.created_at, "decided_at": p.decided_at,
    }


def _detail(request, complaint_id, access_code: bool = False) -> dict:
    user = _user(request)
    d = selectors.complaint_detail(user, complaint_id)
    c = d.complaint
    return {
        **_row(user, c, selectors.visible_customer_ids(user, [c])),
        "access_code": c.access_code if access_code else None,
        "complainant_email": c.complainant_email,
        "complainant_address": c.complainant_address,
        "complainant_type": c.complainant_type,
        "motive": c.motive,
        "content": c.content,
        "incident_at": c.incident_at,
        "households_affected": c.households_affected,
        "extra": c.extra,
        "invalid_reason": c.invalid_reason,
        "malicious": c.malicious,
        "reply_text": c.reply_text,
        "time_barred": c.time_barred,
        "major_reasons": c.major_reasons,
        "labels": d.labels,
        "subject_staff": _ref(c.subject_staff),
        "subject_department": _ref(c.subject_department),
        "closing_summary": c.closing_summary,
        "corrective_actions": c.corrective_actions,
        "preventive_actions": c.preventive_actions,
        "escalated_at": c.escalated_at,
        "archived_at": c.archived_at,
        "pack_version": c.pack_version_id,
        "actions": d.actions,
        "deadlines": [
            {"key": x.policy_key.removeprefix(services.DEADLINE_PREFIX), "title": x.title, "started_at": x.started_at, "amount": x.amount,
             "unit": x.unit, "due_at": x.due_at, "state": x.state, "breached_at": x.breached_at, "met_at": x.met_at,
             "escalation_level": x.escalation_level, "source": x.source}
            for x in d.deadlines
        ],
        "events": [{"id": e.pk, "at": e.at, "actor": _ref(e.actor), "kind": e.kind, "note": e.note, "public": e.public, "data": e.data}
                   for e in d.events],
        "investigations": [
            {"id": i.pk, "round": i.round, "cause": i.cause, "findings": i.findings, "loopholes": i.loopholes,
             "responsible_user": _ref(i.responsible_user), "responsible_department": _ref(i.responsible_department),
             "investigated_by": _ref(i.investigated_by), "at": i.at}
            for i in d.investigations
        ],
        "remedies": [
            {"id": r.pk, "round": r.round, "description": r.description, "compensation": r.compensation, "state": r.state,
             "approval": r.approval_id, "current_role": _approval_role(r.approval), "proposed_by": _ref(r.proposed_by),
             "created_at": r.created_at, "decided_at": r.decided_at, "carried_out_at": r.carried_out_at}
            for r in d.remedies
        ],
        "return_visits": [
            {"id": v.pk, "round": v.round, "visited_by": _ref(v.visited_by), "role_code": v.role_code, "satisfied": v.satisfied,
             "note": v.note, "at": v.at}
            for v in d.return_visits
        ],
        "extensions": [
            {"id": x.pk, "amount": x.amount, "unit": x.unit, "reason": x.reason, "state": x.state, "approval": x.approval_id,
             "current_role": _approval_role(x.approval), "requested_by": _ref(x.requested_by), "created_at": x.created_at,
             "decided_at": x.decided_at}
            for x in d.extensions
        ],
        "penalties": [_penalty_out(p) for p in d.penalties],
    }


def _rate_limit(request, what: str) -> None:
    """Counts a public call against the API's own limit and the public page's limit of `what` (ratelimit.py),
    so neither path widens the other."""
    who = ratelimit.address(request)
    if ratelimit.exceeded("api", who) or ratelimit.exceeded(what, who):
        raise RateLimited(_("请求过于频繁，请稍后再试"), details={"retry_after_seconds": ratelimit.WINDOW_SECONDS})
    ratelimit.hit("api", who)
    ratelimit.hit(what, who)


# --------------------------------------------------------------------------------------------- collection


@router.get("", response={200: ComplaintPage, **ERRORS}, summary="List complaints (keyset; filters incl. overdue)")
def complaint_list(
    request,
    q: str | None = Query(None, max_length=100),
    status: str | None = Query(None, max_length=200, description="One status or a comma-separated list"),
    department: Id | None = None,
    owner: Id | None = None,
    receiver: Id | None = None,
    customer: Id | None = None,
    severity: str | None = Query(None, max_length=10),
    channel: str | None = Query(None, max_length=40),
    category: str | None = Query(None, max_length=40),
    validity: str | None = Query(None, max_length=10),
    overdue: bool = Query(False, description="Only cases with a time limit that has passed"),
    archived: bool = Query(False, description="Include archived cases"),
    mine: bool = Query(False, description="Only cases the caller owns or received"),
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    _require_view(user)
    filters = {"status": status, "department": department, "owner": owner, "receiver": receiver, "customer": customer,
               "severity": severity, "channel": channel, "category": category, "validity": validity, "overdue": overdue,
               "archived": archived, "mine": mine}
    page = selectors.complaint_list(user, q=q, filters=filters, after=cursor, limit=limit)
    customers = selectors.visible_customer_ids(user, page.items)
    return {"items": [_row(user, c, customers) for c in page.items], "next_cursor": page.next_cursor}


@router.post("", response={201: ComplaintOut, **ERRORS}, summary="Register a complaint (Idempotency-Key honoured)")
@idempotent
def complaint_create(request, payload: ComplaintIn):
    complaint = services.complaint_register(_user(request), payload.model_dump(exclude_none=True), request=request)
    return Status(201, _detail(request, complaint.pk, access_code=True))


@router.get("/penalties/mine", response={200: PenaltyPage, **ERRORS}, summary="The caller's own complaint penalties")
def penalties_mine(request, cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    page = selectors.penalties_for(_user(request), after=cursor, limit=limit)
    return {"items": [_penalty_out(p) for p in page.items], "next_cursor": page.next_cursor}


@router.post("/approvals/{approval_id}/decide", response={200: ComplaintApprovalOut, **ERRORS},
             summary="Decide a remedy plan, extension or penalty approval (the person complained about may not)")
def approval_decide(request, payload: ApprovalDecisionIn, approval_id: Id = Path(...)):
    approval = services.approval_decide(_user(request), approval_id, payload.approve, comment=payload.comment,
                                        expected_version=payload.version, request=request)
    return {"id": approval.pk, "kind": approval.kind, "state": approval.state, "current_step": approval.current_step,
            "current_role": approval.current_role, "version": approval.version}


@router.get("/track", response={200: TrackOut, **ERRORS}, auth=None,
            summary="Public: a complainant looks up their case by tracking number and phone or access code")
def complaint_track(request, no: str = Query(..., max_length=30), code: str = Query(..., max_length=40)):
    _rate_limit(request, "lookup")
    # The public page's guard against guessing the phone behind a number: failed lookups are counted per
    # tracking number and per address, across the page and the API.
    number, who = (no or "").strip().upper(), ratelimit.address(request)
    if ratelimit.exceeded("lookup_failed", number) or ratelimit.exceeded("lookup_failed", f"ip:{who}"):
        raise RateLimited(_("查询过于频繁，请一小时后再试"), details={"retry_after_seconds": ratelimit.WINDOW_SECONDS})
    found = selectors.complaint_track(number, code)
    if found is None:
        ratelimit.hit("lookup_failed", number)
        ratelimit.hit("lookup_failed", f"ip:{who}")
        raise NotFound(_("没有找到与受理编号和电话（或查询码）相符的投诉"))
    return found


@router.post("/public", response={201: PublicCreatedOut, **ERRORS}, auth=None,
             summary="Public: file a complaint without logging in (when the pack opens a public channel)")
def complaint_public_create(request, payload: PublicComplaintIn):
    _rate_limit(request, "submit")
    complaint = services.complaint_submit_public(payload.model_dump(exclude_none=True), request=request)
    return Status(201, {"tracking_no": complaint.tracking_no, "access_code": complaint.access_code,
                        "first_response_due": complaint.first_response_due})


# --------------------------------------------------------------------------------------------- one case


@router.get("/{complaint_id}", response={200: ComplaintOut, **ERRORS}, summary="One complaint with its timeline, timers and records")
def complaint_get(request, complaint_id: Id = Path(...)):
    _require_view(_user(request))
    return _detail(request, complaint_id)


def _act(request, complaint_id, fn, **kwargs):
    fn(_user(request), complaint_id, request=request, **kwargs)
    return _detail(request, complaint_id)


@router.post("/{complaint_id}/decide", response={200: ComplaintOut, **ERRORS}, summary="Decide whether the complaint stands")
def complaint_decide(request, payload: ComplaintDecideIn, complaint_id: Id = Path(...)):
    data = payload.model_dump(exclude={"version", "valid"})
    return _act(request, complaint_id, lambda u, i, **kw: services.complaint_decide(u, i, payload.valid, **kw),
                expected_version=payload.version, **data)


@router.post("/{complaint_id}/classify", response={200: ComplaintOut, **ERRORS}, summary="Correct the classification (major re-evaluated)")
def complaint_classify(request, payload: ClassifyIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_classify, expected_version=payload.version, **payload.model_dump(exclude={"version"}))


@router.post("/{complaint_id}/assign", response={200: ComplaintOut, **ERRORS}, summary="Assign (or reassign) department and owner")
def complaint_assign(request, payload: AssignIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_assign, expected_version=payload.version, department=payload.department,
                owner=payload.owner, note=payload.note)


@router.post("/{complaint_id}/investigate", response={200: ComplaintOut, **ERRORS}, summary="Record cause and responsible person")
def complaint_investigate(request, payload: InvestigateIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_investigate, expected_version=payload.version, **payload.model_dump(exclude={"version"}))


@router.post("/{complaint_id}/remedy", response={200: ComplaintOut, **ERRORS}, summary="Propose a remedy plan (approval by the authority matrix)")
def complaint_remedy(request, payload: RemedyIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_propose_remedy, expected_version=payload.version,
                description=payload.description, compensation=payload.compensation)


@router.post("/{complaint_id}/carry-out", response={200: ComplaintOut, **ERRORS}, summary="Record that the plan was carried out")
def complaint_carry_out(request, payload: NoteIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_carry_out, expected_version=payload.version, note=payload.note)


@router.post("/{complaint_id}/inform", response={200: ComplaintOut, **ERRORS}, summary="Inform the complainant of the result")
def complaint_inform(request, payload: InformIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_inform, expected_version=payload.version, message=payload.message)


@router.post("/{complaint_id}/return-visit", response={200: ComplaintOut, **ERRORS}, summary="Record a return visit (not satisfied: reopened)")
def complaint_return_visit(request, payload: ReturnVisitIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_return_visit, expected_version=payload.version, satisfied=payload.satisfied,
                note=payload.note)


@router.post("/{complaint_id}/reopen", response={200: ComplaintOut, **ERRORS}, summary="Handle the case again")
def complaint_reopen(request, payload: ReopenIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_reopen, expected_version=payload.version, reason=payload.reason)


@router.post("/{complaint_id}/report", response={200: ComplaintOut, **ERRORS}, summary="Submit a post-handling report or a major-complaint warning")
def complaint_report(request, payload: ReportIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_report, expected_version=payload.version, kind=payload.kind, text=payload.text)


@router.post("/{complaint_id}/extension", response={200: ComplaintOut, **ERRORS}, summary="Request a longer resolution time limit")
def complaint_extension(request, payload: ExtensionIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_request_extension, expected_version=payload.version, amount=payload.amount,
                reason=payload.reason)


@router.post("/{complaint_id}/wait", response={200: ComplaintOut, **ERRORS}, summary="Pause the clocks while waiting for the complainant")
def complaint_wait(request, payload: NoteIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_wait_for_complainant, expected_version=payload.version, note=payload.note)


@router.post("/{complaint_id}/resume", response={200: ComplaintOut, **ERRORS}, summary="Restart the clocks")
def complaint_resume(request, payload: OptionalNoteIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_resume, expected_version=payload.version, note=payload.note)


@router.post("/{complaint_id}/close", response={200: ComplaintOut, **ERRORS}, summary="Close with summary and corrective/preventive actions")
def complaint_close(request, payload: CloseIn, complaint_id: Id = Path(...)):
    return _act(request, complaint_id, services.complaint_close, expected_version=payload.version, summary=payload.summary,
                corrective_actions=payload.corrective_actions, preventive_actions=payload.preventive_actions)


@router.post("/{complaint_id}/penalties", response={201: PenaltyOut, **ERRORS}, summary="Propose the pack's penalty on a staff member")
@idempotent
def penalty_propose(request, payload: PenaltyIn, complaint_id: Id = Path(...)):
    penalty = services.penalty_propose(_user(request), complaint_id, staff=payload.staff, amount=payload.amount, reason=payload.reason,
                                       request=request)
    penalty = type(penalty).objects.select_related("complaint", "staff", "approval", "ledger_entry").get(pk=penalty.pk)
    return Status(201, _penalty_out(penalty))

