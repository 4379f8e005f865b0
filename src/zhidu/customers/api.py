"""/api/v1/customers: list and search, create (Idempotency-Key honoured), read, update with optimistic
locking, status, contacts, transfer, handover and access requests. Thin: services and selectors do
the work; errors come out as {code, message, details}."""

from django.utils.translation import gettext as _
from ninja import Path, Query, Router

from zhidu.kernel.access import mask
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.idempotency import idempotent
from zhidu.org import permissions as perms

from . import selectors, services
from .schemas import (
    AccessRequestIn,
    AccessRequestOut,
    ContactIn,
    ContactOut,
    ContactPatch,
    CountsOut,
    CustomerIn,
    CustomerOut,
    CustomerPage,
    CustomerPatch,
    HandoverIn,
    HandoverOut,
    Id,
    StatusIn,
    TimelinePage,
    TransferIn,
)

router = Router(tags=["customers"])

ERRORS = {400: dict, 401: dict, 403: dict, 404: dict, 409: dict, 422: dict}


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
        "next_review_on": c.next_review_on,
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
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    _require_view(user)
    filters = {"department": department, "owner": owner, "status": status, "customer_type": customer_type, "region": region}
    page = selectors.customer_list(user, q=q, filters=filters, after=cursor, limit=limit)
    return {"items": [_row(user, c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("", response={201: CustomerOut, **ERRORS}, summary="Create a customer (Idempotency-Key honoured)")
@idempotent
def customer_create(request, payload: CustomerIn):
    data = payload.model_dump(exclude={"contacts", "confirm_duplicates"}, exclude_none=True)
    contacts = [c.model_dump() for c in payload.contacts]
    customer = services.customer_create(_user(request), data, contacts=contacts, confirm_duplicates=payload.confirm_duplicates)
    return 201, _detail(request, customer.pk)


@router.get("/counts", response={200: CountsOut, **ERRORS}, summary="Customer counts by status, type and department")
def customer_counts(request):
    user = _user(request)
    _require_view(user)
    return selectors.customer_counts(user)


@router.post("/handover", response={200: HandoverOut, **ERRORS}, summary="Hand over all customers of a staff member")
def customers_handover(request, payload: HandoverIn):
    handover = services.customers_handover(_user(request), payload.from_user, payload.to_users, payload.reason)
    return {"id": handover.pk, "from_user": handover.from_user_id, "customer_count": handover.customer_count, "reason": handover.reason, "at": handover.at}


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


@router.post("/{customer_id}/transfer", response={200: CustomerOut, **ERRORS}, summary="Transfer to another owner")
def customer_transfer(request, payload: TransferIn, customer_id: Id = Path(...)):
    services.customer_transfer(_user(request), customer_id, payload.to_owner, payload.reason)
    return _detail(request, customer_id)


@router.post("/{customer_id}/contacts", response={201: ContactOut, **ERRORS}, summary="Add a contact")
@idempotent
def contact_add(request, payload: ContactIn, customer_id: Id = Path(...)):
    user = _user(request)
    contact = services.contact_add(user, customer_id, payload.model_dump())
    return 201, _contact_out(user, contact)


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
    return 204, None


@router.post("/{customer_id}/access-requests", response={201: AccessRequestOut, **ERRORS}, summary="Request to read a file")
@idempotent
def access_request_create(request, payload: AccessRequestIn, customer_id: Id = Path(...)):
    access = services.access_request_create(_user(request), customer_id, payload.reason, payload.days)
    return 201, {
        "id": access.pk,
        "customer": access.customer_id,
        "state": access.state,
        "days": access.days,
        "reason": access.reason,
        "approval": access.approval_id,
        "granted_until": access.granted_until,
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
    from zhidu.kernel.errors import NotFound

    from .models import Contact

    if not Contact.objects.filter(pk=contact_id, customer_id=customer_id).exists():
        raise NotFound(_("联系人不存在"))

