"""XLSX exports of the credit exposure list and of the overdue receivables: what the user may see, with
the list's filters, written in chunks to a temporary file that the response streams, always audited."""

from __future__ import annotations

import itertools
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.exporting import XlsxWriter, temp_path
from zhidu.org import permissions as perms
from zhidu.org.services import require

from .models import ReceivableState, TradeState
from .selectors import FILTERS, accounts_filtered, overdue_cutoff, receivables_visible

CHUNK_SIZE = 2000


def filters_from(params) -> dict:
    return {key: params.get(key) for key in FILTERS if params.get(key) not in (None, "")}


def export_exposure(user, filters: dict | None = None, *, path=None, request=None) -> tuple[Path, str, int]:
    """The credit accounts matching `filters` (see selectors.FILTERS) with grade, limit and exposure."""
    from .services import grades

    require(user, perms.CREDIT_EXPORT)
    labels = {key: cfg["label"] for key, cfg in grades().items()}
    trade = dict(TradeState.choices)
    header = [_("客户编码"), _("客户名称"), _("部门"), _("负责人"), _("信用等级"), _("信用额度"), _("回款期限（天）"), _("应收余额"),
              _("未完成订单"), _("信用敞口"), _("超额度"), _("最早未付到期日"), _("交易状态"), _("下次信用调查")]  # fmt: skip
    qs = accounts_filtered(user, filters).order_by("-id").values_list(
        "customer__code", "customer__name", "customer__department__name", "customer__owner__username", "grade", "credit_limit",
        "payment_term_days", "receivables_outstanding", "open_orders", "exposure", "over_limit", "oldest_unpaid_due_on", "trade_state",
        "next_investigation_on",
    )  # fmt: skip
    target = Path(path) if path else temp_path(".xlsx")
    with XlsxWriter(target, title=_("信用敞口")) as writer:
        writer.append(header)
        rows = qs.iterator(chunk_size=CHUNK_SIZE)
        while chunk := list(itertools.islice(rows, CHUNK_SIZE)):
            for code, name, dept, owner, grade, limit, term, recv, orders, exposure, over, oldest, state, nxt in chunk:
                writer.append([code or "", name, dept, owner, labels.get(grade, grade), limit, term, recv, orders, exposure,
                               _("是") if over else "", oldest.isoformat() if oldest else "", str(trade.get(state, state)), nxt.isoformat() if nxt else ""])  # fmt: skip
    count = writer.rows - 1
    with transaction.atomic():
        audit.record(user, "credit.export_exposure", target=("credit.creditaccount", "export"), details={"filters": filters or {}, "rows": count, "format": "xlsx"}, request=request)
    return target, f"credit-exposure-{timezone.localtime():%Y%m%d-%H%M%S}.xlsx", count


def export_overdue(user, *, path=None, request=None) -> tuple[Path, str, int]:
    """Open receivables overdue beyond the pack's days, oldest due first."""
    require(user, perms.CREDIT_EXPORT)
    today = timezone.localdate()
    header = [_("客户编码"), _("客户名称"), _("单据号"), _("金额"), _("已收金额"), _("未收余额"), _("开票日期"), _("到期日"), _("逾期天数")]
    qs = (
        receivables_visible(user).filter(state=ReceivableState.OPEN, due_on__lt=overdue_cutoff(today)).order_by("due_on", "id")
        .values_list("customer__code", "customer__name", "reference", "amount", "paid_amount", "invoiced_on", "due_on")
    )  # fmt: skip
    target = Path(path) if path else temp_path(".xlsx")
    with XlsxWriter(target, title=_("逾期应收")) as writer:
        writer.append(header)
        rows = qs.iterator(chunk_size=CHUNK_SIZE)
        while chunk := list(itertools.islice(rows, CHUNK_SIZE)):
            for code, name, ref, amount, paid, invoiced, due in chunk:
                writer.append([code or "", name, ref, amount, paid, amount - paid, invoiced.isoformat(), due.isoformat(), (today - due).days])
    count = writer.rows - 1
    with transaction.atomic():
        audit.record(user, "credit.export_overdue", target=("credit.receivable", "export"), details={"rows": count, "format": "xlsx"}, request=request)
    return target, f"credit-overdue-{timezone.localtime():%Y%m%d-%H%M%S}.xlsx", count
