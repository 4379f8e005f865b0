from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model

from zhidu.kernel import ledger
from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.models import AuditEntry, LedgerEntry, LedgerImmutable

pytestmark = pytest.mark.django_db

CITE = "S07 员工奖惩制度 第五条"


@pytest.fixture
def hr():
    return get_user_model().objects.create(username="hr")


def test_balance_is_the_sum_of_entries(hr):
    ledger.post("staff:42", "2026-03", 5, "points", "客户表扬", CITE, source=("complaints.complaint", 3), actor=hr)
    ledger.post("staff:42", "2026-04", "-2", "points", "逾期回访", CITE, actor=hr)
    ledger.post("staff:42", "2026-04", "200.50", "yuan", "季度奖金", CITE, actor=hr)
    ledger.post("staff:7", "2026-04", 9, "points", "别人", CITE, actor=hr)
    assert ledger.balance("staff:42", "points") == Decimal("3")
    assert ledger.balance("staff:42", "points", through_period="2026-03") == Decimal("5")
    assert ledger.balance("staff:42", "points", period="2026-04") == Decimal("-2")
    assert ledger.balance("staff:42", "yuan") == Decimal("200.50")
    assert ledger.balance("staff:99", "yuan") == Decimal("0")
    assert AuditEntry.objects.filter(action="ledger.posted").count() == 4
    entry = LedgerEntry.objects.get(reason="客户表扬")
    assert (entry.target_type, entry.target_id, entry.citation) == ("complaints.complaint", "3", CITE)


def test_closed_period_refuses_postings(hr):
    ledger.post("staff:42", "2026-03", 5, "points", "客户表扬", CITE, actor=hr)
    ledger.close_period("2026-03", hr)
    with pytest.raises(Conflict) as excinfo:
        ledger.post("staff:42", "2026-03", 1, "points", "补记", CITE, actor=hr)
    assert excinfo.value.code == "period_closed"
    assert LedgerEntry.objects.count() == 1
    with pytest.raises(Conflict):
        ledger.close_period("2026-03", hr)
    ledger.post("staff:42", "2026-04", 1, "points", "补记", CITE, actor=hr)


def test_entries_cannot_be_changed_only_reversed(hr):
    entry = ledger.post("staff:42", "2026-03", 5, "points", "误记", CITE, actor=hr)
    entry.amount = Decimal("50")
    with pytest.raises(LedgerImmutable):
        entry.save()
    with pytest.raises(LedgerImmutable):
        entry.delete()
    with pytest.raises(LedgerImmutable):
        LedgerEntry.objects.filter(pk=entry.pk).update(amount=1)
    ledger.close_period("2026-03", hr)
    reversal = ledger.reverse(entry.pk, "2026-04", "冲销误记", actor=hr)
    assert reversal.amount == Decimal("-5") and reversal.reverses == entry
    assert ledger.balance("staff:42", "points") == Decimal("0")
    with pytest.raises(Conflict):
        ledger.reverse(entry.pk, "2026-04", "再冲一次", actor=hr)


@pytest.mark.parametrize("period,amount,unit,reason,citation", [
    ("2026-13", 1, "points", "r", CITE),
    ("202603", 1, "points", "r", CITE),
    ("2026-03", 0, "points", "r", CITE),
    ("2026-03", "1.005", "yuan", "r", CITE),
    ("2026-03", "abc", "yuan", "r", CITE),
    ("2026-03", 1, "dollars", "r", CITE),
    ("2026-03", 1, "points", "", CITE),
    ("2026-03", 1, "points", "r", " "),
])
def test_bad_postings_are_refused(hr, period, amount, unit, reason, citation):
    with pytest.raises(Invalid):
        ledger.post("staff:42", period, amount, unit, reason, citation, actor=hr)
    assert not LedgerEntry.objects.exists()
