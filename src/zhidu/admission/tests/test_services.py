"""Admission and blacklist scenarios under the S01 and S04 packs."""

import datetime as dt

import pytest
from django.utils import timezone

from zhidu.admission import services
from zhidu.admission.models import AdmissionState, BlacklistState
from zhidu.customers.models import Customer
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound

from .conftest import CREDIT_CODES, complete


def _apply(user, **data):
    data.setdefault("customer_type", "dealer")
    data.setdefault("name", "华康医疗器械有限公司")
    data.setdefault("credit_code", CREDIT_CODES[0])
    return services.application_create(user, data)


# ---------------------------------------------------------------- S01


def test_s01_checklist_is_the_six_basic_conditions_with_citations(org, s01):
    application = _apply(org.sales_a)
    items = list(application.items.values_list("key", "source"))
    assert [k for k, _s in items] == ["civil_liability", "reputation", "sales_contract", "no_illegal_record", "product_qualification", "brand_cooperation"]
    assert items[0][1].endswith("L255")
    assert [s["key"] for s in application.stages] == ["background"]
    assert application.chain == [{"role": "dept_manager", "label": "部门领导"}]
    assert application.customer is None


def test_s01_retail_needs_no_admission(org, s01):
    with pytest.raises(Invalid) as exc:
        _apply(org.sales_a, customer_type="retail", name="张三", credit_code="")
    assert exc.value.code == "admission_not_required"


def test_s01_incomplete_checklist_refused_naming_missing_items(org, s01):
    application = _apply(org.sales_a)
    services.item_check(org.sales_a, application.pk, "civil_liability", True)
    services.item_check(org.sales_a, application.pk, "reputation", False, "有负面报道")
    with pytest.raises(Invalid) as exc:
        services.application_submit(org.sales_a, application.pk)
    assert exc.value.code == "checklist_incomplete"
    message = str(exc.value.message)
    assert "缺少证明文件：具有独立承担民事责任的能力" in message
    assert "未满足：具有良好的商业信誉" in message
    assert "缺少调查记录（结论为符合）：背景调查" in message
    kinds = {(m["kind"], m["key"]) for m in exc.value.details["missing"]}
    assert ("item", "sales_contract") in kinds and ("stage", "background") in kinds
    # brand_cooperation needs no evidence: once ticked it is not listed
    assert ("evidence", "brand_cooperation") not in kinds
    application.refresh_from_db()
    assert application.state == AdmissionState.DRAFT and application.approval_id is None


def test_s01_admit_code_only_at_approval_by_department_manager(org, s01):
    application = complete(_apply(org.sales_a, contact_name="王经理", contact_phone="13812345678"), org.sales_a)
    application = services.application_submit(org.sales_a, application.pk)
    assert application.state == AdmissionState.SUBMITTED
    assert not Customer.objects.filter(credit_code=CREDIT_CODES[0]).exists()
    # the other department's manager and the marketing manager are not the approver S01 names here
    with pytest.raises((Forbidden, NotFound)):
        services.application_decide(org.manager_b, application.pk, True)
    with pytest.raises(Forbidden):
        services.application_decide(org.marketing, application.pk, True)
    application = services.application_decide(org.manager_a, application.pk, True)
    assert application.state == AdmissionState.APPROVED
    customer = application.customer
    assert customer.code.startswith(f"JX{timezone.localdate().year}")
    assert customer.status == "admitted" and customer.owner == org.sales_a and customer.department == org.dept_a
    assert customer.contacts.get().phone == "13812345678"
    from zhidu.grading.selectors import grade_of, lowest_grade_key

    assert grade_of(customer)["grade"] == lowest_grade_key() and grade_of(customer)["label"] == "合格类客户"


def test_s01_rejection_needs_reasons_then_reapplication(org, s01):
    application = services.application_submit(org.sales_a, complete(_apply(org.sales_a), org.sales_a).pk)
    with pytest.raises(Invalid) as exc:
        services.application_decide(org.manager_a, application.pk, False, [])
    assert exc.value.code == "reasons_required"
    application = services.application_decide(org.manager_a, application.pk, False, ["资质证书已过期", "未提供税务登记证"])
    assert application.state == AdmissionState.REJECTED
    assert application.rejection_reasons == ["资质证书已过期", "未提供税务登记证"]
    assert application.customer is None and not Customer.objects.exists()

    again = services.application_reapply(org.sales_a, application.pk)
    assert again.state == AdmissionState.DRAFT and again.previous_id == application.pk
    assert again.credit_code == CREDIT_CODES[0] and again.items.filter(met=True).count() == 0
    with pytest.raises(Conflict):
        services.application_reapply(org.sales_a, application.pk)  # one open application at a time
    again = services.application_submit(org.sales_a, complete(again, org.sales_a).pk)
    assert services.application_decide(org.manager_a, again.pk, True).customer.credit_code == CREDIT_CODES[0]


def test_already_a_customer_cannot_apply(org, s01):
    application = services.application_submit(org.sales_a, complete(_apply(org.sales_a), org.sales_a).pk)
    services.application_decide(org.manager_a, application.pk, True)
    with pytest.raises(Conflict) as exc:
        _apply(org.sales_b)
    assert exc.value.code == "already_customer"


# ---------------------------------------------------------------- S04


def _supplier(user, **data):
    return services.application_create(user, {"customer_type": "supplier", "name": "恒力原料有限公司", "credit_code": CREDIT_CODES[1], **data})


def test_s04_six_criteria_general_then_onsite_and_report(org, s04):
    application = _supplier(org.sales_a)
    assert application.items.count() == 6
    assert [s["key"] for s in application.stages] == ["general", "onsite"]
    with pytest.raises(Conflict) as exc:
        services.investigation_record(org.sales_a, application.pk, "onsite",
                                      {"conducted_on": dt.date.today(), "investigators": "资材部", "findings": "x", "conclusion": "pass"})
    assert exc.value.code == "stage_order" and "一般调查" in str(exc.value.message)
    # a failing general investigation does not open the on-site one
    services.investigation_record(org.sales_a, application.pk, "general",
                                  {"conducted_on": dt.date.today(), "investigators": "资材部", "findings": "决算表缺失", "conclusion": "fail"})
    with pytest.raises(Conflict):
        services.investigation_record(org.sales_a, application.pk, "onsite",
                                      {"conducted_on": dt.date.today(), "investigators": "资材部", "findings": "x", "conclusion": "pass"})
    complete(application, org.sales_a, answers=False)
    with pytest.raises(Invalid) as exc:
        services.application_submit(org.sales_a, application.pk)
    assert "申请报告缺少：交易商品目录与金额" in str(exc.value.message)


def test_s04_approved_by_market_supervisor_then_setup(org, s04):
    application = services.application_submit(org.sales_a, complete(_supplier(org.sales_a), org.sales_a).pk)
    assert application.chain == [{"role": "marketing_manager", "label": "市场主管"}]
    with pytest.raises(Forbidden):
        services.application_decide(org.manager_a, application.pk, True)
    with pytest.raises(Conflict):
        services.setup_step_done(org.sales_a, application.pk, "supply_contract")
    application = services.application_decide(org.marketing, application.pk, True)
    assert application.customer.code.startswith("GY")
    step = services.setup_step_done(org.sales_a, application.pk, "supply_contract", note="资材部长与法人代表签字")
    assert step.done_on == timezone.localdate()
    assert [s.key for s in application.setup_steps.all()] == ["supply_contract", "quality_contract", "notify_departments", "payment_method", "archive"]


# ---------------------------------------------------------------- blacklist


@pytest.fixture
def customer(org, s01):
    application = services.application_submit(org.sales_a, complete(_apply(org.sales_a), org.sales_a).pk)
    return services.application_decide(org.manager_a, application.pk, True).customer


def test_department_list_six_months_may_shorten_not_lengthen(org, customer):
    today = timezone.localdate()
    with pytest.raises(Invalid) as exc:
        services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款", valid_until=today + dt.timedelta(days=200))
    assert "只可缩短" in str(exc.value.details["fields"]["valid_until"][0])
    entry = services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    assert entry.department == org.dept_a
    assert entry.valid_until == services._add_months(today, 6)
    assert "L315" in entry.citation
    with pytest.raises(Conflict):
        services.blacklist_add(org.manager_a, customer.pk, "department", "再次")


def test_who_may_list(org, customer):
    with pytest.raises(Forbidden):
        services.blacklist_add(org.sales_a, customer.pk, "department", "x")  # sales: no grading.blacklist
    with pytest.raises(Forbidden):
        services.blacklist_add(org.manager_a, customer.pk, "company", "x")  # the company list is the marketing division's
    entry = services.blacklist_add(org.marketing, customer.pk, "company", "造成重大损失")
    assert entry.valid_until is None and entry.department is None


def test_blacklist_check_in_scope_not_out_of_scope(org, customer):
    services.blacklist_check(customer)  # not listed
    services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    with pytest.raises(Forbidden) as exc:
        services.blacklist_check(customer, org.dept_a)
    assert exc.value.code == "blacklisted"
    assert "拖欠货款" in str(exc.value.message) and "L315" in exc.value.details["citation"]
    services.blacklist_check(customer, org.dept_b)  # another department may still trade
    with pytest.raises(Forbidden):
        services.blacklist_check(customer)  # None: any list
    services.blacklist_add(org.marketing, customer.pk, "company", "造成重大损失")
    with pytest.raises(Forbidden) as exc:
        services.blacklist_check(customer.pk, org.dept_b)
    assert exc.value.details["scope"] == "company"


def test_blacklisted_candidate_cannot_be_admitted_by_code_or_name(org, customer):
    services.blacklist_add(org.marketing, customer.pk, "company", "造成重大损失")
    with pytest.raises(Forbidden) as exc:
        _apply(org.sales_b, name="另一家公司", credit_code=CREDIT_CODES[0])
    assert exc.value.code == "blacklisted" and "造成重大损失" in str(exc.value.message)
    with pytest.raises(Forbidden):
        _apply(org.sales_b, name="华康医疗器械有限公司", credit_code=CREDIT_CODES[2])  # same name, other code


def test_department_listing_refuses_admission_in_that_department_only(org, customer):
    services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    with pytest.raises(Forbidden):
        _apply(org.sales_a, name="华康医疗器械", credit_code=CREDIT_CODES[3])
    application = _apply(org.sales_b, name="华康医疗器械", credit_code=CREDIT_CODES[3])
    assert application.department == org.dept_b


def test_listing_after_submission_blocks_approval(org, customer):
    other = services.application_submit(org.sales_b, complete(_apply(org.sales_b, name="远方公司", credit_code=CREDIT_CODES[4]), org.sales_b).pk)
    from zhidu.customers.services import customer_create

    listed = customer_create(org.gm, {"customer_type": "dealer", "name": "远方公司集团", "credit_code": "91440300708461136T"}, confirm_duplicates=True)
    services.blacklist_add(org.marketing, listed.pk, "company", "欺诈")
    # a company listing under the same name key refuses the approval; nothing is written
    with pytest.raises(Forbidden):
        services.application_decide(org.manager_b, other.pk, True)
    other.refresh_from_db()
    assert other.state == AdmissionState.SUBMITTED and other.customer is None


def test_expiry_job_and_reentry_as_lowest_grade(org, customer):
    from zhidu.grading.selectors import grade_of, lowest_grade_key
    from zhidu.kernel import jobs

    entry = services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    with pytest.raises(Conflict) as exc:
        services.reentry_request(org.manager_a, entry.pk, "已还清欠款")
    assert exc.value.code == "still_in_force"
    # the registered job, run after the last valid day: one set-based UPDATE
    later = timezone.now() + dt.timedelta(days=200)
    run = jobs.run("admission.blacklist_expire", now=later)
    assert run is not None and "1 " in run.detail
    entry.refresh_from_db()
    assert entry.state == BlacklistState.EXPIRED
    # still excluded until re-admitted
    with pytest.raises(Forbidden):
        services.blacklist_check(customer, org.dept_a)
    reentry = services.reentry_request(org.manager_a, entry.pk, "客户情况发生重大变化，经评审符合准入条件")
    # chain: 部门领导 (another dept_manager of the department) → 公司领导
    with pytest.raises(Forbidden):
        services.reentry_decide(org.manager_a, reentry.pk, True)  # not one's own request
    from zhidu.org.models import User

    manager_a2 = User.objects.create(username="manager_a2", role=org.roles["dept_manager"], department=org.dept_a, clearance=2)
    services.reentry_decide(manager_a2, reentry.pk, True, "同意")
    reentry = services.reentry_decide(org.gm, reentry.pk, True, "同意")
    assert reentry.state == "approved" and reentry.grade == lowest_grade_key()
    entry.refresh_from_db()
    assert entry.state == BlacklistState.READMITTED
    services.blacklist_check(customer, org.dept_a)
    assert grade_of(customer)["grade"] == lowest_grade_key()


def test_company_reentry_any_time_and_rejection_keeps_listing(org, customer):
    entry = services.blacklist_add(org.marketing, customer.pk, "company", "造成重大损失")
    reentry = services.reentry_request(org.marketing, entry.pk, "已赔偿损失")
    with pytest.raises(Invalid):
        services.reentry_decide(org.gm, reentry.pk, False, "")
    with pytest.raises(Forbidden):
        services.reentry_decide(org.gm, reentry.pk, True)  # first step is the marketing division's (not the requester)
    from zhidu.org.models import User

    marketing2 = User.objects.create(username="marketing2", role=org.roles["marketing_manager"], department=org.root, clearance=1)
    reentry = services.reentry_decide(marketing2, reentry.pk, False, "损失尚未赔偿")
    assert reentry.state == "rejected"
    with pytest.raises(Forbidden):
        services.blacklist_check(customer)


def test_lift_ends_period_but_needs_reentry(org, customer):
    entry = services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    with pytest.raises(NotFound):
        services.blacklist_lift(org.manager_b, entry.pk, "x")  # another department's list
    entry = services.blacklist_lift(org.manager_a, entry.pk, "特殊情况，缩短有效期", expected_version=entry.version)
    assert entry.state == BlacklistState.LIFTED
    with pytest.raises(Forbidden):
        services.blacklist_check(customer, org.dept_a)
    services.reentry_request(org.manager_a, entry.pk, "经评审符合准入条件")


def test_demo_loads_through_the_services(org, s01):
    from zhidu.admission import demo
    from zhidu.admission.models import AdmissionApplication, BlacklistEntry
    from zhidu.customers.services import customer_create
    from zhidu.org.models import User

    users = {"sales": org.sales_a, "sales2": org.sales_b, "manager": org.manager_a, "marketing": org.marketing, "gm": org.gm}
    customers = [customer_create(org.gm, {"customer_type": "dealer", "name": n, "credit_code": c, "owner": org.sales_a})
                 for n, c in (("甲公司", CREDIT_CODES[3]), ("乙公司", CREDIT_CODES[4]))]
    assert User.objects.exists()
    demo.load(users, customers)
    states = sorted(AdmissionApplication.objects.values_list("state", flat=True))
    assert states == ["approved", "draft", "rejected", "submitted"]
    assert BlacklistEntry.objects.count() == 2


def test_reentry_out_of_view_is_not_found(org, customer):
    entry = services.blacklist_add(org.manager_a, customer.pk, "department", "拖欠货款")
    entry = services.blacklist_lift(org.manager_a, entry.pk, "特殊情况")
    reentry = services.reentry_request(org.manager_a, entry.pk, "经评审符合准入条件")
    from zhidu.org.models import User

    manager_a2 = User.objects.create(username="manager_a2", role=org.roles["dept_manager"], department=org.dept_a, clearance=2)
    services.reentry_decide(manager_a2, reentry.pk, False, "不同意")
    # another department's manager may not see that list: no state, no decision
    with pytest.raises(NotFound):
        services.reentry_decide(org.manager_b, reentry.pk, True)
    with pytest.raises(Conflict):
        services.reentry_decide(org.gm, reentry.pk, True)
