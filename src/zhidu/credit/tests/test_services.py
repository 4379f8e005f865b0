"""S28 scenario: grades and limits, the credit check with its approval, overdue debt, tolerance, stopping
and resuming trade, investigations on the grade's cycle, registration-change deadlines, blacklist."""

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from zhidu.credit import selectors, services
from zhidu.credit.models import CreditAccount, CreditOrder, OrderState, Receivable, ReceivableState, TradeState
from zhidu.kernel import approvals, deadlines
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import ApprovalRequest, Deadline, ScheduledTask
from zhidu.kernel.policy import ParameterMissing

from .conftest import CRITERIA, LIMITS, TERMS

pytestmark = pytest.mark.django_db


def order(user, customer, amount, reference=None, **extra):
    order.n = getattr(order, "n", 0) + 1
    data = {"reference": reference or f"SO-{order.n}", "product": "假肢配件", "quantity": "1", "unit_price": str(amount), **extra}
    return services.order_create(user, customer.pk, data)


def account(customer) -> CreditAccount:
    return CreditAccount.objects.get(customer=customer)


@pytest.fixture
def variant(org, pack, tmp_path):
    """Applies the S28 pack with some parameters changed (a company's own numbers)."""
    import yaml

    from zhidu.kernel import policy

    def apply(**values):
        parameters = {key.replace("__", "."): {"value": value, "source": "test"} for key, value in values.items()}
        path = tmp_path / "variant.yaml"
        path.write_text(yaml.safe_dump({"name": "s28-variant", "title": "t", "extends": "s28-credit", "parameters": parameters}, allow_unicode=True))
        pack(path)
        for key, value in (("credit.grade_max_limits", LIMITS), ("credit.grade_payment_term_days", TERMS), ("credit.grade_criteria", CRITERIA)):
            policy.parameter_set(key, value, org.gm)

    return apply


# ---------------------------------------------------------------- grades and limits


def test_grade_limit_and_term_within_the_grades_maxima(org, credit, make_customer):
    customer = make_customer()
    with pytest.raises(Invalid) as exc:
        services.credit_terms_set(credit.controller, customer.pk, grade="C", credit_limit="20000.01", payment_term_days=0, reason="r")
    assert "20000" in str(exc.value.message) and exc.value.details["fields"]["credit_limit"]
    with pytest.raises(Invalid) as exc:
        services.credit_terms_set(credit.controller, customer.pk, grade="B", credit_limit="1000", payment_term_days=5, reason="r")
    assert "payment_term_days" in exc.value.details["fields"]
    with pytest.raises(Invalid) as exc:
        services.credit_terms_set(credit.controller, customer.pk, grade="D", credit_limit="1", payment_term_days=0, reason="r")
    assert "不给予任何信用交易" in str(exc.value.message)
    with pytest.raises(Invalid) as exc:
        services.credit_terms_set(credit.controller, customer.pk, grade="E", credit_limit="0", payment_term_days=0, reason="r")
    assert "A、B、C、D" in str(exc.value.details["fields"]["grade"][0])

    done = services.credit_terms_set(credit.controller, customer.pk, grade="C", credit_limit="20000", payment_term_days=0, reason="调查后给予少量额度")
    assert (done.grade, done.credit_limit, done.version) == ("C", Decimal("20000.00"), 2)
    with pytest.raises(Conflict):
        services.credit_terms_set(credit.controller, customer.pk, grade="B", credit_limit="0", payment_term_days=0, reason="r", expected_version=1)


def test_only_credit_managers_set_grades(org, credit, make_customer):
    customer = make_customer()
    with pytest.raises(Forbidden):
        services.credit_terms_set(org.sales_a, customer.pk, grade="A", credit_limit="100", payment_term_days=0, reason="r")


def test_blank_seed_numbers_stop_a_limit_until_set(org, pack, make_customer):
    customer = make_customer()
    pack("s28-credit")
    from zhidu.org.models import User

    controller = User.objects.create(username="cc", role=org.roles["credit_controller"], department=org.root, clearance=1)
    with pytest.raises(ParameterMissing) as exc:
        services.credit_terms_set(controller, customer.pk, grade="A", credit_limit="100", payment_term_days=0, reason="r")
    assert exc.value.details["key"] == "credit.grade_max_limits" and "L126" in exc.value.details["source"]
    assert [m["key"] for m in selectors.missing_parameters()] == list(selectors.REQUIRED_KEYS)
    # A grade with no credit needs none of the blank numbers.
    assert services.credit_terms_set(controller, customer.pk, grade="D", credit_limit="0", payment_term_days=0, reason="r").grade == "D"


# ---------------------------------------------------------------- the credit check


def test_order_within_limit_is_accepted_and_joins_the_exposure(org, credit, graded):
    first = order(org.sales_a, graded, "6000")
    assert first.state == OrderState.OPEN and first.check_result["needs_approval"] is False
    acct = account(graded)
    assert (acct.open_orders, acct.exposure, acct.over_limit) == (Decimal("6000.00"), Decimal("6000.00"), False)


def test_limit_breach_needs_the_controllers_approval_then_is_accepted(org, credit, graded):
    order(org.sales_a, graded, "6000")
    big = order(org.sales_a, graded, "5000")
    assert big.state == OrderState.PENDING and big.check_result["reasons"] == ["over_limit"]
    assert big.check_result["exposure_after"] == "11000.00" and big.check_result["allowed"] == "10000.00"
    assert account(graded).exposure == Decimal("6000.00")  # a pending order is not exposure yet
    assert [r.pk for r in approvals.pending_for(credit.controller)] == [big.approval_id]
    with pytest.raises(Forbidden):
        approvals.decide(big.approval_id, org.manager_a, True)

    approvals.decide(big.approval_id, credit.controller, True, "客户回款记录良好")
    big.refresh_from_db()
    acct = account(graded)
    assert big.state == OrderState.OPEN
    assert (acct.exposure, acct.over_limit) == (Decimal("11000.00"), True)


def test_rejected_order_is_refused_with_the_comment(org, credit, graded):
    big = order(org.sales_a, graded, "12000")
    approvals.decide(big.approval_id, credit.controller, False, "超出额度过多")
    big.refresh_from_db()
    assert big.state == OrderState.REFUSED and "超出额度过多" in big.refuse_reason
    assert account(graded).exposure == 0


def test_tolerance_lets_a_small_excess_through(org, variant, make_customer):
    variant(credit__tolerance_percent=10)
    from zhidu.org.models import User

    controller = User.objects.create(username="cc", role=org.roles["credit_controller"], department=org.root, clearance=1)
    customer = make_customer()
    services.credit_terms_set(controller, customer.pk, grade="A", credit_limit="10000", payment_term_days=30, reason="r")
    assert order(org.sales_a, customer, "10999").state == OrderState.OPEN  # within 10,000 × 110 %
    assert order(org.sales_a, customer, "2").state == OrderState.PENDING  # 11,001 > 11,000


def test_overdue_debt_past_the_packs_days_needs_approval(org, credit, graded):
    today = timezone.localdate()
    services.receivable_create(org.sales_a, graded.pk, {"reference": "INV-1", "amount": "100", "invoiced_on": today - dt.timedelta(days=40), "due_on": today - dt.timedelta(days=10)})
    small = order(org.sales_a, graded, "50")
    assert small.state == OrderState.PENDING and small.check_result["reasons"] == ["overdue"]
    assert small.check_result["days_overdue"] == 10 and small.check_result["overdue_days"] == 0
    assert "逾期 10 天" in ApprovalRequest.objects.get(pk=small.approval_id).payload["text"]


def test_overdue_within_the_packs_days_passes(org, variant, make_customer):
    variant(credit__overdue_days=15)
    customer = make_customer()
    today = timezone.localdate()
    services.receivable_create(org.sales_a, customer.pk, {"reference": "INV-1", "amount": "100", "invoiced_on": today - dt.timedelta(days=40), "due_on": today - dt.timedelta(days=10)})
    order_ = order(org.sales_a, customer, "50", payment="cash")
    assert order_.state == OrderState.OPEN
    assert selectors.account_list(org.sales_a, {"overdue": "1"}).items == []
    services.receivable_create(org.sales_a, customer.pk, {"reference": "INV-2", "amount": "100", "invoiced_on": today - dt.timedelta(days=60), "due_on": today - dt.timedelta(days=16)})
    assert order(org.sales_a, customer, "50", payment="cash").state == OrderState.PENDING
    assert [a.customer_id for a in selectors.account_list(org.sales_a, {"overdue": "1"}).items] == [customer.pk]


def test_paying_the_overdue_debt_clears_the_overdue_check(org, credit, graded):
    today = timezone.localdate()
    receivable = services.receivable_create(org.sales_a, graded.pk, {"reference": "INV-1", "amount": "300", "invoiced_on": today - dt.timedelta(days=40), "due_on": today - dt.timedelta(days=5)})
    services.receivable_pay(org.sales_a, receivable.pk, "100")
    assert account(graded).receivables_outstanding == Decimal("200.00") and account(graded).oldest_unpaid_due_on is not None
    with pytest.raises(Invalid):
        services.receivable_pay(org.sales_a, receivable.pk, "200.01")
    services.receivable_pay(org.sales_a, receivable.pk, "200")
    acct = account(graded)
    assert (acct.receivables_outstanding, acct.oldest_unpaid_due_on) == (0, None)
    assert order(org.sales_a, graded, "50").state == OrderState.OPEN


def test_delivery_turns_the_order_into_a_receivable_due_after_the_term(org, credit, graded):
    accepted = order(org.sales_a, graded, "4000")
    delivered = services.order_deliver(org.sales_a, accepted.pk, "2026-11-02")
    receivable = Receivable.objects.get(order=delivered)
    assert delivered.state == OrderState.DELIVERED
    assert (receivable.amount, receivable.due_on) == (Decimal("4000.00"), dt.date(2026, 12, 2))
    acct = account(graded)
    assert (acct.open_orders, acct.receivables_outstanding, acct.exposure) == (0, Decimal("4000.00"), Decimal("4000.00"))
    with pytest.raises(Conflict):
        services.order_deliver(org.sales_a, accepted.pk)


def test_check_at_delivery_stage(org, variant, make_customer):
    variant(credit__check_stage="delivery")
    from zhidu.org.models import User

    controller = User.objects.create(username="cc", role=org.roles["credit_controller"], department=org.root, clearance=1)
    customer = make_customer()
    services.credit_terms_set(controller, customer.pk, grade="A", credit_limit="1000", payment_term_days=10, reason="r")
    big = order(org.sales_a, customer, "3000")
    assert big.state == OrderState.OPEN and account(customer).exposure == Decimal("3000.00")
    held = services.order_deliver(org.sales_a, big.pk)
    assert held.state == OrderState.PENDING and held.check_result["reasons"] == ["over_limit"]
    approvals.decide(held.approval_id, controller, True)
    held.refresh_from_db()
    assert held.state == OrderState.DELIVERED and account(customer).receivables_outstanding == Decimal("3000.00")


def test_grade_d_takes_no_credit_orders_only_cash(org, credit, make_customer):
    customer = make_customer()
    services.credit_terms_set(credit.controller, customer.pk, grade="D", credit_limit="0", payment_term_days=0, reason="严重失信")
    with pytest.raises(Conflict) as exc:
        order(org.sales_a, customer, "10")
    assert exc.value.code == "credit_not_allowed" and "先款后货" in str(exc.value.message)
    assert order(org.sales_a, customer, "10", payment="cash").state == OrderState.OPEN
    assert account(customer).exposure == 0


def test_ungraded_customer_has_no_credit_until_a_limit_is_set(org, credit, make_customer):
    customer = make_customer()
    assert order(org.sales_a, customer, "1").state == OrderState.PENDING


# ---------------------------------------------------------------- trade


def test_stop_trade_refuses_orders_and_resume_accepts_them(org, credit, graded):
    pending = order(org.sales_a, graded, "20000")
    services.trade_stop(credit.controller, graded.pk, "支票被拒付", terminate=False)
    with pytest.raises(Conflict) as exc:
        order(org.sales_a, graded, "10")
    assert exc.value.code == "trade_stopped" and "支票被拒付" in str(exc.value.message) and "L161" in str(exc.value.message)
    assert CreditOrder.objects.filter(customer=graded).count() == 1
    # An order that waited for approval is refused when approved while trade is stopped.
    approvals.decide(pending.approval_id, credit.controller, True)
    pending.refresh_from_db()
    assert pending.state == OrderState.REFUSED and "支票被拒付" in pending.refuse_reason
    with pytest.raises(Conflict):
        services.trade_stop(credit.controller, graded.pk, "again")
    services.trade_stop(credit.controller, graded.pk, "上级主管批示中止交易", terminate=True)
    assert account(graded).trade_state == TradeState.TERMINATED

    services.trade_resume(credit.controller, graded.pk, "欠款已结清，主管同意恢复")
    assert account(graded).trade_state == TradeState.ACTIVE
    assert order(org.sales_a, graded, "10").state == OrderState.OPEN
    with pytest.raises(Invalid):
        services.trade_stop(credit.controller, graded.pk, "  ")
    kinds = list(graded.credit_events.order_by("id").values_list("kind", flat=True))
    assert kinds.count("trade_stop") == 2 and "trade_resume" in kinds


def test_blacklisted_customers_order_is_refused_with_the_reason(org, credit, graded):
    from zhidu.admission.models import BlacklistEntry

    BlacklistEntry.objects.create(scope="company", customer=graded, name=graded.name, reason="恶意拖欠货款", citation="S01 L311",
                                  listed_by=org.gm, listed_on=timezone.localdate())
    with pytest.raises(Forbidden) as exc:
        order(org.sales_a, graded, "10")
    assert exc.value.code == "blacklisted" and "恶意拖欠货款" in str(exc.value.message)
    assert not CreditOrder.objects.filter(customer=graded).exists()


def test_emergency_measure_needs_the_supervisors_instruction(org, credit, graded):
    with pytest.raises(Invalid) as exc:
        services.measure_record(credit.controller, graded.pk, "deposit", "增加保证金 5 万", "")
    assert "instructed_by" in exc.value.details["fields"]
    measure = services.measure_record(credit.controller, graded.pk, "deposit", "增加保证金 5 万", "supervisor_a", amount="50000")
    assert measure.amount == Decimal("50000.00")
    with pytest.raises(Invalid):
        services.measure_record(credit.controller, graded.pk, "bogus", "x", "y")


# ---------------------------------------------------------------- investigations


def test_investigations_follow_the_grades_cycle(org, credit, graded):
    today = timezone.localdate()
    task = ScheduledTask.objects.get(kind=services.INVESTIGATION_KIND, target_id=str(graded.pk), state="open")
    assert task.recurrence == {"amount": 6, "unit": "months"} and "L145" in task.source
    assert account(graded).next_investigation_on == task.due_on
    assert task.due_on.month == (today.month + 6 - 1) % 12 + 1

    inv = services.investigation_record(credit.controller, graded.pk, {"channel": "bank", "summary": "银行往来正常", "grade_after": "B"})
    nxt = ScheduledTask.objects.get(kind=services.INVESTIGATION_KIND, target_id=str(graded.pk), state="open")
    assert inv.task_id == task.pk and nxt.previous_id == task.pk
    assert nxt.due_on.month == (task.due_on.month + 6 - 1) % 12 + 1
    assert account(graded).grade == "A"  # a recommendation, not a change

    services.credit_terms_set(credit.controller, graded.pk, grade="C", credit_limit="5000", payment_term_days=0, reason="调查后降级")
    monthly = ScheduledTask.objects.get(kind=services.INVESTIGATION_KIND, target_id=str(graded.pk), state="open")
    assert monthly.recurrence == {"amount": 1, "unit": "months"}
    assert monthly.due_on == services.schedules.next_due_on(today, {"amount": 1, "unit": "months"})
    assert ScheduledTask.objects.filter(pk=nxt.pk, state="cancelled").exists()


def test_bad_investigation_input(org, credit, graded):
    with pytest.raises(Invalid) as exc:
        services.investigation_record(credit.controller, graded.pk, {"channel": "phone", "summary": "", "investigated_on": "2099-01-01"})
    assert set(exc.value.details["fields"]) == {"channel", "summary", "investigated_on"}


# ---------------------------------------------------------------- business-registration changes


def test_registration_change_must_be_reported_within_ten_working_days(org, credit, graded):
    change = services.registration_change_record(org.sales_a, graded.pk, {"kind": "legal_representative", "description": "法定代表人由张三变更为李四", "changed_on": "2026-09-25"})
    # 10 working days from Fri 25 Sep 2026: 28–30 Sep, then (国庆 1–7 Oct off) 8, 9, Saturday 10 (调休), 12–15 Oct.
    assert timezone.localtime(change.due_at).date() == dt.date(2026, 10, 15)
    deadline = Deadline.objects.get(pk=change.deadline_id)
    assert deadline.policy_key == "credit.registration_change.deadline" and "L1017" in deadline.source
    deadlines.sweep(timezone.now())
    deadline.refresh_from_db()
    assert deadline.state == Deadline.State.BREACHED
    assert org.sales_a.notifications.filter(title__contains="工商变更报告").exists()

    reported = services.registration_change_reported(org.sales_a, change.pk, "2026-10-20")
    assert reported.late is True and reported.reported_on == dt.date(2026, 10, 20)
    with pytest.raises(Conflict):
        services.registration_change_reported(org.sales_a, change.pk, "2026-10-21")


def test_registration_change_reported_in_time(org, credit, graded):
    today = timezone.localdate()
    change = services.registration_change_record(org.sales_a, graded.pk, {"kind": "name_address", "description": "住所变更", "changed_on": today, "reported_on": today})
    assert change.late is False and Deadline.objects.get(pk=change.deadline_id).state == Deadline.State.MET
    with pytest.raises(Invalid) as exc:
        services.registration_change_record(org.sales_a, graded.pk, {"kind": "x", "description": "", "changed_on": "2026-13-01"})
    assert set(exc.value.details["fields"]) == {"kind", "description", "changed_on"}


# ---------------------------------------------------------------- input, scope, summary


def test_bad_order_input_changes_nothing(org, credit, graded):
    with pytest.raises(Invalid) as exc:
        services.order_create(org.sales_a, graded.pk, {"reference": "", "product": "", "quantity": "-1", "unit_price": "abc", "payment": "barter"})
    assert set(exc.value.details["fields"]) == {"reference", "product", "quantity", "unit_price", "payment"}
    order(org.sales_a, graded, "10", reference="SO-X")
    with pytest.raises(Conflict):
        order(org.sales_a, graded, "10", reference="SO-X")
    with pytest.raises(Invalid) as exc:
        services.receivable_create(org.sales_a, graded.pk, {"reference": "R", "amount": "0", "invoiced_on": "2026-11-10", "due_on": "2026-11-01"})
    assert set(exc.value.details["fields"]) == {"amount", "due_on"}
    assert CreditOrder.objects.filter(customer=graded).count() == 1


def test_orders_only_for_customers_in_scope(org, credit, graded):
    with pytest.raises(NotFound):
        order(org.sales_b, graded, "10")
    with pytest.raises(Forbidden):
        order(org.auditor, graded, "10")


def test_summary_matches_a_full_recount(org, credit, graded):
    today = timezone.localdate()
    a = order(org.sales_a, graded, "3000")
    order(org.sales_a, graded, "2000", payment="cash")
    services.order_deliver(org.sales_a, a.pk)
    services.receivable_create(org.sales_a, graded.pk, {"reference": "INV-9", "amount": "700", "invoiced_on": today, "due_on": today - dt.timedelta(days=0)})
    before = CreditAccount.objects.values("receivables_outstanding", "open_orders", "exposure", "oldest_unpaid_due_on").get(customer=graded)
    CreditAccount.objects.filter(customer=graded).update(exposure=0, open_orders=0, receivables_outstanding=0, oldest_unpaid_due_on=None)
    services.accounts_refresh([graded.pk])
    after = CreditAccount.objects.values("receivables_outstanding", "open_orders", "exposure", "oldest_unpaid_due_on").get(customer=graded)
    assert before == after and after["exposure"] == Decimal("3700.00")
    assert Receivable.objects.filter(customer=graded, state=ReceivableState.OPEN).count() == 2


def test_exposure_report_groups_by_grade(org, credit, graded, make_customer):
    order(org.sales_a, graded, "4000")
    other = make_customer()
    services.credit_terms_set(credit.controller, other.pk, grade="B", credit_limit="100", payment_term_days=0, reason="r")
    report = selectors.exposure_report(credit.controller)
    rows = {r["grade"]: r for r in report["by_grade"]}
    assert rows["A"]["exposure"] == Decimal("4000.00") and rows["B"]["customers"] == 1
    assert selectors.exposure_report(org.sales_b)["by_grade"] == []


def test_exports_hold_only_the_users_scope_and_clearance(org, credit, graded, make_customer, tmp_path):
    from openpyxl import load_workbook

    from zhidu.credit import exporting
    from zhidu.customers.models import Customer
    from zhidu.kernel.access import SecretLevel

    theirs = make_customer(user=org.sales_b, name="二部客户")
    secret = make_customer(name="绝密客户")
    today = timezone.localdate()
    for customer in (graded, theirs, secret):
        services.credit_terms_set(org.gm, customer.pk, grade="A", credit_limit="10000", payment_term_days=30, reason="设定额度")
        services.receivable_create(org.gm, customer.pk, {"reference": "R-1", "amount": "800", "invoiced_on": today - dt.timedelta(days=30), "due_on": today - dt.timedelta(days=3)})
    Customer.objects.filter(pk=secret.pk).update(secret_level=SecretLevel.TOP_SECRET)

    def names(path):
        return [row[1] for row in list(load_workbook(path).active.values)[1:]]

    _path, _name, rows = exporting.export_exposure(org.manager_a, path=tmp_path / "a.xlsx")
    assert rows == 1 and names(tmp_path / "a.xlsx") == [graded.name]
    _path, _name, rows = exporting.export_overdue(org.manager_a, path=tmp_path / "o.xlsx")
    assert rows == 1 and names(tmp_path / "o.xlsx") == [graded.name]
    exporting.export_exposure(org.gm, path=tmp_path / "gm.xlsx")
    assert sorted(names(tmp_path / "gm.xlsx")) == sorted([graded.name, theirs.name, secret.name])
    with pytest.raises(Forbidden):
        exporting.export_overdue(org.sales_a, path=tmp_path / "s.xlsx")


def test_imported_orders_obey_the_importers_department_blacklist_as_entry_does(org, credit, graded, settings, tmp_path):
    from zhidu.admission.models import BlacklistEntry
    from zhidu.kernel import importing

    settings.ZHIDU_IMPORT_RUNNER = "inline"
    # Listed by the head office's department only: not the customer's department (销售一部).
    BlacklistEntry.objects.create(scope="department", department=org.root, customer=graded, name=graded.name, reason="总部名单",
                                  citation="S01 L311", listed_by=org.gm, listed_on=timezone.localdate())
    with pytest.raises(Forbidden):
        order(org.gm, graded, "10")
    path = tmp_path / "o.csv"
    path.write_text(f"客户编码,订单号,品名,数量,单价\n{graded.code},SO-1,膝关节,1,10\n", encoding="utf-8")
    job = importing.job_create("credit_orders", path, user=org.gm, original_name="o.csv")
    importing.start_job(job)
    job.refresh_from_db()
    assert (job.ok_rows, job.failed_rows) == (0, 1)
    assert not CreditOrder.objects.filter(customer=graded).exists()
    # The customer's own salesman (销售一部) is not bound by the head office's list.
    job = importing.job_create("credit_orders", path, user=org.sales_a, original_name="o.csv")
    importing.start_job(job)
    assert CreditOrder.objects.filter(customer=graded, reference="SO-1").exists()
