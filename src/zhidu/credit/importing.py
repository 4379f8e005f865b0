"""Importers for the credit book: receivables and open orders from a spreadsheet (CSV or XLSX), e.g. an
export of the accounting or ERP system.

Per chunk (one transaction, see kernel/importing.py): rows are validated in Python with the same rules
as entry (services.clean_receivable / clean_order); one query resolves the customers by code within the
importing user's scope, one finds references that already exist, rows are bulk-inserted, and the
exposure summary of the customers touched is recomputed with two grouped aggregates
(services.accounts_refresh). One audit entry describes the chunk.

Imported orders are the source system's accepted, undelivered orders: they join the exposure at once,
and the next order entered for the customer is checked against it. They are refused for a customer
on a blacklist, while trade is stopped, and on credit for a grade that allows none.
"""

from __future__ import annotations

from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.importing import ChunkOutcome, Importer, ImportFileError, Row, RowError, register
from zhidu.org import permissions as perms

from . import services
from .models import CreditAccount, CreditOrder, OrderSource, OrderState, Payment, Receivable, ReceivableState, TradeState

CUSTOMER_ALIASES = ("客户编码", "客户代码", "customer_code", "customer", "code")
RECEIVABLE_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_ALIASES,
    "reference": ("单据号", "发票号", "应收单号", "reference", "invoice"),
    "amount": ("金额", "应收金额", "amount"),
    "paid_amount": ("已收金额", "已收", "paid_amount", "paid"),
    "invoiced_on": ("开票日期", "单据日期", "invoiced_on", "invoice_date"),
    "due_on": ("到期日", "到期日期", "due_on", "due_date"),
}
ORDER_ALIASES: dict[str, tuple[str, ...]] = {
    "customer": CUSTOMER_ALIASES,
    "reference": ("订单号", "单号", "reference", "order_no"),
    "ordered_on": ("订购日期", "下单日期", "ordered_on", "order_date"),
    "product": ("品名", "产品", "商品名称", "product"),
    "quantity": ("数量", "quantity", "qty"),
    "unit_price": ("单价", "unit_price", "price"),
    "payment": ("付款方式", "payment"),
}
PAYMENT_WORDS = {"赊销": Payment.CREDIT, "信用": Payment.CREDIT, "现款": Payment.CASH, "现金": Payment.CASH, "先款后货": Payment.CASH}


class _CreditImporter(Importer):
    model = None

    def __init__(self, job):
        super().__init__(job)
        self.actor = job.uploaded_by
        if self.actor is not None and not self.actor.has_perm_code(perms.CREDIT_ORDERS):
            raise ImportFileError(_("您没有导入订单与应收账款的权限"))

    def _customers(self, rows: list[Row]) -> dict[str, object]:
        from zhidu.customers.models import Customer
        from zhidu.customers.selectors import customers_writable

        codes = {r.values.get("customer", "") for r in rows} - {""}
        qs = Customer.objects.all() if self.actor is None else customers_writable(self.actor)
        return {c.code: c for c in qs.filter(code__in=codes).only("pk", "code", "name", "credit_code", "id_number", "department_id")}

    def _existing(self, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
        if not pairs:
            return set()
        ids = {p[0] for p in pairs}
        refs = {p[1] for p in pairs}
        found = self.model.objects.filter(customer_id__in=ids, reference__in=refs).values_list("customer_id", "reference")
        return set(found) & pairs

    @staticmethod
    def _field_errors(number: int, errors: dict) -> list[RowError]:
        return [RowError(number, field, "；".join(str(m) for m in messages)) for field, messages in errors.items()]


@register
class ReceivableImporter(_CreditImporter):
    kind = "credit_receivables"
    tables = (Receivable,)
    model = Receivable
    aliases = RECEIVABLE_ALIASES
    required_columns = ("customer", "reference", "amount")

    def process_chunk(self, rows: list[Row]) -> ChunkOutcome:
        outcome = ChunkOutcome()
        customers = self._customers(rows)
        good = []
        for row in rows:
            cleaned, errors = services.clean_receivable(row.values)
            customer = customers.get(row.values.get("customer", ""))
            if customer is None:
                errors.setdefault("customer", []).append(_("客户编码不存在或不在您的管辖范围内：%(code)s") % {"code": row.values.get("customer", "")})
            if errors:
                outcome.errors += self._field_errors(row.number, errors)
                continue
            good.append((row, customer, cleaned))
        pairs = {(c.pk, d["reference"]) for _r, c, d in good}
        existing = self._existing(pairs)
        terms = dict(CreditAccount.objects.filter(customer_id__in={c.pk for _r, c, _d in good}).values_list("customer_id", "payment_term_days"))
        import datetime as dt

        new, seen = [], set()
        for row, customer, data in good:
            key = (customer.pk, data["reference"])
            if key in existing or key in seen:
                outcome.errors.append(RowError(row.number, "reference", _("该客户已有单据号 %(ref)s") % {"ref": data["reference"]}))
                continue
            seen.add(key)
            if data["due_on"] is None:
                data["due_on"] = data["invoiced_on"] + dt.timedelta(days=terms.get(customer.pk, 0))
            state = ReceivableState.PAID if data["paid_amount"] >= data["amount"] else ReceivableState.OPEN
            new.append(Receivable(customer_id=customer.pk, state=state, source=OrderSource.IMPORTED, created_by=self.actor, **data))
        if new:
            Receivable.objects.bulk_create(new, batch_size=1000)
            services.accounts_refresh({r.customer_id for r in new})
            audit.record(self.actor, "credit.receivables_import", target=("kernel.importjob", self.job.pk),
                         details={"rows": len(new), "amount": str(sum(r.amount - r.paid_amount for r in new))})
        outcome.created = len(new)
        return outcome


@register
class OrderImporter(_CreditImporter):
    kind = "credit_orders"
    tables = (CreditOrder,)
    model = CreditOrder
    aliases = ORDER_ALIASES
    required_columns = ("customer", "reference", "product", "quantity", "unit_price")

    def process_chunk(self, rows: list[Row]) -> ChunkOutcome:
        from zhidu.admission.services import blacklist_check

        outcome = ChunkOutcome()
        customers = self._customers(rows)
        accounts = {a.customer_id: a for a in CreditAccount.objects.filter(customer_id__in=[c.pk for c in customers.values()])}
        grades = services.grades()
        barred: dict[int, str] = {}
        actor_department = getattr(self.actor, "department_id", None)
        for customer in customers.values():
            try:
                # The lists of the customer's department and of the importing user's, as at entry.
                for department_id in sorted({customer.department_id, actor_department} - {None}):
                    blacklist_check(customer, department_id)
            except Forbidden as exc:
                barred[customer.pk] = str(exc.message)
                continue
            account = accounts.get(customer.pk)
            if account is not None and account.trade_state != TradeState.ACTIVE:
                barred[customer.pk] = _("已%(state)s：%(reason)s") % {"state": TradeState(account.trade_state).label, "reason": account.trade_reason}
        good = []
        for row in rows:
            values = dict(row.values)
            values["payment"] = PAYMENT_WORDS.get(values.get("payment", ""), values.get("payment") or Payment.CREDIT)
            cleaned, errors = services.clean_order(values)
            customer = customers.get(row.values.get("customer", ""))
            if customer is None:
                errors.setdefault("customer", []).append(_("客户编码不存在或不在您的管辖范围内：%(code)s") % {"code": row.values.get("customer", "")})
            elif customer.pk in barred:
                errors.setdefault("customer", []).append(barred[customer.pk])
            elif cleaned["payment"] == Payment.CREDIT and accounts.get(customer.pk) and accounts[customer.pk].grade:
                cfg = grades.get(accounts[customer.pk].grade)
                if cfg is not None and not cfg["credit_allowed"]:
                    errors.setdefault("payment", []).append(_("%(grade)s客户不给予任何信用交易") % {"grade": cfg["label"]})
            if errors:
                outcome.errors += self._field_errors(row.number, errors)
                continue
            good.append((row, customer, cleaned))
        existing = self._existing({(c.pk, d["reference"]) for _r, c, d in good})
        new, seen = [], set()
        for row, customer, data in good:
            key = (customer.pk, data["reference"])
            if key in existing or key in seen:
                outcome.errors.append(RowError(row.number, "reference", _("该客户已有订单号 %(ref)s") % {"ref": data["reference"]}))
                continue
            seen.add(key)
            new.append(CreditOrder(customer_id=customer.pk, state=OrderState.OPEN, source=OrderSource.IMPORTED, entered_by=self.actor,
                                   check_result={"imported": True, "needs_approval": False, "reasons": []}, **data))  # fmt: skip
        if new:
            CreditOrder.objects.bulk_create(new, batch_size=1000)
            services.accounts_refresh({o.customer_id for o in new})
            audit.record(self.actor, "credit.orders_import", target=("kernel.importjob", self.job.pk),
                         details={"rows": len(new), "amount": str(sum(o.amount for o in new))})
        outcome.created = len(new)
        return outcome
