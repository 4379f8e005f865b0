"""The ledger: append-only entries of points or money. A balance is a SUM; a closed period is locked;
a mistake is corrected by a reversing entry in an open period, never by editing."""

import re
from decimal import Decimal, InvalidOperation

from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.errors import Conflict, Invalid, NotFound
from zhidu.kernel.models import LedgerEntry, LedgerPeriod

_PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")


def period_of(moment=None) -> str:
    return timezone.localtime(moment or timezone.now()).strftime("%Y-%m")


def _check_period(period: str) -> str:
    if not isinstance(period, str) or not _PERIOD.match(period):
        raise Invalid(_("期间格式应为 YYYY-MM：%(period)s") % {"period": period})
    return period


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise Invalid(_("金额无效：%(value)s") % {"value": value}) from None
    if not amount.is_finite() or amount == 0 or amount != amount.quantize(Decimal("0.01")):
        raise Invalid(_("金额必须是非零数，最多两位小数：%(value)s") % {"value": value})
    return amount


def _lock_period(period: str) -> LedgerPeriod:
    try:
        with transaction.atomic():
            LedgerPeriod.objects.get_or_create(period=period)
    except IntegrityError:
        pass
    return LedgerPeriod.objects.select_for_update().get(period=period)


def _current_version():
    from zhidu.kernel import policy

    return policy.current_version()


def post(account: str, period: str, amount, unit: str, reason: str, citation: str, *, source=None, actor=None,
         request=None, reverses: LedgerEntry | None = None) -> LedgerEntry:
    """Appends one entry. Refused when the period is closed, the unit unknown, or the citation missing."""
    _check_period(period)
    amount = _amount(amount)
    if unit not in LedgerEntry.Unit.values:
        raise Invalid(_("单位必须是 %(units)s 之一") % {"units": ", ".join(LedgerEntry.Unit.values)})
    if not account:
        raise Invalid(_("缺少账户"))
    if not (reason or "").strip() or not (citation or "").strip():
        raise Invalid(_("每笔分录必须写明事由和制度依据"))
    target_type, target_id = audit.target_ref(source)
    with transaction.atomic():
        if _lock_period(period).closed:
            raise Conflict(_("期间 %(period)s 已结账，不能再记账") % {"period": period}, code="period_closed",
                           details={"period": period})
        entry = LedgerEntry.objects.create(
            account=account, period=period, amount=amount, unit=unit, reason=reason.strip()[:300],
            citation=citation.strip()[:300], target_type=target_type, target_id=target_id, reverses=reverses,
            created_by=actor if getattr(actor, "is_authenticated", False) else None, pack_version=_current_version(),
        )
        audit.record(actor, "ledger.posted", entry, {"account": account, "period": period, "amount": str(amount),
                                                     "unit": unit, "reason": entry.reason, "citation": entry.citation,
                                                     "source": f"{target_type}:{target_id}" if target_type else ""},
                     request=request)
    return entry


def reverse(entry_id: int, period: str, reason: str, *, actor=None, request=None) -> LedgerEntry:
    """Cancels an entry by posting its negative into `period` (which must be open)."""
    original = LedgerEntry.objects.filter(pk=entry_id).first()
    if original is None:
        raise NotFound(_("分录不存在"))
    if original.reversals.exists():
        raise Conflict(_("该分录已冲销"))
    return post(original.account, period, -original.amount, original.unit, reason, original.citation,
                source=(original.target_type, original.target_id) if original.target_type else None,
                actor=actor, request=request, reverses=original)


def balance(account: str, unit: str, *, through_period: str | None = None, period: str | None = None) -> Decimal:
    """SUM of the account's entries in `unit`: all, up to and including `through_period`, or one `period`."""
    qs = LedgerEntry.objects.filter(account=account, unit=unit)
    if period:
        qs = qs.filter(period=_check_period(period))
    if through_period:
        qs = qs.filter(period__lte=_check_period(through_period))
    return qs.aggregate(total=Sum("amount"))["total"] or Decimal("0")


def close_period(period: str, user, *, request=None) -> LedgerPeriod:
    _check_period(period)
    with transaction.atomic():
        row = _lock_period(period)
        if row.closed:
            raise Conflict(_("期间 %(period)s 已结账") % {"period": period})
        row.closed, row.closed_at, row.closed_by = True, timezone.now(), user
        row.save(update_fields=["closed", "closed_at", "closed_by"])
        audit.record(user, "ledger.period_closed", row, {"period": period}, request=request)
    return row


def entries(account: str, *, unit: str | None = None, after_id: int | None = None, limit: int = 100):
    qs = LedgerEntry.objects.filter(account=account).order_by("id")
    if unit:
        qs = qs.filter(unit=unit)
    if after_id:
        qs = qs.filter(id__gt=after_id)
    return list(qs[:limit])
