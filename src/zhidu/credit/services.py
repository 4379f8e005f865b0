"""Every write of credit management (S28, 004 篇3): one function per business action, each in a
transaction, audited, and written to the customer's credit history.

Exposure (信用敞口) = receivables outstanding + accepted orders not yet delivered, kept per customer in
CreditAccount and changed in the same transaction as the order or receivable (the account row is
locked first). A new order on credit that would take the exposure over the limit (plus the pack's
tolerance), or for a customer with debt overdue for longer than the pack's days, waits for the
approval chain of the pack (kernel.approvals, kind "credit.order"). Orders for a blacklisted customer,
or while trade is suspended or terminated, are refused with the reason and nothing is written.

Errors: `Invalid` (422, details {"fields": {…}}), `Conflict` (409), `Forbidden` (403), `NotFound` (404)
from zhidu.kernel.errors; `ParameterMissing` (409) when the pack leaves a needed number to be set.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation, localcontext

from django.db import IntegrityError, transaction
from django.db.models import F, Min, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zhidu.kernel import approvals, audit, calendar, deadlines, notify, policy, schedules
from zhidu.kernel.access import mask
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.org import permissions as perms

from .models import (
    ChangeKind,
    CreditAccount,
    CreditEvent,
    CreditInvestigation,
    CreditOrder,
    EmergencyMeasure,
    InvestigationChannel,
    MeasureKind,
    OrderSource,
    OrderState,
    Payment,
    Receivable,
    ReceivableState,
    RegistrationChange,
    TradeState,
)

ORDER_APPROVAL_KIND = "credit.order"
INVESTIGATION_KIND = "credit.investigation"
REGISTRATION_DEADLINE_KEY = "credit.registration_change.deadline"
REGISTRATION_TARGET = "credit.registrationchange"
CENT = Decimal("0.01")
MAX_MONEY = Decimal("99999999999999.99")
REASON_MAX = 500
# Dates a record may carry: due dates are computed from them (up to 3650 days of payment term), so they
# must stay well inside the calendar.
DATE_MIN = dt.date(1900, 1, 1)
DATE_MAX = dt.date(2999, 12, 31)
SEED = "004_cc91618456447404.txt 篇3"
CITES = {
    "over_limit": f"{SEED} 第7条 L130",
    "grade_terms": f"{SEED} 第6条 L125–L129",
    "no_credit": f"{SEED} 第6条 4. L129",
    "investigation": f"{SEED} 第11条 1.(2) L144–L147",
    "measures": f"{SEED} 第11条 2. L150–L151",
    "info_card": f"{SEED} 第12条 L152–L154",
    "suspend": f"{SEED} 第14条 1. L161",
    "terminate": f"{SEED} 第14条 2. L162",
}
# 客户信息资料卡 (篇3 第12条): basic and business data. Name, phone and address come from the archive;
# order date, product, quantity, unit price and amount from the orders.
INFO_CARD_FIELDS = {
    "contact_person": gettext_noop("交易联系人"),
    "contact_phone": gettext_noop("电话"),
    "address": gettext_noop("住址"),
    "payment_attitude": gettext_noop("付款态度"),
    "payment_time": gettext_noop("付款时间"),
    "bank_relations": gettext_noop("银行往来情况"),
    "finance_controller": gettext_noop("财务实权掌管人"),
    "payment_method": gettext_noop("付款方式"),
    "trading_history": gettext_noop("往来数据"),
}
INFO_CARD_MAX = 500


# ---------------------------------------------------------------- helpers


def _require(user, *codes) -> None:
    """`user` None is the server itself (demo, command line)."""
    if user is None:
        return
    if not any(user.has_perm_code(code) for code in codes):
        raise Forbidden(_("无权执行此操作：需要“%(permission)s”权限。") % {"permission": perms.ALL[codes[0]]}, details={"permission": codes[0]})


def _reason(reason, field: str = "reason") -> str:
    text = str(reason or "").strip()
    if not text:
        raise Invalid(_("请填写原因"), details={"fields": {field: [_("必填")]}})
    if len(text) > REASON_MAX:
        raise Invalid(_("原因不能超过 %(n)d 个字符") % {"n": REASON_MAX}, details={"fields": {field: [_("过长")]}})
    return text


def _customer(user, customer_id):
    """The customer if the user may work on it (their scope and clearance); NotFound otherwise."""
    from zhidu.customers.models import Customer
    from zhidu.customers.selectors import customers_writable

    try:
        customer_id = int(getattr(customer_id, "pk", customer_id))
    except (TypeError, ValueError):
        raise NotFound(_("客户不存在")) from None
    qs = Customer.objects.all() if user is None else customers_writable(user)
    customer = qs.select_related("department", "owner").filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("客户不存在"))
    return customer


def account_locked(customer) -> CreditAccount:
    """The customer's credit account, created on first use, locked for this transaction."""
    CreditAccount.objects.get_or_create(customer_id=customer.pk)
    return CreditAccount.objects.select_for_update().get(customer_id=customer.pk)


def money(value, field: str, errors: dict, *, allow_zero: bool = True) -> Decimal | None:
    try:
        amount = Decimal(str(value).strip().replace(",", "")) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        amount = None
    if amount is None or not amount.is_finite():
        errors.setdefault(field, []).append(_("请输入金额（数字）"))
        return None
    if abs(amount) > MAX_MONEY:
        errors.setdefault(field, []).append(_("金额过大"))
        return None
    amount = amount.quantize(CENT, rounding=ROUND_HALF_UP)
    if amount < 0 or (amount == 0 and not allow_zero):
        errors.setdefault(field, []).append(_("金额必须大于 0") if not allow_zero else _("金额不能为负数"))
        return None
    if amount > MAX_MONEY:
        errors.setdefault(field, []).append(_("金额过大"))
        return None
    return amount


def _date(value, field: str, errors: dict, *, default=None) -> dt.date | None:
    if value in (None, ""):
        if default is not None:
            return default
        errors.setdefault(field, []).append(_("必填"))
        return None
    if isinstance(value, dt.datetime):
        day = value.date()
    elif isinstance(value, dt.date):
        day = value
    else:
        try:
            day = dt.date.fromisoformat(str(value).strip())
        except ValueError:
            errors.setdefault(field, []).append(_("日期格式应为 YYYY-MM-DD"))
            return None
    if not DATE_MIN <= day <= DATE_MAX:
        errors.setdefault(field, []).append(
            _("日期应在 %(min)s 至 %(max)s 之间") % {"min": DATE_MIN.isoformat(), "max": DATE_MAX.isoformat()})
        return None
    return day


def _text(value, field: str, errors: dict, *, limit: int, required: bool = True) -> str:
    text = str(value or "").strip()
    if required and not text:
        errors.setdefault(field, []).append(_("必填"))
    elif len(text) > limit:
        errors.setdefault(field, []).append(_("不能超过 %(n)d 个字符") % {"n": limit})
    return text


def _event(customer, user, kind: str, summary: str, details: dict | None = None) -> None:
    CreditEvent.objects.create(customer_id=customer.pk, actor=user, kind=kind, summary=str(summary)[:500], details=audit._normalise(details))


def grades() -> dict[str, dict]:
    """The pack's credit grades by key, in the pack's order."""
    return {g["key"]: g for g in policy.value("credit.grades")}


def grade_label(cfg: dict) -> str:
    """The grade's name in the user's language (the pack's label_en in English, when it gives one)."""
    from django.utils.translation import get_language

    if (get_language() or "").startswith("en") and cfg.get("label_en"):
        return cfg["label_en"]
    return cfg["label"]


def _refresh(account: CreditAccount, *, receivables: Decimal = Decimal(0), open_orders: Decimal = Decimal(0), due_dates: bool = False) -> None:
    """Applies a change to the locked account's exposure summary (and, after a receivable changed, the
    oldest unpaid due date: one indexed MIN) and writes it. Does not bump the version: the summary is
    not something a user edits."""
    account.receivables_outstanding += receivables
    account.open_orders += open_orders
    account.exposure = account.receivables_outstanding + account.open_orders
    account.over_limit = account.exposure > account.credit_limit
    fields = ["receivables_outstanding", "open_orders", "exposure", "over_limit", "updated_at"]
    if due_dates:
        account.oldest_unpaid_due_on = (
            Receivable.objects.filter(customer_id=account.customer_id, state=ReceivableState.OPEN).aggregate(m=Min("due_on"))["m"]
        )
        fields.append("oldest_unpaid_due_on")
    account.save(update_fields=fields)


def _stale(account, expected_version) -> None:
    if expected_version is not None and account.version != expected_version:
        raise Conflict(
            _("该客户的信用资料已被他人修改，请刷新后重试"),
            code="stale_version",
            details={"current_version": account.version, "expected_version": expected_version},
        )


# ---------------------------------------------------------------- grade, limit, terms


def credit_terms_set(user, customer_id, *, grade: str, credit_limit, payment_term_days, reason: str,
                     expected_version: int | None = None, request=None) -> CreditAccount:
    """Sets the customer's credit grade, credit limit and payment term (篇3 第5–7条). The limit and the
    term may not exceed the grade's maxima from the pack, and a grade that allows no credit (D) has
    none. A new grade moves the investigation schedule to that grade's cycle."""
    _require(user, perms.CREDIT_MANAGE)
    reason = _reason(reason)
    errors: dict = {}
    known = grades()
    grade = str(grade or "").strip()
    if grade not in known:
        errors["grade"] = [_("未知的信用等级：%(grade)s；可选：%(choices)s") % {"grade": grade[:20], "choices": "、".join(known)}]
    limit = money(credit_limit, "credit_limit", errors)
    try:
        term = int(payment_term_days)
        if term < 0 or term > 3650:
            raise ValueError
    except (TypeError, ValueError):
        errors["payment_term_days"] = [_("回款期限应为 0–3650 之间的整数天数")]
        term = None
    if errors:
        raise Invalid(_("信用资料有误，请按提示修改"), details={"fields": errors})
    cfg = known[grade]
    if not cfg["credit_allowed"] and (limit > 0 or term > 0):
        raise Invalid(
            _("%(grade)s不给予任何信用交易，信用额度和回款期限只能为 0（依据：%(source)s）") % {"grade": cfg["label"], "source": CITES["no_credit"]},
            details={"fields": {"credit_limit": [_("须为 0")]}},
        )
    sources = {}
    if limit > 0:
        caps = policy.get("credit.grade_max_limits")
        cap = caps.value.get(grade)
        if cap is None:
            raise Invalid(_("制度包未给出%(grade)s的最高信用额度，请先在制度包页面设置") % {"grade": cfg["label"]}, details={"key": caps.key, "grade": grade})
        if limit > Decimal(cap):
            raise Invalid(
                _("信用额度 %(limit)s 超过%(grade)s的上限 %(cap)s 元（依据：%(source)s）") % {"limit": limit, "grade": cfg["label"], "cap": cap, "source": caps.source},
                details={"fields": {"credit_limit": [_("超过等级上限")]}, "cap": cap},
            )
        sources["credit_limit"] = caps.source
    if term > 0:
        terms = policy.get("credit.grade_payment_term_days")
        max_term = terms.value.get(grade)
        if max_term is None:
            raise Invalid(_("制度包未给出%(grade)s的最长回款期限，请先在制度包页面设置") % {"grade": cfg["label"]}, details={"key": terms.key, "grade": grade})
        if term > max_term:
            raise Invalid(
                _("回款期限 %(term)d 天超过%(grade)s的上限 %(max)d 天（依据：%(source)s）") % {"term": term, "grade": cfg["label"], "max": max_term, "source": terms.source},
                details={"fields": {"payment_term_days": [_("超过等级上限")]}, "max": max_term},
            )
        sources["payment_term_days"] = terms.source
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        _stale(account, expected_version)
        before = {"grade": account.grade, "credit_limit": str(account.credit_limit), "payment_term_days": account.payment_term_days}
        after = {"grade": grade, "credit_limit": str(limit), "payment_term_days": term}
        if before == after:
            return account
        grade_changed = account.grade != grade
        account.grade, account.credit_limit, account.payment_term_days = grade, limit, term
        account.over_limit = account.exposure > account.credit_limit
        account.version += 1
        account.save(update_fields=["grade", "credit_limit", "payment_term_days", "over_limit", "version", "updated_at"])
        if grade_changed:
            _reschedule_investigation(account, customer, user, request=request)
        summary = _("信用等级 %(grade)s，额度 %(limit)s，回款期限 %(term)d 天") % {"grade": cfg["label"], "limit": limit, "term": term}
        _event(customer, user, "terms", summary, {"before": before, "after": after, "reason": reason, "sources": sources})
        audit.record(user, "credit.terms_set", target=customer, details={"before": before, "after": after, "reason": reason}, request=request)
    return account


def _reschedule_investigation(account: CreditAccount, customer, user, request=None) -> None:
    """The grade's investigation cycle (篇3 第11条: A every half year, B every 3 months, C and D monthly)
    as a recurring kernel task, counted from the last investigation (or today)."""
    cfg = grades()[account.grade]
    months = cfg["investigation_every_months"]
    schedules.cancel_open(INVESTIGATION_KIND, customer, user, request=request)
    start = account.last_investigation_on or timezone.localdate()
    first_due = schedules.next_due_on(start, {"amount": months, "unit": "months"})
    source = policy.get("credit.grades").source
    schedules.schedule_recurring(
        INVESTIGATION_KIND, customer, first_due, months, "months",
        title=_("信用调查：%(name)s（%(grade)s）") % {"name": customer.name, "grade": cfg["label"]}, source=source,
    )  # fmt: skip
    CreditAccount.objects.filter(pk=account.pk).update(next_investigation_on=first_due)
    account.next_investigation_on = first_due


# ---------------------------------------------------------------- info card


def info_card_update(user, customer_id, data: dict, expected_version: int | None = None, request=None) -> CreditAccount:
    """The customer information card (客户信息资料卡, 篇3 第12条), business data kept by the salesman."""
    _require(user, perms.CREDIT_ORDERS, perms.CREDIT_MANAGE)
    data = dict(data or {})
    unknown = sorted(set(data) - set(INFO_CARD_FIELDS))
    errors = {f: [_("未知字段")] for f in unknown}
    card = {}
    for field in INFO_CARD_FIELDS:
        if field in data:
            card[field] = _text(data[field], field, errors, limit=INFO_CARD_MAX, required=False)
    if errors:
        raise Invalid(_("客户信息资料卡有误，请按提示修改"), details={"fields": errors})
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        _stale(account, expected_version)
        phone = (account.info_card or {}).get("contact_phone")
        if phone and user is not None and card.get("contact_phone") == mask("phone", phone, user) != phone:
            # The masked number as shown to the user came back unchanged: the number stays.
            card["contact_phone"] = phone
        merged = {**(account.info_card or {}), **card}
        if merged == account.info_card:
            return account
        changed = sorted(k for k in card if (account.info_card or {}).get(k) != card[k])
        account.info_card = merged
        account.version += 1
        account.save(update_fields=["info_card", "version", "updated_at"])
        _event(customer, user, "info_card", _("更新客户信息资料卡：%(fields)s") % {"fields": "、".join(_(INFO_CARD_FIELDS[f]) for f in changed)}, {"fields": changed})
        audit.record(user, "credit.info_card_update", target=customer, details={"fields": changed}, request=request)
    return account


# ---------------------------------------------------------------- orders and the credit check


def _refuse_if_barred(user, customer, account: CreditAccount, payment: str) -> None:
    """Raises when no order may be taken: blacklisted, trade suspended or terminated, credit for a grade
    that allows none."""
    from zhidu.admission.services import blacklist_check

    departments = {customer.department_id}
    if user is not None and getattr(user, "department_id", None):
        departments.add(user.department_id)
    for department_id in sorted(departments):
        blacklist_check(customer, department_id)
    if account.trade_state != TradeState.ACTIVE:
        suspended = account.trade_state == TradeState.SUSPENDED
        message = _("该客户已暂停供货，不能接受订单。原因：%(reason)s（依据：%(source)s）") if suspended else _("已通知该客户中止交易，不能接受订单。原因：%(reason)s（依据：%(source)s）")
        raise Conflict(
            message % {"reason": account.trade_reason, "source": CITES["suspend" if suspended else "terminate"]},
            code="trade_stopped",
            details={"trade_state": account.trade_state, "reason": account.trade_reason},
        )
    if payment == Payment.CREDIT and account.grade:
        cfg = grades().get(account.grade)
        if cfg is not None and not cfg["credit_allowed"]:
            raise Conflict(
                _("%(grade)s客户不给予任何信用交易，只能现款现货或先款后货（依据：%(source)s）") % {"grade": cfg["label"], "source": CITES["no_credit"]},
                code="credit_not_allowed",
                details={"grade": account.grade},
            )


def credit_check(account: CreditAccount, amount: Decimal, payment: str, *, already_counted: bool = False, today=None) -> dict:
    """What the pack says about one more order for this account: over the limit (with tolerance) and/or
    debt overdue beyond the pack's days. Reads the pack; stores the citations with the result."""
    today = today or timezone.localdate()
    tolerance = policy.get("credit.tolerance_percent")
    overdue = policy.get("credit.overdue_days")
    reasons = []
    exposure_before = account.exposure - (amount if already_counted else 0)
    exposure_after = exposure_before + (amount if payment == Payment.CREDIT else 0)
    allowed = (account.credit_limit * (Decimal(100) + Decimal(str(tolerance.value))) / Decimal(100)).quantize(CENT)
    if payment == Payment.CREDIT and exposure_after > allowed:
        reasons.append("over_limit")
    days_overdue = (today - account.oldest_unpaid_due_on).days if account.oldest_unpaid_due_on else 0
    if account.oldest_unpaid_due_on and days_overdue > overdue.value:
        reasons.append("overdue")
    return {
        "needs_approval": bool(reasons),
        "reasons": reasons,
        "payment": payment,
        "exposure_before": str(exposure_before),
        "amount": str(amount),
        "exposure_after": str(exposure_after),
        "credit_limit": str(account.credit_limit),
        "tolerance_percent": tolerance.value,
        "allowed": str(allowed),
        "overdue_days": overdue.value,
        "oldest_unpaid_due_on": account.oldest_unpaid_due_on.isoformat() if account.oldest_unpaid_due_on else None,
        "days_overdue": max(days_overdue, 0),
        "grade": account.grade,
        "sources": {"over_limit": CITES["over_limit"], "tolerance_percent": tolerance.source, "overdue_days": overdue.source},
        "checked_on": today.isoformat(),
    }


def check_reasons_text(check: dict) -> str:
    parts = []
    if "over_limit" in check.get("reasons", ()):
        parts.append(_("敞口 %(after)s 元将超过信用额度 %(limit)s 元（含容差 %(tol)s%% 为 %(allowed)s 元）")
                     % {"after": check["exposure_after"], "limit": check["credit_limit"], "tol": check["tolerance_percent"], "allowed": check["allowed"]})
    if "overdue" in check.get("reasons", ()):
        parts.append(_("有应收账款已逾期 %(days)d 天（超过 %(limit)d 天）") % {"days": check["days_overdue"], "limit": check["overdue_days"]})
    return "；".join(parts)


def clean_order(data: dict) -> tuple[dict, dict]:
    """Validates an order's fields (no queries): returns (cleaned, errors)."""
    errors: dict = {}
    reference = _text(data.get("reference"), "reference", errors, limit=60)
    product = _text(data.get("product"), "product", errors, limit=200)
    ordered_on = _date(data.get("ordered_on"), "ordered_on", errors, default=timezone.localdate())
    try:
        quantity = Decimal(str(data.get("quantity", "")).strip())
        if not quantity.is_finite() or quantity <= 0 or quantity > Decimal("99999999999"):
            raise InvalidOperation
        quantity = quantity.quantize(Decimal("0.001"), rounding=ROUND_HALF_UP)
    except (InvalidOperation, ValueError):
        errors.setdefault("quantity", []).append(_("数量必须是大于 0 的数字"))
        quantity = None
    unit_price = money(data.get("unit_price"), "unit_price", errors)
    payment = str(data.get("payment") or Payment.CREDIT)
    if payment not in Payment.values:
        errors.setdefault("payment", []).append(_("付款方式应为 credit（赊销）或 cash（现款）"))
    amount = None
    if quantity is not None and unit_price is not None:
        with localcontext(prec=60):
            amount = (quantity * unit_price).quantize(CENT, rounding=ROUND_HALF_UP)
        if amount <= 0:
            errors.setdefault("unit_price", []).append(_("订单金额必须大于 0"))
        elif amount > MAX_MONEY:
            errors.setdefault("quantity", []).append(_("金额过大"))
    cleaned = {"reference": reference, "product": product, "ordered_on": ordered_on, "quantity": quantity,
               "unit_price": unit_price, "amount": amount, "payment": payment}  # fmt: skip
    return cleaned, errors


def order_create(user, customer_id, data: dict, *, source: str = OrderSource.ENTERED, request=None) -> CreditOrder:
    """Enters an order. Refused (nothing written) for a blacklisted customer, while trade is stopped,
    or on credit for a grade that allows none. At the pack's check stage "order_entry" the credit check
    runs now: passing, the order is accepted (its amount joins the exposure); failing, it waits for the
    approval chain. At stage "delivery" the order is accepted now and checked when delivered."""
    _require(user, perms.CREDIT_ORDERS)
    cleaned, errors = clean_order(data or {})
    if errors:
        raise Invalid(_("订单有误，请按提示修改"), details={"fields": errors})
    stage = policy.get("credit.check_stage")
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        _refuse_if_barred(user, customer, account, cleaned["payment"])
        if CreditOrder.objects.filter(customer=customer, reference=cleaned["reference"]).exists():
            raise Conflict(_("该客户已有订单号 %(ref)s") % {"ref": cleaned["reference"]}, code="duplicate", details={"fields": {"reference": [_("订单号重复")]}})
        check = credit_check(account, cleaned["amount"], cleaned["payment"]) if stage.value == "order_entry" else {"needs_approval": False, "reasons": [], "deferred": "delivery"}
        check["stage"] = stage.value
        check["stage_source"] = stage.source
        state = OrderState.PENDING if check["needs_approval"] else OrderState.OPEN
        try:
            with transaction.atomic():
                order = CreditOrder.objects.create(customer=customer, state=state, source=source, check_result=audit._normalise(check), entered_by=user, **cleaned)
        except IntegrityError:
            raise Conflict(_("该客户已有订单号 %(ref)s") % {"ref": cleaned["reference"]}, code="duplicate") from None
        if state == OrderState.OPEN and order.payment == Payment.CREDIT:
            _refresh(account, open_orders=order.amount)
        if check["needs_approval"]:
            _start_approval(user, customer, order, check, "order_entry")
        audit.record(user, "credit.order_create", target=order, details={
            "customer": customer.pk, "reference": order.reference, "amount": str(order.amount), "payment": order.payment,
            "state": order.state, "reasons": check["reasons"], "source": source}, request=request)  # fmt: skip
    return order


def _start_approval(user, customer, order: CreditOrder, check: dict, stage: str) -> None:
    if user is None:
        raise Forbidden(_("需要信用审批的订单必须由用户提交"))
    chain = policy.get("credit.approval_chain")
    title = _("订单 %(ref)s 信用审批：%(name)s %(amount)s 元") % {"ref": order.reference, "name": customer.name, "amount": order.amount}
    request = approvals.start(ORDER_APPROVAL_KIND, order, user, chain, chain_source=f"{chain.source}; {CITES['over_limit']}", title=title,
                              payload={"order": order.pk, "stage": stage, "reasons": check["reasons"], "text": check_reasons_text(check)})
    CreditOrder.objects.filter(pk=order.pk).update(approval=request)
    order.approval = request


def _on_order_approved(request) -> None:
    order = CreditOrder.objects.select_related("customer").filter(pk=int(request.target_id)).first()
    if order is None or order.state != OrderState.PENDING:
        return
    account = account_locked(order.customer)
    stage = (request.payload or {}).get("stage", "order_entry")
    if account.trade_state != TradeState.ACTIVE:
        # Trade was stopped while the order waited: approval of the credit does not reopen trade.
        _order_refuse(order, account, _("审批期间已暂停或中止交易：%(reason)s") % {"reason": account.trade_reason}, counted=stage == "delivery")
        return
    if stage == "delivery":
        _deliver(order, account, request.requested_by, order.delivered_on or timezone.localdate())
    else:
        CreditOrder.objects.filter(pk=order.pk).update(state=OrderState.OPEN, version=F("version") + 1)
        if order.payment == Payment.CREDIT:
            _refresh(account, open_orders=order.amount)
    _event(order.customer, None, "order_approved", _("订单 %(ref)s 经信用审批通过") % {"ref": order.reference}, {"order": order.pk, "approval": request.pk})


def _on_order_rejected(request) -> None:
    order = CreditOrder.objects.select_related("customer").filter(pk=int(request.target_id)).first()
    if order is None or order.state != OrderState.PENDING:
        return
    account = account_locked(order.customer)
    comment = request.decisions.order_by("-id").values_list("comment", flat=True).first() or ""
    _order_refuse(order, account, _("信用审批未通过：%(comment)s") % {"comment": comment} if comment else _("信用审批未通过"),
                  counted=(request.payload or {}).get("stage") == "delivery")


def _order_refuse(order: CreditOrder, account: CreditAccount, reason: str, *, counted: bool) -> None:
    CreditOrder.objects.filter(pk=order.pk).update(state=OrderState.REFUSED, refuse_reason=reason[:500], version=F("version") + 1)
    if counted and order.payment == Payment.CREDIT:
        _refresh(account, open_orders=-order.amount)
    _event(order.customer, None, "order_refused", _("订单 %(ref)s 被拒绝：%(reason)s") % {"ref": order.reference, "reason": reason}, {"order": order.pk})


def register_approval_handlers() -> None:
    approvals.register(ORDER_APPROVAL_KIND, on_approved=_on_order_approved, on_rejected=_on_order_rejected)


def _order(user, order_id, *, lock: bool = True) -> CreditOrder:
    from zhidu.customers.selectors import customers_writable

    try:
        order_id = int(order_id)
    except (TypeError, ValueError):
        raise NotFound(_("订单不存在")) from None
    qs = CreditOrder.objects.select_related("customer")
    if user is not None:
        qs = qs.filter(customer__in=customers_writable(user).values("pk"))
    if lock:
        qs = qs.select_for_update(of=("self",))
    order = qs.filter(pk=order_id).first()
    if order is None:
        raise NotFound(_("订单不存在"))
    return order


def _deliver(order: CreditOrder, account: CreditAccount, user, delivered_on: dt.date) -> Receivable | None:
    CreditOrder.objects.filter(pk=order.pk).update(state=OrderState.DELIVERED, delivered_on=delivered_on, version=F("version") + 1)
    if order.payment != Payment.CREDIT:
        return None
    receivable = Receivable.objects.create(
        customer_id=order.customer_id, order=order, reference=order.reference, amount=order.amount, invoiced_on=delivered_on,
        due_on=delivered_on + dt.timedelta(days=account.payment_term_days), created_by=user,
    )  # fmt: skip
    _refresh(account, receivables=order.amount, open_orders=-order.amount, due_dates=True)
    return receivable


def order_deliver(user, order_id, delivered_on=None, request=None) -> CreditOrder:
    """Delivers an accepted order: a credit order becomes a receivable due after the customer's payment
    term. At check stage "delivery" the credit check runs here and may send the order for approval."""
    _require(user, perms.CREDIT_ORDERS)
    errors: dict = {}
    delivered_on = _date(delivered_on, "delivered_on", errors, default=timezone.localdate())
    if errors:
        raise Invalid(_("发货日期有误"), details={"fields": errors})
    with transaction.atomic():
        order = _order(user, order_id)
        if order.state != OrderState.OPEN:
            raise Conflict(_("只有已接受的订单可以发货（当前：%(state)s）") % {"state": order.get_state_display()}, code="bad_state", details={"state": order.state})
        account = account_locked(order.customer)
        _refuse_if_barred(user, order.customer, account, order.payment)
        stage = policy.get("credit.check_stage")
        if stage.value == "delivery":
            check = credit_check(account, order.amount, order.payment, already_counted=order.payment == Payment.CREDIT)
            check.update(stage=stage.value, stage_source=stage.source)
            if check["needs_approval"]:
                CreditOrder.objects.filter(pk=order.pk).update(state=OrderState.PENDING, check_result=audit._normalise(check), delivered_on=delivered_on, version=F("version") + 1)
                order.delivered_on = delivered_on
                _start_approval(user, order.customer, order, check, "delivery")
                audit.record(user, "credit.order_deliver_held", target=order, details={"reasons": check["reasons"]}, request=request)
                order.refresh_from_db()
                return order
        _deliver(order, account, user, delivered_on)
        audit.record(user, "credit.order_deliver", target=order, details={"delivered_on": delivered_on.isoformat(), "amount": str(order.amount)}, request=request)
    order.refresh_from_db()
    return order


def order_cancel(user, order_id, reason: str, request=None) -> CreditOrder:
    """Cancels an accepted or pending order; an accepted credit order leaves the exposure."""
    _require(user, perms.CREDIT_ORDERS)
    reason = _reason(reason)
    with transaction.atomic():
        order = _order(user, order_id)
        if order.state not in (OrderState.OPEN, OrderState.PENDING):
            raise Conflict(_("该订单不能取消（当前：%(state)s）") % {"state": order.get_state_display()}, code="bad_state", details={"state": order.state})
        account = account_locked(order.customer)
        counted = order.state == OrderState.OPEN or (order.state == OrderState.PENDING and (order.check_result or {}).get("stage") == "delivery")
        if order.state == OrderState.PENDING and order.approval_id:
            from zhidu.kernel.models import ApprovalRequest

            ApprovalRequest.objects.filter(pk=order.approval_id, state=ApprovalRequest.State.PENDING).update(
                state=ApprovalRequest.State.CANCELLED, decided_at=timezone.now(), current_role="", version=F("version") + 1)
        CreditOrder.objects.filter(pk=order.pk).update(state=OrderState.CANCELLED, refuse_reason=reason, version=F("version") + 1)
        if counted and order.payment == Payment.CREDIT:
            _refresh(account, open_orders=-order.amount)
        _event(order.customer, user, "order_cancelled", _("取消订单 %(ref)s：%(reason)s") % {"ref": order.reference, "reason": reason}, {"order": order.pk})
        audit.record(user, "credit.order_cancel", target=order, details={"reason": reason}, request=request)
    order.refresh_from_db()
    return order


# ---------------------------------------------------------------- receivables


def clean_receivable(data: dict) -> tuple[dict, dict]:
    errors: dict = {}
    reference = _text(data.get("reference"), "reference", errors, limit=60)
    amount = money(data.get("amount"), "amount", errors, allow_zero=False)
    invoiced_on = _date(data.get("invoiced_on"), "invoiced_on", errors, default=timezone.localdate())
    due_on = _date(data.get("due_on"), "due_on", errors) if data.get("due_on") not in (None, "") else None
    paid = money(data.get("paid_amount") or 0, "paid_amount", errors)
    if due_on and invoiced_on and due_on < invoiced_on:
        errors.setdefault("due_on", []).append(_("到期日不能早于开票日期"))
    if amount is not None and paid is not None and paid > amount:
        errors.setdefault("paid_amount", []).append(_("已收金额不能大于应收金额"))
    return {"reference": reference, "amount": amount, "invoiced_on": invoiced_on, "due_on": due_on, "paid_amount": paid}, errors


def receivable_create(user, customer_id, data: dict, *, source: str = OrderSource.ENTERED, request=None) -> Receivable:
    """Records a receivable (e.g. an invoice from the accounting system). Without a due date it is due
    after the customer's payment term."""
    _require(user, perms.CREDIT_ORDERS)
    cleaned, errors = clean_receivable(data or {})
    if errors:
        raise Invalid(_("应收账款有误，请按提示修改"), details={"fields": errors})
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        if cleaned["due_on"] is None:
            cleaned["due_on"] = cleaned["invoiced_on"] + dt.timedelta(days=account.payment_term_days)
        state = ReceivableState.PAID if cleaned["paid_amount"] >= cleaned["amount"] else ReceivableState.OPEN
        try:
            with transaction.atomic():
                receivable = Receivable.objects.create(customer=customer, state=state, source=source, created_by=user, **cleaned)
        except IntegrityError:
            raise Conflict(_("该客户已有单据号 %(ref)s") % {"ref": cleaned["reference"]}, code="duplicate", details={"fields": {"reference": [_("单据号重复")]}}) from None
        _refresh(account, receivables=receivable.outstanding, due_dates=True)
        audit.record(user, "credit.receivable_create", target=receivable, details={
            "customer": customer.pk, "reference": receivable.reference, "amount": str(receivable.amount), "due_on": receivable.due_on.isoformat(), "source": source}, request=request)  # fmt: skip
    return receivable


def receivable_pay(user, receivable_id, amount, request=None) -> Receivable:
    """Records a payment against a receivable; fully paid, it is settled and leaves the overdue check."""
    from zhidu.customers.selectors import customers_writable

    _require(user, perms.CREDIT_ORDERS)
    errors: dict = {}
    paid = money(amount, "amount", errors, allow_zero=False)
    if errors:
        raise Invalid(_("收款金额有误"), details={"fields": errors})
    with transaction.atomic():
        qs = Receivable.objects.select_related("customer").select_for_update(of=("self",))
        if user is not None:
            qs = qs.filter(customer__in=customers_writable(user).values("pk"))
        try:
            receivable = qs.filter(pk=int(receivable_id)).first()
        except (TypeError, ValueError):
            receivable = None
        if receivable is None:
            raise NotFound(_("应收账款不存在"))
        if receivable.state == ReceivableState.PAID:
            raise Conflict(_("该应收账款已结清"), code="bad_state")
        if paid > receivable.outstanding:
            raise Invalid(_("收款 %(paid)s 元超过未收余额 %(left)s 元") % {"paid": paid, "left": receivable.outstanding}, details={"fields": {"amount": [_("超过未收余额")]}})
        account = account_locked(receivable.customer)
        new_paid = receivable.paid_amount + paid
        state = ReceivableState.PAID if new_paid >= receivable.amount else ReceivableState.OPEN
        Receivable.objects.filter(pk=receivable.pk).update(paid_amount=new_paid, state=state, version=F("version") + 1)
        _refresh(account, receivables=-paid, due_dates=state == ReceivableState.PAID)
        audit.record(user, "credit.receivable_pay", target=receivable, details={"amount": str(paid), "paid_amount": str(new_paid), "state": state}, request=request)
    receivable.refresh_from_db()
    return receivable


def accounts_refresh(customer_ids) -> int:
    """Recomputes the exposure summary of these customers from their orders and receivables: two
    grouped aggregates and one bulk update per call (imports use it per chunk; a repair after a
    manual data fix). Returns the number of accounts written."""
    ids = sorted({int(i) for i in customer_ids})
    if not ids:
        return 0
    CreditAccount.objects.bulk_create([CreditAccount(customer_id=i) for i in ids], ignore_conflicts=True)
    receivables = {
        row["customer_id"]: row
        for row in Receivable.objects.filter(customer_id__in=ids, state=ReceivableState.OPEN).values("customer_id")
        .annotate(total=Sum(F("amount") - F("paid_amount")), oldest=Min("due_on")).order_by()
    }  # fmt: skip
    orders = {
        row["customer_id"]: row["total"]
        for row in CreditOrder.objects.filter(customer_id__in=ids, payment=Payment.CREDIT).filter(
            Q(state=OrderState.OPEN) | Q(state=OrderState.PENDING, check_result__stage="delivery")).values("customer_id").annotate(total=Sum("amount")).order_by()
    }  # fmt: skip
    accounts = list(CreditAccount.objects.select_for_update().filter(customer_id__in=ids))
    for account in accounts:
        row = receivables.get(account.customer_id) or {}
        account.receivables_outstanding = row.get("total") or Decimal(0)
        account.oldest_unpaid_due_on = row.get("oldest")
        account.open_orders = orders.get(account.customer_id) or Decimal(0)
        account.exposure = account.receivables_outstanding + account.open_orders
        account.over_limit = account.exposure > account.credit_limit
    CreditAccount.objects.bulk_update(accounts, ["receivables_outstanding", "open_orders", "exposure", "over_limit", "oldest_unpaid_due_on"], batch_size=1000)
    return len(accounts)


# ---------------------------------------------------------------- trade: stop and resume


def trade_stop(user, customer_id, reason: str, *, terminate: bool = False, request=None) -> CreditAccount:
    """Suspends supply as an emergency measure (暂时停止供货, 篇3 第14条 1.) or, on the supervisor's
    instruction, terminates trade (中止交易, 第14条 2.). Orders are refused until trade resumes; orders
    awaiting credit approval are refused when approved."""
    _require(user, perms.CREDIT_MANAGE)
    reason = _reason(reason)
    state = TradeState.TERMINATED if terminate else TradeState.SUSPENDED
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        if account.trade_state == state:
            raise Conflict(_("该客户已是“%(state)s”状态") % {"state": TradeState(state).label}, code="bad_state")
        before = account.trade_state
        account.trade_state, account.trade_reason = state, reason
        account.trade_changed_at, account.trade_changed_by = timezone.now(), user
        account.version += 1
        account.save(update_fields=["trade_state", "trade_reason", "trade_changed_at", "trade_changed_by", "version", "updated_at"])
        source = CITES["terminate" if terminate else "suspend"]
        summary = (_("中止交易：%(reason)s") if terminate else _("暂停供货：%(reason)s")) % {"reason": reason}
        _event(customer, user, "trade_stop", summary, {"from": before, "to": state, "reason": reason, "source": source})
        audit.record(user, "credit.trade_stop", target=customer, details={"from": before, "to": state, "reason": reason}, request=request)
        notify.send([customer.owner_id], _("客户交易状态变更：%(name)s") % {"name": customer.name}, summary, link=f"/credit/customers/{customer.pk}/", category="credit")
    return account


def trade_resume(user, customer_id, reason: str, request=None) -> CreditAccount:
    _require(user, perms.CREDIT_MANAGE)
    reason = _reason(reason)
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        if account.trade_state == TradeState.ACTIVE:
            raise Conflict(_("该客户正在正常交易，无需恢复"), code="bad_state")
        before = account.trade_state
        account.trade_state, account.trade_reason = TradeState.ACTIVE, ""
        account.trade_changed_at, account.trade_changed_by = timezone.now(), user
        account.version += 1
        account.save(update_fields=["trade_state", "trade_reason", "trade_changed_at", "trade_changed_by", "version", "updated_at"])
        summary = _("恢复交易：%(reason)s") % {"reason": reason}
        _event(customer, user, "trade_resume", summary, {"from": before, "reason": reason})
        audit.record(user, "credit.trade_resume", target=customer, details={"from": before, "reason": reason}, request=request)
        notify.send([customer.owner_id], _("客户交易状态变更：%(name)s") % {"name": customer.name}, summary, link=f"/credit/customers/{customer.pk}/", category="credit")
    return account


def measure_record(user, customer_id, kind: str, detail: str, instructed_by: str, amount=None, request=None) -> EmergencyMeasure:
    """A countermeasure for deteriorating credit (篇3 第11条 2.(2)), taken on the supervisor's explicit
    instruction (2.(1): 不得擅自处理), who is named."""
    _require(user, perms.CREDIT_MANAGE)
    errors: dict = {}
    if kind not in MeasureKind.values:
        errors["kind"] = [_("未知的措施；可选：%(choices)s") % {"choices": "、".join(f"{k}（{v}）" for k, v in MeasureKind.choices)}]
    detail = _text(detail, "detail", errors, limit=500)
    instructed_by = _text(instructed_by, "instructed_by", errors, limit=100)
    value = money(amount, "amount", errors) if amount not in (None, "") else None
    if errors:
        raise Invalid(_("应急措施有误，请按提示修改"), details={"fields": errors})
    with transaction.atomic():
        customer = _customer(user, customer_id)
        account_locked(customer)
        measure = EmergencyMeasure.objects.create(customer=customer, kind=kind, detail=detail, instructed_by=instructed_by, amount=value, created_by=user)
        _event(customer, user, "measure", _("应急措施：%(kind)s（%(detail)s），依上级主管 %(who)s 指示") % {"kind": MeasureKind(kind).label, "detail": detail, "who": instructed_by},
               {"measure": measure.pk, "source": CITES["measures"]})
        audit.record(user, "credit.measure_record", target=measure, details={"customer": customer.pk, "kind": kind, "instructed_by": instructed_by}, request=request)
    return measure


# ---------------------------------------------------------------- investigations


def investigation_record(user, customer_id, data: dict, request=None) -> CreditInvestigation:
    """Records a credit investigation and its report (篇3 第10–11条). A periodic report completes the
    open scheduled investigation; the next one is then due one grade cycle after the previous due date.
    A recommended grade is recorded, not applied: grade changes are approved separately (第8条)."""
    _require(user, perms.CREDIT_MANAGE)
    data = dict(data or {})
    errors: dict = {}
    kind = str(data.get("kind") or CreditInvestigation.Kind.PERIODIC)
    if kind not in CreditInvestigation.Kind.values:
        errors["kind"] = [_("类型应为 periodic（定期报告）或 emergency（紧急报告）")]
    channel = str(data.get("channel") or "")
    if channel not in InvestigationChannel.values:
        errors["channel"] = [_("未知的调查渠道；可选：%(choices)s") % {"choices": "、".join(f"{k}（{v}）" for k, v in InvestigationChannel.choices)}]
    investigated_on = _date(data.get("investigated_on"), "investigated_on", errors, default=timezone.localdate())
    if investigated_on and investigated_on > timezone.localdate():
        errors.setdefault("investigated_on", []).append(_("调查日期不能晚于今天"))
    summary = _text(data.get("summary"), "summary", errors, limit=5000)
    grade_after = str(data.get("grade_after") or "").strip()
    if grade_after and grade_after not in grades():
        errors["grade_after"] = [_("未知的信用等级：%(grade)s") % {"grade": grade_after[:20]}]
    if errors:
        raise Invalid(_("信用调查记录有误，请按提示修改"), details={"fields": errors})
    from zhidu.kernel.models import ScheduledTask

    with transaction.atomic():
        customer = _customer(user, customer_id)
        account = account_locked(customer)
        task = None
        if kind == CreditInvestigation.Kind.PERIODIC:
            target_type, target_id = audit.target_ref(customer)
            task = ScheduledTask.objects.filter(kind=INVESTIGATION_KIND, target_type=target_type, target_id=target_id, state=ScheduledTask.State.OPEN).first()
        investigation = CreditInvestigation.objects.create(
            customer=customer, kind=kind, channel=channel, investigated_on=investigated_on, summary=summary,
            grade_before=account.grade, grade_after=grade_after, task_id=task.pk if task else None, created_by=user,
        )  # fmt: skip
        fields = []
        if account.last_investigation_on is None or investigated_on > account.last_investigation_on:
            account.last_investigation_on = investigated_on
            fields.append("last_investigation_on")
        if task is not None:
            _done, following = schedules.task_done(task, user, note=_("信用调查 #%(id)s") % {"id": investigation.pk}, request=request)
            account.next_investigation_on = following.due_on if following else None
            fields.append("next_investigation_on")
        if fields:
            account.save(update_fields=[*fields, "updated_at"])
        summary_text = _("信用调查（%(kind)s，%(channel)s）") % {"kind": CreditInvestigation.Kind(kind).label, "channel": InvestigationChannel(channel).label}
        if grade_after and grade_after != account.grade:
            summary_text += _("；建议调整为 %(grade)s") % {"grade": grades()[grade_after]["label"]}
        _event(customer, user, "investigation", summary_text, {"investigation": investigation.pk, "source": CITES["investigation"]})
        audit.record(user, "credit.investigation_record", target=investigation, details={"customer": customer.pk, "kind": kind, "channel": channel, "grade_after": grade_after}, request=request)
        if kind == CreditInvestigation.Kind.EMERGENCY:
            # 第11条 2.(1): a sudden change is reported to the supervisor at once.
            from zhidu.org.models import User

            managers = User.objects.filter(is_active=True, department_id=customer.department_id, role__code__in=["supervisor", "dept_manager"])
            notify.send(managers, _("信用紧急报告：%(name)s") % {"name": customer.name}, summary[:500], link=f"/credit/customers/{customer.pk}/", category="credit")
    return investigation


# ---------------------------------------------------------------- business-registration changes


def registration_change_record(user, customer_id, data: dict, request=None) -> RegistrationChange:
    """Records a business-registration change of the customer (工商变更). The customer must report it
    within the pack's time limit from the change (S09: 10 working days); a deadline runs until the
    report is received (`reported_on` given now, or later with registration_change_reported)."""
    _require(user, perms.CREDIT_ORDERS, perms.CREDIT_MANAGE)
    data = dict(data or {})
    errors: dict = {}
    kind = str(data.get("kind") or "")
    if kind not in ChangeKind.values:
        errors["kind"] = [_("未知的变更事项；可选：%(choices)s") % {"choices": "、".join(f"{k}（{v}）" for k, v in ChangeKind.choices)}]
    description = _text(data.get("description"), "description", errors, limit=500)
    changed_on = _date(data.get("changed_on"), "changed_on", errors)
    reported_on = _date(data.get("reported_on"), "reported_on", errors) if data.get("reported_on") not in (None, "") else None
    today = timezone.localdate()
    if changed_on and changed_on > today:
        errors.setdefault("changed_on", []).append(_("变更日期不能晚于今天"))
    if reported_on and changed_on and reported_on < changed_on:
        errors.setdefault("reported_on", []).append(_("报告日期不能早于变更日期"))
    if reported_on and reported_on > today:
        errors.setdefault("reported_on", []).append(_("报告日期不能晚于今天"))
    if errors:
        raise Invalid(_("工商变更记录有误，请按提示修改"), details={"fields": errors})
    period = policy.get(REGISTRATION_DEADLINE_KEY)
    ladder = policy.get("credit.registration_change.ladder")
    start = timezone.make_aware(dt.datetime.combine(changed_on, dt.time(23, 59)))
    due_at = calendar.add(start, period.value["amount"], period.value["unit"])
    with transaction.atomic():
        customer = _customer(user, customer_id)
        change = RegistrationChange.objects.create(customer=customer, kind=kind, description=description, changed_on=changed_on,
                                                   due_at=due_at, source=period.source[:300], created_by=user)  # fmt: skip
        deadline = deadlines.deadline_start(
            change, REGISTRATION_DEADLINE_KEY, start, period.value["amount"], period.value["unit"], period.source, ladder=ladder,
            title=_("工商变更报告：%(name)s %(kind)s") % {"name": customer.name, "kind": ChangeKind(kind).label}, link=f"/credit/customers/{customer.pk}/",
        )  # fmt: skip
        RegistrationChange.objects.filter(pk=change.pk).update(deadline_id=deadline.pk)
        change.deadline_id = deadline.pk
        _event(customer, user, "registration_change", _("工商变更：%(kind)s（%(description)s）") % {"kind": ChangeKind(kind).label, "description": description}, {"change": change.pk})
        audit.record(user, "credit.registration_change_record", target=change, details={"customer": customer.pk, "kind": kind, "changed_on": changed_on.isoformat(), "due_at": due_at.isoformat()}, request=request)
        if reported_on:
            _mark_reported(change, reported_on)
    change.refresh_from_db()
    return change


def _mark_reported(change: RegistrationChange, reported_on: dt.date) -> None:
    at = timezone.make_aware(dt.datetime.combine(reported_on, dt.time(12, 0)))
    late = at > change.due_at
    RegistrationChange.objects.filter(pk=change.pk).update(reported_on=reported_on, late=late)
    if change.deadline_id:
        deadlines.deadline_met(change.deadline_id, at=at)


def registration_change_reported(user, change_id, reported_on=None, request=None) -> RegistrationChange:
    """The customer's report of the change was received: the deadline is met (late if after it)."""
    from zhidu.customers.selectors import customers_writable

    _require(user, perms.CREDIT_ORDERS, perms.CREDIT_MANAGE)
    errors: dict = {}
    reported_on = _date(reported_on, "reported_on", errors, default=timezone.localdate())
    if errors:
        raise Invalid(_("报告日期有误"), details={"fields": errors})
    with transaction.atomic():
        qs = RegistrationChange.objects.select_for_update().select_related("customer")
        if user is not None:
            qs = qs.filter(customer__in=customers_writable(user).values("pk"))
        try:
            change = qs.filter(pk=int(change_id)).first()
        except (TypeError, ValueError):
            change = None
        if change is None:
            raise NotFound(_("工商变更记录不存在"))
        if change.reported_on is not None:
            raise Conflict(_("该变更已于 %(date)s 报告") % {"date": change.reported_on.isoformat()}, code="bad_state")
        if reported_on < change.changed_on or reported_on > timezone.localdate():
            raise Invalid(_("报告日期应在变更日期与今天之间"), details={"fields": {"reported_on": [_("日期无效")]}})
        _mark_reported(change, reported_on)
        audit.record(user, "credit.registration_change_reported", target=change, details={"reported_on": reported_on.isoformat()}, request=request)
    change.refresh_from_db()
    return change


def registration_change_resolver(who: str, target_ids: list[str]) -> dict[str, list[int]]:
    """Deadline escalation: "owner" is the customer's owner, "manager" the department managers."""
    from zhidu.org.models import User

    rows = RegistrationChange.objects.filter(pk__in=[int(i) for i in target_ids]).values_list("pk", "customer__owner_id", "customer__department_id")
    if who == "owner":
        return {str(pk): [owner] for pk, owner, _dept in rows}
    managers: dict[int, list[int]] = {}
    for pk, dept in User.objects.filter(is_active=True, role__code="dept_manager").values_list("pk", "department_id"):
        managers.setdefault(dept, []).append(pk)
    return {str(pk): managers.get(dept, []) for pk, _owner, dept in rows}


def investigations_due_notify(now=None) -> int:
    """Tells the credit controllers how many credit investigations are due (one count, one notice each)."""
    from zhidu.kernel.models import ScheduledTask

    today = timezone.localdate(now) if now else timezone.localdate()
    due = ScheduledTask.objects.filter(kind=INVESTIGATION_KIND, state=ScheduledTask.State.OPEN, due_on__lte=today).count()
    if not due:
        return 0
    return notify.send(approvals.role_holders("credit_controller"), _("待进行的信用调查：%(n)d 户") % {"n": due},
                       _("按信用等级的调查周期已到期（%(source)s）") % {"source": CITES["investigation"]}, link="/credit/?investigation_due=1", category="credit")
