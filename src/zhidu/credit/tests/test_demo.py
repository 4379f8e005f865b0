import pytest

from zhidu.credit import demo
from zhidu.credit.models import CreditAccount, CreditOrder, TradeState

pytestmark = pytest.mark.django_db


def _customers(make_customer, org):
    from zhidu.customers.models import Customer

    for i in range(6):
        make_customer(user=org.sales_a if i % 2 else org.supervisor_a)
    Customer.objects.update(status="active")
    return list(Customer.objects.order_by("id"))


def test_demo_under_a_pack_without_credit_numbers(org, pack, make_customer):
    customers = _customers(make_customer, org)
    pack("s01-prosthetics")
    demo.load({"gm": org.gm, "sales": org.sales_a}, customers)
    assert CreditAccount.objects.filter(grade__in=["A", "B", "C", "D"]).count() == 6
    assert not CreditAccount.objects.exclude(credit_limit=0).exists()
    assert CreditOrder.objects.filter(state="pending").exists()
    assert CreditAccount.objects.filter(trade_state=TradeState.SUSPENDED).count() == 1


def test_demo_with_the_s28_pack(org, credit, make_customer):
    demo.load({"gm": org.gm, "credit_controller": credit.controller}, _customers(make_customer, org))
    limits = dict(CreditAccount.objects.values_list("grade", "credit_limit").distinct())
    assert limits["A"] > 0 and limits["D"] == 0
    assert CreditOrder.objects.filter(state="open").exists() and CreditOrder.objects.filter(state="pending").exists()
