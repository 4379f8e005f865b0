"""/api/v1/admission: admission applications (checklist, evidence, investigations, submit, decide,
withdraw, re-apply, set-up steps), the blacklists (list, add, lift, re-entry and its decision), the
blacklist report and its XLSX export. Thin: services and selectors do the work; errors come out as
{code, message, details}."""

import datetime as dt
from typing import Annotated, Literal

from django.http import FileResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from pydantic import Field

from zhidu.customers.schemas import BodyId, Id, Ref
from zhidu.kernel.access import mask
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden, NotFound
from zhidu.kernel.idempotency import idempotent
from zhidu.kernel.uploads import declared_size_limited

from . import exporting, selectors, services

router = Router(tags=["admission"])
ERRORS = ERROR_RESPONSES

Text = Annotated[str, Field(max_length=4000)]
ShortText = Annotated[str, Field(max_length=300)]
Key = Annotated[str, Field(max_length=40)]
Version = Annotated[int, Field(ge=1, le=2**31, strict=True)]
Answers = Annotated[dict[Key, Text], Field(max_length=100)]


# ---------------------------------------------------------------- schemas


class ApplicationIn(Schema):
    customer_type: Key
    name: ShortText
    credit_code: ShortText = ""
    id_number: ShortText = ""
    legal_representative: ShortText = ""
    address: ShortText = ""
    region: ShortText = ""
    industry: ShortText = ""
    contact_name: ShortText = ""
    contact_phone: ShortText = ""
    note: Text = ""
    answers: Answers = {}
    department: BodyId | None = None


class ApplicationPatch(Schema):
    version: Version
    customer_type: Key | None = None
    name: ShortText | None = None
    credit_code: ShortText | None = None
    id_number: ShortText | None = None
    legal_representative: ShortText | None = None
    address: ShortText | None = None
    region: ShortText | None = None
    industry: ShortText | None = None
    contact_name: ShortText | None = None
    contact_phone: ShortText | None = None
    note: Text | None = None
    answers: Answers | None = None


class ItemIn(Schema):
    met: bool | None
    note: ShortText = ""
    version: Version | None = None


class AdmissionInvestigationIn(Schema):
    conducted_on: dt.date
    investigators: ShortText
    findings: Text
    conclusion: Literal["pass", "fail"]


class SubmitIn(Schema):
    version: Version | None = None


class DecisionIn(Schema):
    approve: bool
    reasons: Annotated[list[ShortText], Field(max_length=50)] = []
    version: Version | None = None


class WithdrawIn(Schema):
    reason: Text = ""


class SetupIn(Schema):
    done_on: dt.date | None = None
    note: ShortText = ""


class EvidenceOut(Schema):
    id: int
    title: str
    uploaded_at: dt.datetime
    download_url: str


class ChecklistItemOut(Schema):
    key: str
    label: str
    source: str
    evidence_required: bool
    evidence_hint: str
    met: bool | None
    note: str
    evidence: list[EvidenceOut]


class AdmissionInvestigationOut(Schema):
    id: int
    stage: str
    stage_label: str
    conducted_on: dt.date
    investigators: str
    findings: str
    conclusion: str
    recorded_at: dt.datetime


class SetupOut(Schema):
    key: str
    label: str
    source: str
    done_on: dt.date | None
    note: str


class MissingOut(Schema):
    kind: str
    key: str
    label: str
    message: str
    source: str


class ApplicationRow(Schema):
    id: int
    state: str
    checklist_key: str
    customer_type: str
    name: str
    credit_code: str
    owner: Ref
    department: Ref
    customer_id: int | None
    customer_code: str | None
    version: int
    created_at: dt.datetime


class ApplicationOut(ApplicationRow):
    checklist_label: str
    checklist_source: str
    legal_representative: str
    address: str
    region: str
    industry: str
    contact_name: str
    contact_phone: str
    note: str
    answers: dict
    report_fields: list[dict]
    stages: list[dict]
    chain: list[dict]
    chain_source: str
    approval_id: int | None
    previous_id: int | None
    rejection_reasons: list[str]
    items: list[ChecklistItemOut]
    investigations: list[AdmissionInvestigationOut]
    setup_steps: list[SetupOut]
    missing: list[MissingOut]


class ApplicationPage(Schema):
    items: list[ApplicationRow]
    next_cursor: int | None


class BlacklistIn(Schema):
    customer: BodyId
    scope: Literal["company", "department"]
    reason: Text
    department: BodyId | None = None
    valid_until: dt.date | None = None


class LiftIn(Schema):
    reason: Text
    version: Version | None = None


class ReentryIn(Schema):
    review: Text


class ReentryDecisionIn(Schema):
    approve: bool
    comment: ShortText = ""


class BlacklistOut(Schema):
    id: int
    scope: str
    department: Ref | None
    customer: Ref
    credit_code: str
    reason: str
    citation: str
    listed_by: Ref
    listed_on: dt.date
    valid_until: dt.date | None
    state: str
    end_reason: str
    version: int


class BlacklistPage(Schema):
    items: list[BlacklistOut]
    next_cursor: int | None


class ReentryOut(Schema):
    id: int
    entry_id: int
    state: str
    review: str
    approval_id: int | None
    grade: str
    decision_comment: str


class BlacklistReportRow(Schema):
    scope: str
    department_id: int | None
    label: str
    active: int
    ended: int
    readmitted: int
    this_year: int
    ending_soon: int


class BlacklistReportOut(Schema):
    as_of: dt.date
    lists: list[BlacklistReportRow]
    totals: dict[str, int]


class CheckOut(Schema):
    blacklisted: bool
    code: str | None = None
    message: str | None = None
    details: dict = {}


# ---------------------------------------------------------------- helpers


def _user(request):
    return request.auth


def _ref(obj) -> dict:
    return {"id": obj.pk, "name": str(obj)}


def _row(a) -> dict:
    return {
        "id": a.pk, "state": a.state, "checklist_key": a.checklist_key, "customer_type": a.customer_type, "name": a.name,
        "credit_code": a.credit_code, "owner": _ref(a.owner), "department": _ref(a.department), "customer_id": a.customer_id,
        "customer_code": a.customer.code if a.customer_id else None, "version": a.version, "created_at": a.created_at,
    }


def _detail(user, application_id) -> dict:
    a = selectors.application_get(user, application_id)
    parts = selectors.application_parts(a)
    items = [
        {
            "key": i.key, "label": i.label, "source": i.source, "evidence_required": i.evidence_required, "evidence_hint": i.evidence_hint,
            "met": i.met, "note": i.note,
            "evidence": [{"id": d.pk, "title": d.title, "uploaded_at": d.uploaded_at,
                          "download_url": f"/api/v1/admission/applications/{a.pk}/evidence/{d.pk}/download"} for d in i.documents],
        }
        for i in parts["items"]
    ]
    investigations = [
        {"id": r.pk, "stage": r.stage, "stage_label": r.stage_label, "conducted_on": r.conducted_on, "investigators": r.investigators,
         "findings": r.findings, "conclusion": r.conclusion, "recorded_at": r.recorded_at}
        for stage in parts["stages"] for r in stage["records"]
    ]
    return {
        **_row(a),
        "checklist_label": a.checklist_label, "checklist_source": a.checklist_source, "legal_representative": a.legal_representative,
        "address": a.address, "region": a.region, "industry": a.industry, "contact_name": a.contact_name, "contact_phone": mask("phone", a.contact_phone, user),
        "note": a.note, "answers": a.answers, "report_fields": a.report_fields, "stages": a.stages, "chain": a.chain, "chain_source": a.chain_source,
        "approval_id": a.approval_id, "previous_id": a.previous_id, "rejection_reasons": a.rejection_reasons,
        "items": items, "investigations": investigations,
        "setup_steps": [{"key": s.key, "label": s.label, "source": s.source, "done_on": s.done_on, "note": s.note} for s in parts["setup_steps"]],
        "missing": [{k: str(v) for k, v in m.items()} for m in parts["missing"]],
    }


def _entry_out(e) -> dict:
    return {
        "id": e.pk, "scope": e.scope, "department": _ref(e.department) if e.department_id else None,
        "customer": {"id": e.customer_id, "name": e.name}, "credit_code": e.credit_code, "reason": e.reason, "citation": e.citation,
        "listed_by": _ref(e.listed_by), "listed_on": e.listed_on, "valid_until": e.valid_until, "state": e.state,
        "end_reason": e.end_reason, "version": e.version,
    }


def _department_name(department_id) -> str:
    from zhidu.org.models import Department

    return Department.objects.filter(pk=department_id).values_list("name", flat=True).first() or ""


def _reentry_out(r) -> dict:
    return {"id": r.pk, "entry_id": r.entry_id, "state": r.state, "review": r.review, "approval_id": r.approval_id,
            "grade": r.grade, "decision_comment": r.decision_comment}


# ---------------------------------------------------------------- applications


@router.get("/applications", response={200: ApplicationPage, **ERRORS}, summary="Admission applications in my scope (keyset, newest first)")
def application_list(
    request,
    state: Literal["draft", "submitted", "approved", "rejected", "withdrawn"] | None = None,
    checklist: Key | None = None,
    q: str | None = Query(None, max_length=100),
    waiting: bool = Query(False, description="Only those waiting for my decision"),
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    selectors.require_view(user)
    page = selectors.application_list(user, state=state or "", checklist=checklist or "", q=q or "", waiting=waiting, after=cursor, limit=limit)
    return {"items": [_row(a) for a in page.items], "next_cursor": page.next_cursor}


@router.post("/applications", response={201: ApplicationOut, **ERRORS}, summary="Open an application (Idempotency-Key honoured)")
@idempotent
def application_create(request, payload: ApplicationIn):
    user = _user(request)
    application = services.application_create(user, payload.model_dump(exclude_none=True), request=request)
    return Status(201, _detail(user, application.pk))


@router.get("/applications/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="One application with checklist, evidence and investigations")
def application_get(request, application_id: Id = Path(...)):
    return _detail(_user(request), application_id)


@router.patch("/applications/{application_id}", response={200: ApplicationOut, **ERRORS}, summary="Change a draft (409 when `version` is stale)")
def application_update(request, payload: ApplicationPatch, application_id: Id = Path(...)):
    user = _user(request)
    data = payload.model_dump(exclude_unset=True, exclude={"version"})
    data = {k: ("" if v is None and k != "answers" else v) for k, v in data.items() if not (v is None and k in ("customer_type", "answers"))}
    services.application_update(user, application_id, data, payload.version, request=request)
    return _detail(user, application_id)


@router.put("/applications/{application_id}/items/{item_key}", response={200: ApplicationOut, **ERRORS}, summary="Mark a condition met / not met")
def item_check(request, payload: ItemIn, application_id: Id = Path(...), item_key: Key = Path(...)):
    user = _user(request)
    services.item_check(user, application_id, item_key, payload.met, payload.note, expected_version=payload.version, request=request)
    return _detail(user, application_id)


@router.post(
    "/applications/{application_id}/items/{item_key}/evidence",
    response={201: EvidenceOut, **ERRORS},
    summary="Upload evidence for a condition (multipart: title, file)",
)
@decorate_view(declared_size_limited("ZHIDU_DOCUMENT_MAX_BYTES"))
@idempotent
def evidence_add(
    request,
    file: File[UploadedFile],
    application_id: Id = Path(...),
    item_key: Key = Path(...),
    title: str = Form(..., max_length=1000, pattern=r"^[^\x00]*$"),
):
    doc = services.evidence_add(_user(request), application_id, item_key, title, file, request=request)
    return Status(201, {"id": doc.pk, "title": doc.title, "uploaded_at": doc.uploaded_at,
                        "download_url": f"/api/v1/admission/applications/{application_id}/evidence/{doc.pk}/download"})


@router.delete("/applications/{application_id}/evidence/{evidence_id}", response={204: None, **ERRORS}, summary="Remove evidence from a draft")
def evidence_remove(request, application_id: Id = Path(...), evidence_id: Id = Path(...)):
    services.evidence_remove(_user(request), application_id, evidence_id, request=request)
    return Status(204, None)


@router.get("/applications/{application_id}/evidence/{evidence_id}/download", response={200: None, **ERRORS}, summary="Download evidence")
def evidence_download(request, application_id: Id = Path(...), evidence_id: Id = Path(...)):
    doc = selectors.evidence_get(_user(request), application_id, evidence_id)
    try:
        handle = doc.file.open("rb")
    except OSError:
        raise NotFound(_("文件内容缺失，请联系管理员"), code="file_missing") from None
    return FileResponse(handle, as_attachment=True, filename=doc.file.name.rsplit("/", 1)[-1])


@router.post("/applications/{application_id}/investigations/{stage}", response={201: ApplicationOut, **ERRORS}, summary="Record an investigation stage")
def investigation_record(request, payload: AdmissionInvestigationIn, application_id: Id = Path(...), stage: Key = Path(...)):
    user = _user(request)
    services.investigation_record(user, application_id, stage, payload.model_dump(), request=request)
    return Status(201, _detail(user, application_id))


@router.post("/applications/{application_id}/submit", response={200: ApplicationOut, **ERRORS}, summary="Submit for approval (422 names every missing item)")
def application_submit(request, payload: SubmitIn, application_id: Id = Path(...)):
    user = _user(request)
    services.application_submit(user, application_id, expected_version=payload.version, request=request)
    return _detail(user, application_id)


@router.post("/applications/{application_id}/decision", response={200: ApplicationOut, **ERRORS}, summary="Approve (入库, code assigned) or reject with reasons")
def application_decide(request, payload: DecisionIn, application_id: Id = Path(...)):
    user = _user(request)
    services.application_decide(user, application_id, payload.approve, payload.reasons, expected_version=payload.version, request=request)
    return _detail(user, application_id)


@router.post("/applications/{application_id}/withdraw", response={200: ApplicationOut, **ERRORS}, summary="Withdraw my application")
def application_withdraw(request, payload: WithdrawIn, application_id: Id = Path(...)):
    user = _user(request)
    services.application_withdraw(user, application_id, payload.reason, request=request)
    return _detail(user, application_id)


@router.post("/applications/{application_id}/reapply", response={201: ApplicationOut, **ERRORS}, summary="Re-apply after a rejection")
@idempotent
def application_reapply(request, application_id: Id = Path(...)):
    user = _user(request)
    application = services.application_reapply(user, application_id, request=request)
    return Status(201, _detail(user, application.pk))


@router.put("/applications/{application_id}/setup/{step_key}", response={200: ApplicationOut, **ERRORS}, summary="Record a set-up step as done")
def setup_step_done(request, payload: SetupIn, application_id: Id = Path(...), step_key: Key = Path(...)):
    user = _user(request)
    services.setup_step_done(user, application_id, step_key, payload.done_on, payload.note, request=request)
    return _detail(user, application_id)


# ---------------------------------------------------------------- blacklist


@router.get("/blacklist", response={200: BlacklistPage, **ERRORS}, summary="Blacklist entries I may see")
def blacklist_list(
    request,
    scope: Literal["company", "department"] | None = None,
    state: Literal["active", "expired", "lifted", "readmitted", "excluding"] | None = None,
    department: Id | None = None,
    q: str | None = Query(None, max_length=100),
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    selectors.require_view(user)
    page = selectors.blacklist_list(user, scope=scope or "", state=state or "", department=department, q=q or "", after=cursor, limit=limit)
    return {"items": [_entry_out(e) for e in page.items], "next_cursor": page.next_cursor}


@router.post("/blacklist", response={201: BlacklistOut, **ERRORS}, summary="List a customer (Idempotency-Key honoured)")
@idempotent
def blacklist_add(request, payload: BlacklistIn):
    user = _user(request)
    entry = services.blacklist_add(user, payload.customer, payload.scope, payload.reason, department=payload.department,
                                   valid_until=payload.valid_until, request=request)
    return Status(201, _entry_out(selectors.blacklist_entry_get(user, entry.pk)))


@router.get("/blacklist/report", response={200: BlacklistReportOut, **ERRORS}, summary="Blacklist report per list")
def blacklist_report(request):
    user = _user(request)
    selectors.require_view(user)
    report = selectors.blacklist_report(user)
    return {**report, "lists": [{**row, "label": str(row["label"])} for row in report["lists"]]}


@router.get("/blacklist/export.xlsx", response={200: None, **ERRORS}, summary="Export the blacklist (XLSX; audited)")
def blacklist_export(
    request,
    scope: Literal["company", "department"] | None = None,
    state: Literal["active", "expired", "lifted", "readmitted", "excluding"] | None = None,
):
    return exporting.blacklist_xlsx(_user(request), scope=scope or "", state=state or "", request=request)


@router.get("/blacklist/check/{customer_id}", response={200: CheckOut, **ERRORS}, summary="Whether a customer may do business in a department")
def blacklist_check(request, customer_id: Id = Path(...), department: Id | None = None):
    from zhidu.customers.selectors import customers_visible

    user = _user(request)
    selectors.require_view(user)
    customer = customers_visible(user).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在"))
    try:
        services.blacklist_check(customer, department)
    except Forbidden as exc:
        if selectors.blacklist_visible(user).filter(pk=exc.details["entry_id"]).exists():
            return {"blacklisted": True, "code": exc.code, "message": str(exc.message), "details": exc.details}
        # A department list outside the viewer's scope: the answer, without that list's reason.
        details = {k: exc.details[k] for k in ("scope", "department_id", "valid_until", "state")}
        return {"blacklisted": True, "code": exc.code, "message": _("该客户已列入%(department)s客户黑名单，该部门不得与其发生商业行为") % {"department": _department_name(details["department_id"])}, "details": details}
    return {"blacklisted": False}


@router.get("/blacklist/{entry_id}", response={200: BlacklistOut, **ERRORS}, summary="One blacklist entry")
def blacklist_get(request, entry_id: Id = Path(...)):
    return _entry_out(selectors.blacklist_entry_get(_user(request), entry_id))


@router.post("/blacklist/{entry_id}/lift", response={200: BlacklistOut, **ERRORS}, summary="End the listing's period now (re-entry still needs approval)")
def blacklist_lift(request, payload: LiftIn, entry_id: Id = Path(...)):
    user = _user(request)
    services.blacklist_lift(user, entry_id, payload.reason, expected_version=payload.version, request=request)
    return _entry_out(selectors.blacklist_entry_get(user, entry_id))


@router.post("/blacklist/{entry_id}/reentry", response={201: ReentryOut, **ERRORS}, summary="Request re-entry after a review")
@idempotent
def reentry_request(request, payload: ReentryIn, entry_id: Id = Path(...)):
    reentry = services.reentry_request(_user(request), entry_id, payload.review, request=request)
    return Status(201, _reentry_out(reentry))


@router.post("/reentries/{reentry_id}/decision", response={200: ReentryOut, **ERRORS}, summary="Decide the current step of a re-entry")
def reentry_decide(request, payload: ReentryDecisionIn, reentry_id: Id = Path(...)):
    reentry = services.reentry_decide(_user(request), reentry_id, payload.approve, payload.comment, request=request)
    return _reentry_out(reentry)
