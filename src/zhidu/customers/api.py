"""/api/v1/customers: list and search, create (Idempotency-Key honoured), read, update with optimistic
locking, status, contacts, documents, transfer, handover and access requests. Thin: services and
selectors do the work; errors come out as {code, message, details}."""

from typing import Literal

from django.http import FileResponse
from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile

from zhidu.kernel.access import mask
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden, NotFound
from zhidu.kernel.idempotency import idempotent
from zhidu.kernel.uploads import declared_size_limited
from zhidu.org import permissions as perms

from . import selectors, services
from .schemas import (
    AccessRequestIn,
    AccessRequestOut,
    AccessRequestPage,
    ContactIn,
    ContactOut,
    ContactPatch,
    CountsOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    DocumentPage,
    DocumentRow,
    HandoverIn,
    HandoverOut,
    Id,
    ReviewIn,
    StatusIn,
    TimelinePage,
    TransferIn,
)

router = Router(tags=["customers"])

ERRORS = ERROR_RESPONSES


def _user(request):
    return request.auth


def _ref(obj) -> dict:
    return {"id": obj.pk, "name": str(obj)}


def _row(user, customer) -> dict:
    return {
        "id": customer.pk,
        "code": customer.code,
        "customer_type": customer.customer_type,
        "name": customer.name,
        "credit_code": customer.credit_code,
        "id_number": mask("id_number", customer.id_number, user),
        "region": customer.region,
        "industry": customer.industry,
        "status": customer.status,
        "secret_level": customer.secret_level,
        "owner": _ref(customer.owner),
        "department": _ref(customer.department),
        "next_review_on": customer.next_review_on,
        "version": customer.version,
        "updated_at": customer.updated_at,
    }


def _detail(request, customer_id) -> dict:
    user = _user(request)
    detail = selectors.customer_get(user, customer_id, request=request)
    c = detail.customer
    return {
        **_row(user, c),
        "id_number": detail.id_number,
        "legal_representative": c.legal_representative,
        "address": c.address,
        "scale": c.scale,
        "extra": c.extra,
        "created_at": c.created_at,
        "contacts": detail.contacts,
        "documents": [{"id": d.pk, "title": d.title, "secret_level": d.secret_level, "uploaded_at": d.uploaded_at} for d in detail.documents],
        "via_grant": detail.via_grant,
        "grant_until": detail.grant_until,
    }


def _require_view(user):
    if not user.has_perm_code(perms.CUSTOMERS_VIEW):
        raise Forbidden(_("您没有查看客户档案的权限"), details={"permission": perms.CUSTOMERS_VIEW})


@router.get("", response={200: CustomerPage, **ERRORS}, summary="List and search customers")
def customer_list(
    request,
    q: str | None = Query(None, max_length=100),
    department: Id | None = None,
    owner: Id | None = None,
    status: str | None = Query(None, max_length=20),
    customer_type: str | None = Query(None, max_length=40),
    region: str | None = Query(None, max_length=60),
    review_due: bool = Query(False, description="Only files whose next review date is today or earlier"),
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    _require_view(user)
    filters = {"department": department, "owner": owner, "status": status, "customer_type": customer_type, "region": region, "review_due": review_due}
    page = selectors.customer_list(user, q=q, filters=filters, after=cursor, limit=limit)
    return {"items": [_row(user, c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("", response={201: CustomerOut, **ERRORS}, summary="Create a customer (Idempotency-Key honoured)")
@idempotent
def customer_create(request, payload: CustomerIn):
    data = payload.model_dump(exclude={"contacts", "confirm_duplicates"}, exclude_none=True)
    contacts = [c.model_dump() for c in payload.contacts]
    customer = services.customer_create(_user(request), data, contacts=contacts, confirm_duplicates=payload.confirm_duplicates)
    return Status(201, _detail(request, customer.pk))


@router.get("/counts", response={200: CountsOut, **ERRORS}, summary="Customer counts by status, type and department")
def customer_counts(request):
    user = _user(request)
    _require_view(user)
    return selectors.customer_counts(user)


@router.post("/handover", response={200: HandoverOut, **ERRORS}, summary="Hand over all customers of a staff member")
def customers_handover(request, payload: HandoverIn):
    handover = services.customers_handover(_user(request), payload.from_user, payload.to_users, payload.reason)
    return {
        "id": handover.pk,
        "from_user": handover.from_user_id,
        "customer_count": handover.customer_count,
        "kept_count": handover.kept_count,
        "reason": handover.reason,
        "at": handover.at,
    }


@router.get("/access-requests", response={200: AccessRequestPage, **ERRORS}, summary="My access requests, or those waiting for my approval")
def access_request_list(
    request,
    box: Literal["mine", "to_approve"] = "mine",
    customer: Id | None = None,
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    items = selectors.access_requests_for(user, customer, limit=limit, to_approve=box == "to_approve", before=cursor)
    visible = set(selectors.customers_visible(user).filter(pk__in=[a.customer_id for a in items]).values_list("pk", flat=True))
    return {"items": [_access_out(a, a.customer_id in visible) for a in items], "next_cursor": items[-1].pk if len(items) == limit else None}


@router.get("/{customer_id}", response={200: CustomerOut, **ERRORS}, summary="Read one customer file")
def customer_get(request, customer_id: Id = Path(...)):
    return _detail(request, customer_id)


@router.patch("/{customer_id}", response={200: CustomerOut, **ERRORS}, summary="Update (409 when `version` is stale)")
def customer_update(request, payload: CustomerPatch, customer_id: Id = Path(...)):
    data = payload.model_dump(exclude_unset=True, exclude={"version", "confirm_duplicates"})
    # An explicit null clears a text field; for the type, the level and extra it means "unchanged".
    data = {k: ("" if v is None else v) for k, v in data.items() if not (v is None and k in ("customer_type", "secret_level", "extra"))}
    services.customer_update(_user(request), customer_id, data, payload.version, confirm_duplicates=payload.confirm_duplicates)
    return _detail(request, customer_id)


@router.get("/{customer_id}/timeline", response={200: TimelinePage, **ERRORS}, summary="The file's timeline")
def customer_timeline(request, customer_id: Id = Path(...), cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    page = selectors.customer_timeline(_user(request), customer_id, after=cursor, limit=limit)
    items = [{"id": e.pk, "at": e.at, "actor": str(e.actor) if e.actor else None, "kind": e.kind, "summary": e.summary, "changes": e.changes} for e in page.items]
    return {"items": items, "next_cursor": page.next_cursor}


@router.post("/{customer_id}/status", response={200: CustomerOut, **ERRORS}, summary="Change the status")
def customer_set_status(request, payload: StatusIn, customer_id: Id = Path(...)):
    services.customer_set_status(_user(request), customer_id, payload.status, payload.reason, expected_version=payload.version)
    return _detail(request, customer_id)


@router.post("/{customer_id}/review", response={200: CustomerOut, **ERRORS}, summary="Record a review of the file (复核); sets the next review date")
def customer_review(request, payload: ReviewIn, customer_id: Id = Path(...)):
    services.customer_review_record(_user(request), customer_id, payload.note, expected_version=payload.version)
    return _detail(request, customer_id)


@router.post("/{customer_id}/transfer", response={200: CustomerOut, **ERRORS}, summary="Transfer to another owner")
def customer_transfer(request, payload: TransferIn, customer_id: Id = Path(...)):
    services.customer_transfer(_user(request), customer_id, payload.to_owner, payload.reason)
    return _detail(request, customer_id)


@router.post("/{customer_id}/contacts", response={201: ContactOut, **ERRORS}, summary="Add a contact")
@idempotent
def contact_add(request, payload: ContactIn, customer_id: Id = Path(...)):
    user = _user(request)
    contact = services.contact_add(user, customer_id, payload.model_dump())
    return Status(201, _contact_out(user, contact))


@router.patch("/{customer_id}/contacts/{contact_id}", response={200: ContactOut, **ERRORS}, summary="Change a contact")
def contact_update(request, payload: ContactPatch, customer_id: Id = Path(...), contact_id: Id = Path(...)):
    user = _user(request)
    _contact_of(user, customer_id, contact_id)
    contact = services.contact_update(user, contact_id, payload.model_dump(exclude_unset=True, exclude_none=True))
    return _contact_out(user, contact)


@router.delete("/{customer_id}/contacts/{contact_id}", response={204: None, **ERRORS}, summary="Remove a contact")
def contact_remove(request, customer_id: Id = Path(...), contact_id: Id = Path(...)):
    user = _user(request)
    _contact_of(user, customer_id, contact_id)
    services.contact_remove(user, contact_id)
    return Status(204, None)


@router.post("/{customer_id}/access-requests", response={201: AccessRequestOut, **ERRORS}, summary="Request to read a file")
@idempotent
def access_request_create(request, payload: AccessRequestIn, customer_id: Id = Path(...)):
    user = _user(request)
    access = services.access_request_create(user, customer_id, payload.reason, payload.days, code=payload.code)
    return Status(201, _access_out(access, selectors.customers_visible(user).filter(pk=access.customer_id).exists()))


@router.post("/{customer_id}/documents", response={201: DocumentRow, **ERRORS}, summary="Upload a document (multipart: title, secret_level, file)")
@decorate_view(declared_size_limited("ZHIDU_DOCUMENT_MAX_BYTES"))
@idempotent
def document_upload(
    request,
    file: File[UploadedFile],
    customer_id: Id = Path(...),
    title: str = Form(..., max_length=1000, pattern=r"^[^\x00]*$"),  # no NUL: PostgreSQL cannot store it
    secret_level: int = Form(0, ge=0, le=3),
):
    document = services.document_add(_user(request), customer_id, title, file, secret_level=secret_level)
    return Status(201, _document_out(document))


@router.get("/{customer_id}/documents", response={200: DocumentPage, **ERRORS}, summary="Documents at or below the viewer's clearance")
def document_list(request, customer_id: Id = Path(...), cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    user = _user(request)
    _require_view(user)
    page = selectors.customer_documents(user, customer_id, after=cursor, limit=limit)
    return {"items": [_document_out(d) for d in page.items], "next_cursor": page.next_cursor}


@router.get(
    "/{customer_id}/documents/{document_id}/download",
    response={200: None, **ERRORS},
    summary="Download a document (above 公开 audited as a confidential read)",
)
def document_download(request, customer_id: Id = Path(...), document_id: Id = Path(...)):
    user = _user(request)
    _require_view(user)
    document = selectors.document_for_download(user, customer_id, document_id, request=request)
    try:
        handle = document.file.open("rb")
    except OSError:
        raise NotFound(_("文件内容缺失，请联系管理员"), code="file_missing") from None
    return FileResponse(handle, as_attachment=True, filename=_file_name(document))


def _file_name(document) -> str:
    return document.file.name.rsplit("/", 1)[-1]


def _document_out(document) -> dict:
    return {
        "id": document.pk,
        "title": document.title,
        "secret_level": document.secret_level,
        "uploaded_at": document.uploaded_at,
        "file_name": _file_name(document),
        "uploaded_by": _ref(document.uploaded_by),
        "download_url": f"/api/v1/customers/{document.customer_id}/documents/{document.pk}/download",
    }


def _access_out(access, visible: bool) -> dict:
    """`customer_code` only when the caller may read the file: a request must not reveal it."""
    return {
        "id": access.pk,
        "customer": access.customer_id,
        "customer_code": access.customer.code if visible else None,
        "requested_by": _ref(access.requested_by),
        "state": access.state,
        "days": access.days,
        "reason": access.reason,
        "approval": access.approval_id,
        "granted_until": access.granted_until,
        "created_at": access.created_at,
    }


def _contact_out(user, contact) -> dict:
    return {
        "id": contact.pk,
        "name": contact.name,
        "title": contact.title,
        "phone": mask("phone", contact.phone, user),
        "email": contact.email,
        "is_primary": contact.is_primary,
    }


def _contact_of(user, customer_id, contact_id) -> None:
    """The contact must belong to the customer in the path (404 otherwise)."""
    from .models import Contact

    if not Contact.objects.filter(pk=contact_id, customer_id=customer_id).exists():
        raise NotFound(_("联系人不存在"))

