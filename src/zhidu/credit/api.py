"""/api/v1/credit: credit accounts (grade, limit, terms, info card, trade state), orders with the credit
check, receivables and payments, investigations, emergency measures, business-registration changes,
reports, imports and XLSX exports. Thin: services and selectors do the work; errors come out as
{code, message, details}; creates honour Idempotency-Key."""

import datetime as dt
from typing import Annotated, Literal

from django.utils.translation import gettext as _
from ninja import File, Path, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from pydantic import Field

from zhidu.customers.schemas import Id
from zhidu.kernel import importing
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden, NotFound
from zhidu.kernel.exporting import file_download
from zhidu.kernel.idempotency import idempotent
from zhidu.kernel.models import ImportJob
from zhidu.kernel.uploads import declared_size_limited
from zhidu.org import permissions as perms

from . import exporting, selectors, services
from .models import ChangeKind, InvestigationChannel, MeasureKind, OrderState, TradeState

router = Router(tags=["credit"])
ERRORS = ERROR_RESPONSES

Text = Annotated[str, Field(max_length=500)]
LongText = Annotated[str, Field(max_length=5000)]
Ref = Annotated[str, Field(max_length=100)]
# In JSON bodies a number must be a number (`true` is not an amount of 1); the services check the range.
Money = Annotated[str, Field(max_length=40)] | Annotated[int, Field(strict=True)] | Annotated[float, Field(strict=True)]
GradeKey = Annotated[str, Field(max_length=10)]


# ---------------------------------------------------------------- schemas


class CustomerRef(Schema):
    id: int
    code: str | None
    name: str


class AccountOut(Schema):
    customer: CustomerRef
    grade: str
    credit_limit: str
    payment_term_days: int
    trade_state: str
    trade_reason: str
    receivables_outstanding: str
    open_orders: str
    exposure: str
    over_limit: bool
    oldest_unpaid_due_on: dt.date | None
    next_investigation_on: dt.date | None
    last_investigation_on: dt.date | None
    info_card: dict
    version: int


class AccountPage(Schema):
    items: list[AccountOut]
    next_cursor: int | None


class OrderOut(Schema):
    id: int
    customer: int
    reference: str
    ordered_on: dt.date
    product: str
    quantity: str
    unit_price: str
    amount: str
    payment: str
    state: str
    source: str
    check: dict
    approval: int | None
    refuse_reason: str
    delivered_on: dt.date | None


class OrderPage(Schema):
    items: list[OrderOut]
    next_cursor: int | None


class ReceivableOut(Schema):
    id: int
    customer: int
    order: int | None
    reference: str
    amount: str
    paid_amount: str
    outstanding: str
    invoiced_on: dt.date
    due_on: dt.date
    state: str


class ReceivablePage(Schema):
    items: list[ReceivableOut]
    next_cursor: int | None


class TermsIn(Schema):
    grade: GradeKey
    credit_limit: Money
    payment_term_days: Annotated[int, Field(ge=0, le=3650, strict=True)]
    reason: Text
    version: Annotated[int, Field(ge=1, le=2**31, strict=True)] | None = None


class InfoCardIn(Schema):
    contact_person: Text | None = None
    contact_phone: Text | None = None
    address: Text | None = None
    payment_attitude: Text | None = None
    payment_time: Text | None = None
    bank_relations: Text | None = None
    finance_controller: Text | None = None
    payment_method: Text | None = None
    trading_history: Text | None = None
    version: Annotated[int, Field(ge=1, le=2**31, strict=True)] | None = None


class OrderIn(Schema):
    reference: Ref
    product: Text
    quantity: Money
    unit_price: Money
    ordered_on: dt.date | None = None
    payment: Literal["credit", "cash"] = "credit"


class DeliverIn(Schema):
    delivered_on: dt.date | None = None


class CreditReasonIn(Schema):
    reason: Text


class StopIn(Schema):
    reason: Text
    terminate: bool = False


class ReceivableIn(Schema):
    reference: Ref
    amount: Money
    invoiced_on: dt.date | None = None
    due_on: dt.date | None = None
    paid_amount: Money | None = None


class PaymentIn(Schema):
    amount: Money


class MeasureIn(Schema):
    kind: Literal[tuple(MeasureKind.values)]  # type: ignore[valid-type]
    detail: Text
    instructed_by: Annotated[str, Field(max_length=100)]
    amount: Money | None = None


class MeasureOut(Schema):
    id: int
    customer: int
    kind: str
    detail: str
    amount: str | None
    instructed_by: str


class CreditInvestigationIn(Schema):
    channel: Literal[tuple(InvestigationChannel.values)]  # type: ignore[valid-type]
    summary: LongText
    kind: Literal["periodic", "emergency"] = "periodic"
    investigated_on: dt.date | None = None
    grade_after: GradeKey = ""


class CreditInvestigationOut(Schema):
    id: int
    customer: int
    kind: str
    channel: str
    investigated_on: dt.date
    summary: str
    grade_before: str
    grade_after: str
    next_investigation_on: dt.date | None


class RegistrationChangeIn(Schema):
    kind: Literal[tuple(ChangeKind.values)]  # type: ignore[valid-type]
    description: Text
    changed_on: dt.date
    reported_on: dt.date | None = None


class ReportedIn(Schema):
    reported_on: dt.date | None = None


class RegistrationChangeOut(Schema):
    id: int
    customer: int
    kind: str
    description: str
    changed_on: dt.date
    due_at: dt.datetime
    reported_on: dt.date | None
    late: bool
    source: str


class RegistrationChangePage(Schema):
    items: list[RegistrationChangeOut]
    next_cursor: int | None


class CreditGradeOut(Schema):
    key: str
    label: str
    label_en: str
    credit_allowed: bool
    settlement: str
    investigation_every_months: int
    terms: str
    max_limit: int | None
    max_payment_term_days: int | None
    criteria: str | None


class GradesOut(Schema):
    grades: list[CreditGradeOut]
    source: str
    missing_parameters: list[dict]


class ExposureReportOut(Schema):
    by_grade: list[dict]
    by_trade: list[dict]
    overdue_receivables: int
    overdue_amount: str
    pending_orders: int
    overdue_before: dt.date


class ImportOut(Schema):
    id: int
    kind: str
    status: str
    total_rows: int | None
    processed_rows: int
    ok_rows: int
    failed_rows: int
    message: str


# ---------------------------------------------------------------- helpers


def _user(request):
    return request.auth


def _require_view(user):
    if not selectors.can_view(user):
        raise Forbidden(_("您没有查看信用信息的权限"), details={"permission": perms.CREDIT_VIEW})


def _account_out(user, account) -> dict:
    c = account.customer
    return {
        "customer": {"id": c.pk, "code": c.code, "name": c.name},
        "grade": account.grade,
        "credit_limit": str(account.credit_limit),
        "payment_term_days": account.payment_term_days,
        "trade_state": account.trade_state,
        "trade_reason": account.trade_reason,
        "receivables_outstanding": str(account.receivables_outstanding),
        "open_orders": str(account.open_orders),
        "exposure": str(account.exposure),
        "over_limit": account.over_limit,
        "oldest_unpaid_due_on": account.oldest_unpaid_due_on,
        "next_investigation_on": account.next_investigation_on,
        "last_investigation_on": account.last_investigation_on,
        "info_card": selectors.info_card_masked(user, account.info_card),
        "version": account.version,
    }


def _order_out(o) -> dict:
    return {
        "id": o.pk, "customer": o.customer_id, "reference": o.reference, "ordered_on": o.ordered_on, "product": o.product,
        "quantity": str(o.quantity), "unit_price": str(o.unit_price), "amount": str(o.amount), "payment": o.payment, "state": o.state,
        "source": o.source, "check": o.check_result or {}, "approval": o.approval_id, "refuse_reason": o.refuse_reason, "delivered_on": o.delivered_on,
    }  # fmt: skip


def _receivable_out(r) -> dict:
    return {"id": r.pk, "customer": r.customer_id, "order": r.order_id, "reference": r.reference, "amount": str(r.amount), "paid_amount": str(r.paid_amount),
            "outstanding": str(r.outstanding), "invoiced_on": r.invoiced_on, "due_on": r.due_on, "state": r.state}  # fmt: skip


def _change_out(c) -> dict:
    return {"id": c.pk, "customer": c.customer_id, "kind": c.kind, "description": c.description, "changed_on": c.changed_on, "due_at": c.due_at,
            "reported_on": c.reported_on, "late": c.late, "source": c.source}  # fmt: skip


def _account_of(user, customer_id) -> dict:
    detail = selectors.customer_credit(user, customer_id)
    return _account_out(user, detail.account)


# ---------------------------------------------------------------- grades, accounts


@router.get("/grades", response={200: GradesOut, **ERRORS}, summary="The pack's credit grades, their maxima and criteria")
def grade_list(request):
    from zhidu.kernel import policy
    from zhidu.kernel.policy import ParameterMissing

    _require_view(_user(request))

    def optional(key):
        try:
            return policy.value(key)
        except ParameterMissing:
            return None

    limits, terms, criteria = optional("credit.grade_max_limits"), optional("credit.grade_payment_term_days"), optional("credit.grade_criteria")
    grades = [
        {**{k: g.get(k) for k in ("key", "label", "label_en", "credit_allowed", "settlement", "investigation_every_months", "terms")},
         "max_limit": (limits or {}).get(g["key"]), "max_payment_term_days": (terms or {}).get(g["key"]), "criteria": (criteria or {}).get(g["key"]) if criteria is not None else None}
        for g in services.grades().values()
    ]  # fmt: skip
    return {"grades": grades, "source": policy.get("credit.grades").source, "missing_parameters": selectors.missing_parameters()}


@router.get("/accounts", response={200: AccountPage, **ERRORS}, summary="Credit accounts (exposure list), newest first")
def account_list(
    request,
    grade: GradeKey | None = None,
    trade_state: Literal[tuple(TradeState.values)] | None = None,  # type: ignore[valid-type]
    overdue: bool = Query(False, description="Only customers with debt overdue beyond the pack's days"),
    over_limit: bool = False,
    investigation_due: bool = False,
    department: Id | None = None,
    cursor: Id | None = None,
    limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT),
):
    user = _user(request)
    _require_view(user)
    filters = {"grade": grade, "trade_state": trade_state, "overdue": overdue, "over_limit": over_limit, "investigation_due": investigation_due, "department": department}
    page = selectors.account_list(user, filters, after=cursor, limit=limit)
    return {"items": [_account_out(user, a) for a in page.items], "next_cursor": page.next_cursor}


@router.get("/customers/{customer_id}", response={200: AccountOut, **ERRORS}, summary="A customer's credit account")
def account_get(request, customer_id: Id = Path(...)):
    user = _user(request)
    _require_view(user)
    return _account_of(user, customer_id)


@router.put("/customers/{customer_id}/terms", response={200: AccountOut, **ERRORS}, summary="Set grade, credit limit and payment term")
def terms_set(request, payload: TermsIn, customer_id: Id = Path(...)):
    user = _user(request)
    services.credit_terms_set(user, customer_id, grade=payload.grade, credit_limit=payload.credit_limit, payment_term_days=payload.payment_term_days,
                              reason=payload.reason, expected_version=payload.version, request=request)  # fmt: skip
    return _account_of(user, customer_id)


@router.patch("/customers/{customer_id}/info-card", response={200: AccountOut, **ERRORS}, summary="Update the customer information card (客户信息资料卡)")
def info_card_update(request, payload: InfoCardIn, customer_id: Id = Path(...)):
    user = _user(request)
    data = payload.model_dump(exclude_unset=True, exclude_none=True, exclude={"version"})
    services.info_card_update(user, customer_id, data, expected_version=payload.version, request=request)
    return _account_of(user, customer_id)


@router.post("/customers/{customer_id}/trade/stop", response={200: AccountOut, **ERRORS}, summary="Suspend supply or terminate trade")
def trade_stop(request, payload: StopIn, customer_id: Id = Path(...)):
    user = _user(request)
    services.trade_stop(user, customer_id, payload.reason, terminate=payload.terminate, request=request)
    return _account_of(user, customer_id)


@router.post("/customers/{customer_id}/trade/resume", response={200: AccountOut, **ERRORS}, summary="Resume trade")
def trade_resume(request, payload: CreditReasonIn, customer_id: Id = Path(...)):
    user = _user(request)
    services.trade_resume(user, customer_id, payload.reason, request=request)
    return _account_of(user, customer_id)


@router.post("/customers/{customer_id}/measures", response={201: MeasureOut, **ERRORS}, summary="Record an emergency measure")
@idempotent
def measure_record(request, payload: MeasureIn, customer_id: Id = Path(...)):
    m = services.measure_record(_user(request), customer_id, payload.kind, payload.detail, payload.instructed_by, payload.amount, request=request)
    return Status(201, {"id": m.pk, "customer": m.customer_id, "kind": m.kind, "detail": m.detail, "amount": str(m.amount) if m.amount is not None else None, "instructed_by": m.instructed_by})


@router.post("/customers/{customer_id}/investigations", response={201: CreditInvestigationOut, **ERRORS}, summary="Record a credit investigation")
@idempotent
def investigation_record(request, payload: CreditInvestigationIn, customer_id: Id = Path(...)):
    user = _user(request)
    inv = services.investigation_record(user, customer_id, payload.model_dump(), request=request)
    from .models import CreditAccount

    nxt = CreditAccount.objects.filter(customer_id=inv.customer_id).values_list("next_investigation_on", flat=True).first()
    return Status(201, {"id": inv.pk, "customer": inv.customer_id, "kind": inv.kind, "channel": inv.channel, "investigated_on": inv.investigated_on,
                        "summary": inv.summary, "grade_before": inv.grade_before, "grade_after": inv.grade_after, "next_investigation_on": nxt})  # fmt: skip


# ---------------------------------------------------------------- orders


@router.post("/customers/{customer_id}/orders", response={201: OrderOut, **ERRORS}, summary="Enter an order; the result shows the credit check")
@idempotent
def order_create(request, payload: OrderIn, customer_id: Id = Path(...)):
    from .models import OrderSource

    order = services.order_create(_user(request), customer_id, payload.model_dump(), source=OrderSource.API, request=request)
    return Status(201, _order_out(order))


@router.get("/orders", response={200: OrderPage, **ERRORS}, summary="Orders, newest first")
def order_list(request, customer: Id | None = None, state: Literal[tuple(OrderState.values)] | None = None,  # type: ignore[valid-type]
               cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    user = _user(request)
    _require_view(user)
    page = selectors.order_list(user, customer=customer, state=state, after=cursor, limit=limit)
    return {"items": [_order_out(o) for o in page.items], "next_cursor": page.next_cursor}


@router.get("/orders/{order_id}", response={200: OrderOut, **ERRORS}, summary="One order")
def order_get(request, order_id: Id = Path(...)):
    user = _user(request)
    _require_view(user)
    return _order_out(selectors.order_get(user, order_id))


@router.post("/orders/{order_id}/deliver", response={200: OrderOut, **ERRORS}, summary="Deliver an accepted order (credit: becomes a receivable)")
def order_deliver(request, payload: DeliverIn, order_id: Id = Path(...)):
    return _order_out(services.order_deliver(_user(request), order_id, payload.delivered_on, request=request))


@router.post("/orders/{order_id}/cancel", response={200: OrderOut, **ERRORS}, summary="Cancel an accepted or pending order")
def order_cancel(request, payload: CreditReasonIn, order_id: Id = Path(...)):
    return _order_out(services.order_cancel(_user(request), order_id, payload.reason, request=request))


# ---------------------------------------------------------------- receivables


@router.post("/customers/{customer_id}/receivables", response={201: ReceivableOut, **ERRORS}, summary="Record a receivable")
@idempotent
def receivable_create(request, payload: ReceivableIn, customer_id: Id = Path(...)):
    from .models import OrderSource

    receivable = services.receivable_create(_user(request), customer_id, payload.model_dump(), source=OrderSource.API, request=request)
    return Status(201, _receivable_out(receivable))


@router.get("/receivables", response={200: ReceivablePage, **ERRORS}, summary="Receivables, newest first")
def receivable_list(request, customer: Id | None = None, overdue: bool = False, cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    user = _user(request)
    _require_view(user)
    page = selectors.receivable_list(user, customer=customer, overdue=overdue, after=cursor, limit=limit)
    return {"items": [_receivable_out(r) for r in page.items], "next_cursor": page.next_cursor}


@router.post("/receivables/{receivable_id}/payments", response={200: ReceivableOut, **ERRORS}, summary="Record a payment")
def receivable_pay(request, payload: PaymentIn, receivable_id: Id = Path(...)):
    return _receivable_out(services.receivable_pay(_user(request), receivable_id, payload.amount, request=request))


# ---------------------------------------------------------------- registration changes


@router.post("/customers/{customer_id}/registration-changes", response={201: RegistrationChangeOut, **ERRORS}, summary="Record a business-registration change")
@idempotent
def change_record(request, payload: RegistrationChangeIn, customer_id: Id = Path(...)):
    change = services.registration_change_record(_user(request), customer_id, payload.model_dump(), request=request)
    return Status(201, _change_out(change))


@router.get("/registration-changes", response={200: RegistrationChangePage, **ERRORS}, summary="Business-registration changes, newest first")
def change_list(request, open_only: bool = False, cursor: Id | None = None, limit: int = Query(50, ge=1, le=selectors.MAX_LIMIT)):
    user = _user(request)
    _require_view(user)
    page = selectors.registration_changes(user, open_only=open_only, after=cursor, limit=limit)
    return {"items": [_change_out(c) for c in page.items], "next_cursor": page.next_cursor}


@router.post("/registration-changes/{change_id}/reported", response={200: RegistrationChangeOut, **ERRORS}, summary="The customer's report was received")
def change_reported(request, payload: ReportedIn, change_id: Id = Path(...)):
    return _change_out(services.registration_change_reported(_user(request), change_id, payload.reported_on, request=request))


# ---------------------------------------------------------------- reports, exports, imports


@router.get("/reports/exposure", response={200: ExposureReportOut, **ERRORS}, summary="Exposure and overdue by grade and trade state")
def report_exposure(request):
    user = _user(request)
    _require_view(user)
    report = selectors.exposure_report(user)

    def plain(rows):
        return [{k: (str(v) if v is not None and not isinstance(v, (int, str, bool)) else v) for k, v in row.items()} for row in rows]

    return {"by_grade": plain(report["by_grade"]), "by_trade": plain(report["by_trade"]), "overdue_receivables": report["overdue_receivables"],
            "overdue_amount": str(report["overdue_amount"]), "pending_orders": report["pending_orders"], "overdue_before": report["cutoff"]}  # fmt: skip


@router.get("/exports/exposure.xlsx", response={200: None, **ERRORS}, summary="XLSX of the exposure list (audited)")
def export_exposure(request, grade: GradeKey | None = None, overdue: bool = False, over_limit: bool = False):
    path, name, _rows = exporting.export_exposure(_user(request), {"grade": grade, "overdue": overdue, "over_limit": over_limit}, request=request)
    return file_download(path, name, delete=True)


@router.get("/exports/overdue.xlsx", response={200: None, **ERRORS}, summary="XLSX of overdue receivables (audited)")
def export_overdue(request):
    path, name, _rows = exporting.export_overdue(_user(request), request=request)
    return file_download(path, name, delete=True)


def _import_out(job) -> dict:
    return {"id": job.pk, "kind": job.kind, "status": job.status, "total_rows": job.total_rows, "processed_rows": job.processed_rows,
            "ok_rows": job.ok_rows, "failed_rows": job.failed_rows, "message": job.message}  # fmt: skip


@router.post("/imports/{kind}", response={201: ImportOut, **ERRORS}, summary="Import receivables or orders from CSV/XLSX (multipart: file)")
@decorate_view(declared_size_limited("ZHIDU_IMPORT_MAX_BYTES"))
@idempotent
def import_start(request, file: File[UploadedFile], kind: Literal["receivables", "orders"] = Path(...)):
    user = _user(request)
    if not user.has_perm_code(perms.CREDIT_ORDERS):
        raise Forbidden(_("您没有导入订单与应收账款的权限"), details={"permission": perms.CREDIT_ORDERS})
    path = importing.store_upload(file)
    try:
        job = importing.job_create(f"credit_{kind}", path, user=user, original_name=(file.name or "upload")[:255])
    except Exception:
        path.unlink(missing_ok=True)
        raise
    importing.start_job(job)
    job.refresh_from_db()
    return Status(201, _import_out(job))


@router.get("/imports/{kind}/{job_id}", response={200: ImportOut, **ERRORS}, summary="An import job's progress")
def import_get(request, kind: Literal["receivables", "orders"] = Path(...), job_id: Id = Path(...)):
    job = ImportJob.objects.filter(pk=job_id, kind=f"credit_{kind}", uploaded_by=_user(request)).first()
    if job is None:
        raise NotFound(_("导入任务不存在"))
    return _import_out(job)
