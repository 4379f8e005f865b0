"""Every read of credit management, scoped like the customer archive: a user sees the credit of the
customers inside their data scope and clearance (customers.selectors.customers_writable) and only with
credit.view. Lists are keyset pages over indexed columns of the per-customer summary; nothing here
aggregates orders or receivables for a list."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Q, QuerySet, Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.customers.selectors import Page, _keyset, truthy
from zhidu.kernel import policy
from zhidu.kernel.access import clearance_q, mask, scope_q
from zhidu.kernel.errors import NotFound
from zhidu.kernel.policy import ParameterMissing
from zhidu.org import permissions as perms

from .models import CreditAccount, CreditEvent, CreditInvestigation, CreditOrder, EmergencyMeasure, OrderState, Receivable, ReceivableState, RegistrationChange, TradeState

MAX_LIMIT = 200
FILTERS = ("grade", "trade_state", "overdue", "over_limit", "investigation_due", "department")
# The parameters a pack implementing S28 may leave to be set (blank in the seed).
REQUIRED_KEYS = ("credit.grade_criteria", "credit.grade_max_limits", "credit.grade_payment_term_days")


def can_view(user) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm_code(perms.CREDIT_VIEW) and user.has_perm_code(perms.CUSTOMERS_VIEW))


def _customer_scope(user, prefix: str = "customer__") -> Q:
    return scope_q(user, owner_field=f"{prefix}owner", department_field=f"{prefix}department") & clearance_q(user, level_field=f"{prefix}secret_level")


def accounts_visible(user) -> QuerySet:
    if not can_view(user):
        return CreditAccount.objects.none()
    return CreditAccount.objects.filter(_customer_scope(user))


def overdue_cutoff(today=None) -> dt.date:
    """Receivables due before this date are overdue beyond the pack's days."""
    today = today or timezone.localdate()
    return today - dt.timedelta(days=policy.value("credit.overdue_days"))


def accounts_filtered(user, filters: dict | None = None) -> QuerySet:
    qs = accounts_visible(user)
    for key, value in (filters or {}).items():
        if value in (None, "", False):
            continue
        if key == "grade":
            qs = qs.filter(grade="" if value == "-" else value)
        elif key == "trade_state" and value in TradeState.values:
            qs = qs.filter(trade_state=value)
        elif key == "overdue" and truthy(value):
            qs = qs.filter(oldest_unpaid_due_on__lt=overdue_cutoff())
        elif key == "over_limit" and truthy(value):
            qs = qs.filter(over_limit=True)
        elif key == "investigation_due" and truthy(value):
            qs = qs.filter(next_investigation_on__lte=timezone.localdate())
        elif key == "department":
            from zhidu.org.models import Department

            department = Department.objects.filter(pk=_int(value)).only("path").first() if _int(value) else None
            qs = qs.filter(customer__department__path__startswith=department.path) if department else qs.none()
    return qs


def account_list(user, filters: dict | None = None, after=None, limit: int = 50) -> Page:
    """A keyset page of credit accounts, newest first (never counts the table)."""
    limit = max(1, min(_int(limit) or 50, MAX_LIMIT))
    qs = accounts_filtered(user, filters).select_related("customer", "customer__owner", "customer__department")
    return _keyset(qs, after, limit)


@dataclass
class CustomerCredit:
    customer: object
    account: CreditAccount
    grade: dict | None
    grade_criteria: str | None  # None: the pack leaves the criteria to be set
    orders: list = field(default_factory=list)
    receivables: list = field(default_factory=list)
    investigations: list = field(default_factory=list)
    measures: list = field(default_factory=list)
    changes: list = field(default_factory=list)
    events: list = field(default_factory=list)
    investigation_task: object = None
    overdue: bool = False


def customer_credit(user, customer_id) -> CustomerCredit:
    """The credit page of one customer; NotFound outside the viewer's scope or without credit.view."""
    from zhidu.customers.selectors import customers_writable
    from zhidu.kernel import audit
    from zhidu.kernel.models import ScheduledTask

    from .services import INVESTIGATION_KIND, grades

    if not can_view(user):
        raise NotFound(_("客户不存在"))
    customer_id = _int(customer_id)
    customer = customers_writable(user).select_related("owner", "department").filter(pk=customer_id).first() if customer_id else None
    if customer is None:
        raise NotFound(_("客户不存在"))
    account = CreditAccount.objects.filter(customer=customer).first() or CreditAccount(customer=customer)
    grade = grades().get(account.grade) if account.grade else None
    try:
        criteria = policy.value("credit.grade_criteria").get(account.grade, "") if account.grade else ""
    except ParameterMissing:
        criteria = None
    target_type, target_id = audit.target_ref(customer)
    task = ScheduledTask.objects.filter(kind=INVESTIGATION_KIND, target_type=target_type, target_id=target_id, state=ScheduledTask.State.OPEN).first()
    return CustomerCredit(
        customer=customer,
        account=account,
        grade=grade,
        grade_criteria=criteria,
        orders=list(CreditOrder.objects.filter(customer=customer).order_by("-id")[:50]),
        receivables=list(Receivable.objects.filter(customer=customer).order_by("-id")[:50]),
        investigations=list(CreditInvestigation.objects.filter(customer=customer).order_by("-id")[:20]),
        measures=list(EmergencyMeasure.objects.filter(customer=customer).order_by("-id")[:20]),
        changes=list(RegistrationChange.objects.filter(customer=customer).order_by("-id")[:20]),
        events=list(CreditEvent.objects.filter(customer=customer).select_related("actor").order_by("-id")[:30]),
        investigation_task=task,
        overdue=bool(account.oldest_unpaid_due_on and account.oldest_unpaid_due_on < overdue_cutoff()),
    )


def orders_visible(user) -> QuerySet:
    if not can_view(user):
        return CreditOrder.objects.none()
    return CreditOrder.objects.filter(_customer_scope(user))


def order_list(user, *, customer=None, state=None, after=None, limit: int = 50) -> Page:
    qs = orders_visible(user).select_related("customer")
    if customer:
        qs = qs.filter(customer_id=_int(customer))
    if state:
        qs = qs.filter(state=state)
    return _keyset(qs, after, max(1, min(_int(limit) or 50, MAX_LIMIT)))


def order_get(user, order_id) -> CreditOrder:
    order = orders_visible(user).select_related("customer", "approval").filter(pk=_int(order_id) or 0).first()
    if order is None:
        raise NotFound(_("订单不存在"))
    return order


def receivables_visible(user) -> QuerySet:
    if not can_view(user):
        return Receivable.objects.none()
    return Receivable.objects.filter(_customer_scope(user))


def receivable_list(user, *, customer=None, overdue: bool = False, after=None, limit: int = 50) -> Page:
    qs = receivables_visible(user).select_related("customer")
    if customer:
        qs = qs.filter(customer_id=_int(customer))
    if overdue:
        qs = qs.filter(state=ReceivableState.OPEN, due_on__lt=overdue_cutoff())
    return _keyset(qs, after, max(1, min(_int(limit) or 50, MAX_LIMIT)))


def registration_changes(user, *, open_only: bool = False, after=None, limit: int = 50) -> Page:
    qs = RegistrationChange.objects.filter(_customer_scope(user)) if can_view(user) else RegistrationChange.objects.none()
    if open_only:
        qs = qs.filter(reported_on__isnull=True)
    return _keyset(qs.select_related("customer"), after, max(1, min(_int(limit) or 50, MAX_LIMIT)))


def exposure_report(user) -> dict:
    """Exposure and overdue by grade and trade state for the visible customers: grouped aggregates over
    the per-customer summary (one query each)."""
    qs = accounts_visible(user).order_by()
    cutoff = overdue_cutoff()
    by_grade = list(
        qs.values("grade").annotate(
            customers=Count("id"), exposure=Sum("exposure"), receivables=Sum("receivables_outstanding"), open_orders=Sum("open_orders"),
            over_limit=Count("id", filter=Q(over_limit=True)), overdue=Count("id", filter=Q(oldest_unpaid_due_on__lt=cutoff)),
        ).order_by("grade")
    )  # fmt: skip
    by_trade = list(qs.values("trade_state").annotate(customers=Count("id"), exposure=Sum("exposure")).order_by("trade_state"))
    overdue_amount = receivables_visible(user).filter(state=ReceivableState.OPEN, due_on__lt=cutoff).order_by().aggregate(
        n=Count("id"), amount=Sum("amount"), paid=Sum("paid_amount"))  # fmt: skip
    pending = orders_visible(user).filter(state=OrderState.PENDING).count()
    return {
        "by_grade": by_grade,
        "by_trade": by_trade,
        "overdue_receivables": overdue_amount["n"] or 0,
        "overdue_amount": (overdue_amount["amount"] or 0) - (overdue_amount["paid"] or 0),
        "pending_orders": pending,
        "cutoff": cutoff,
    }


def missing_parameters() -> list[dict]:
    """The credit parameters the pack in force leaves to be set, with their seed citation."""
    missing = []
    for key in REQUIRED_KEYS:
        try:
            policy.get(key)
        except ParameterMissing as exc:
            missing.append({"key": key, "source": exc.source})
    return missing


def info_card_masked(user, card: dict | None) -> dict:
    """The customer information card as `user` may see it: the contact phone masked unless the user's
    role unmasks phones (as the archive's contacts)."""
    card = dict(card or {})
    if card.get("contact_phone"):
        card["contact_phone"] = mask("phone", card["contact_phone"], user)
    return card


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None
