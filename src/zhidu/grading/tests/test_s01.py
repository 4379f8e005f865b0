"""S01 (德奥假肢): VIP / 优选 / 合格 by the text's criteria, quotas per department (block) and per product
(warn), a 6-monthly review with upgrades and a downgrade due within 5 days, approved by the department."""

from datetime import timedelta

import pytest

from zhidu.grading import selectors, services
from zhidu.grading.models import CustomerGrade, GradeHistory, Review, ReviewItem
from zhidu.kernel import approvals
from zhidu.kernel.errors import ApiError, Conflict
from zhidu.kernel.models import Deadline, ScheduledTask

THRESHOLDS = {
    "grading.threshold.t1.bed_count": 300,
    "grading.threshold.t1.sales_amount": 500,
    "grading.threshold.t2.bed_count": 100,
    "grading.threshold.t2.sales_amount": 100,
}


@pytest.fixture
def s01(pack, org):
    return pack("s01-prosthetics")


@pytest.fixture
def thresholds(s01, set_param):
    for key, value in THRESHOLDS.items():
        set_param(key, value)


def test_review_before_thresholds_are_set_names_every_blank_one(s01, reviewer, graded_customer):
    graded_customer(sales_amount=800)
    with pytest.raises(ApiError) as exc:
        services.review_start(reviewer, department=reviewer.department)
    assert exc.value.code == "thresholds_missing"
    message = str(exc.value.message)
    for key in THRESHOLDS:
        assert key in message
    assert "病床位数下限" in message
    assert {m["key"] for m in exc.value.details["missing"]} == set(THRESHOLDS)
    assert all("L27" in m["source"] or "L28" in m["source"] for m in exc.value.details["missing"])
    assert not Review.objects.exists()


def test_lowest_grade_and_cross_app_reads(s01, org, reviewer, graded_customer):
    assert selectors.lowest_grade_key() == "QUALIFIED"
    customer = graded_customer()
    assert selectors.grade_of(customer) is None
    result = services.grade_assign(customer, "QUALIFIED", actor=org.manager_a, reason="准入入库", citation="S01 五、2.4 L295")
    assert result["grade"] == "QUALIFIED" and result["priority_rank"] == 3 and result["has_priority"] is False
    assert selectors.priority_ranks([customer.pk, 999999]) == {customer.pk: 3}
    history = GradeHistory.objects.get(customer=customer)
    assert (history.from_grade, history.to_grade, history.reviewer, history.citation) == ("", "QUALIFIED", org.manager_a, "S01 五、2.4 L295")


def test_grade_assign_blocked_by_department_quota(s01, org, reviewer, graded_customer):
    customers = [graded_customer() for _ in range(7)]
    for customer in customers:
        services.grade_assign(customer, "QUALIFIED", actor=reviewer, reason="入库", citation="L295")
    # 7 customers: VIP ≤ 15% → at most 1
    services.grade_assign(customers[0], "VIP", actor=reviewer, reason="评审", citation="L279")
    with pytest.raises(Conflict) as exc:
        services.grade_assign(customers[1], "VIP", actor=reviewer, reason="评审", citation="L279")
    assert exc.value.code == "quota_exceeded"
    assert "15%" in str(exc.value.message)
    assert CustomerGrade.objects.get(customer=customers[1]).grade == "QUALIFIED"


def test_review_caps_vip_by_department_quota_and_warns_by_product(s01, thresholds, org, reviewer, graded_customer):
    # ten customers of 销售一部, three meet the VIP criteria (三级甲等), all with product 假肢
    vip = [graded_customer(hospital_level=5, evaluation_score=s, product="假肢") for s in (95, 90, 85)]
    preferred = [graded_customer(bed_count=150, evaluation_score=70, product="矫形器")]
    rest = [graded_customer(sales_amount=20, evaluation_score=50, product="假肢") for _ in range(6)]
    review = services.review_start(reviewer, department=org.dept_a)
    items = {i.customer_id: i for i in ReviewItem.objects.filter(review=review)}
    assert len(items) == 10
    assert items[vip[0].pk].proposed_grade == "VIP"  # best score keeps VIP: floor(10 × 15%) = 1
    for capped in vip[1:]:
        assert items[capped.pk].eligible_grade == "VIP"
        assert items[capped.pk].proposed_grade == "PREFERRED"
        assert "15%" in items[capped.pk].quota_note
    assert items[preferred[0].pk].proposed_grade == "PREFERRED"
    assert all(items[c.pk].proposed_grade == "QUALIFIED" for c in rest)
    assert review.counts["new"] == 10 and review.counts["by_grade"] == {"VIP": 1, "PREFERRED": 3, "QUALIFIED": 6}


def test_review_upgrade_downgrade_deadline_and_approval(s01, thresholds, org, reviewer, graded_customer):
    customers = [graded_customer(sales_amount=10, evaluation_score=60) for _ in range(10)]
    old_vip, climber = customers[0], customers[1]
    for customer in customers:
        services.grade_assign(customer, "QUALIFIED", actor=reviewer, reason="入库", citation="L295")
    services.grade_assign(old_vip, "VIP", actor=reviewer, reason="上期评审", citation="L273")
    # the stage: the VIP paid late twice; the climber now buys 600万/year without defaults
    services.metrics_set(reviewer, old_vip.pk, {"overdue_count": 2, "hospital_level": 5})
    services.metrics_set(reviewer, climber.pk, {"sales_amount": 600, "evaluation_score": 88})
    review = services.review_start(reviewer, department=org.dept_a, title="2026 上半年阶段评审")
    items = {i.customer_id: i for i in ReviewItem.objects.filter(review=review)}
    assert (items[old_vip.pk].change, items[old_vip.pk].proposed_grade) == ("down", "QUALIFIED")
    assert (items[climber.pk].change, items[climber.pk].proposed_grade) == ("up", "VIP")
    services.review_item_update(reviewer, review.pk, items[old_vip.pk].pk, evidence="两次滞期付款（付款记录）")

    review = services.review_submit(reviewer, review.pk)
    assert review.state == Review.State.SUBMITTED
    deadline = Deadline.objects.get(target_type="grading.review", target_id=str(review.pk))
    assert deadline.policy_key == "grading.downgrade.deadline" and deadline.unit == "calendar_days" and deadline.amount == 5
    assert deadline.due_at - deadline.started_at == timedelta(days=5)
    assert "L305" in deadline.source
    assert review.approval.chain == [{"role": "dept_manager", "label": "销售部门负责人"}]
    from zhidu.kernel import deadlines

    assert deadlines._resolvers["grading.review"]("manager", [str(review.pk)]) == {str(review.pk): [org.manager_a.pk]}
    # nothing changes before the approval
    assert CustomerGrade.objects.get(customer=old_vip).grade == "VIP"

    approvals.decide(review.approval_id, org.manager_a, True, "同意")
    review.refresh_from_db()
    assert review.state == Review.State.APPLIED
    assert CustomerGrade.objects.get(customer=old_vip).grade == "QUALIFIED"
    assert CustomerGrade.objects.get(customer=climber).grade == "VIP"
    assert selectors.priority_ranks([old_vip.pk, climber.pk]) == {old_vip.pk: 3, climber.pk: 1}
    down = GradeHistory.objects.filter(customer=old_vip).latest("id")
    assert (down.from_grade, down.to_grade, down.reviewer, down.review_id) == ("VIP", "QUALIFIED", org.manager_a, review.pk)
    assert down.evidence == "两次滞期付款（付款记录）" and "L303" in down.citation
    deadline.refresh_from_db()
    assert deadline.state == Deadline.State.MET
    # VIP and 优选 are visited monthly; the downgraded customer's visit task is cancelled
    visit = ScheduledTask.objects.get(kind="grading.visit", target_id=str(climber.pk), state="open")
    assert visit.recurrence == {"amount": 1, "unit": "months"} and visit.assignee == org.sales_a
    assert not ScheduledTask.objects.filter(kind="grading.visit", target_id=str(old_vip.pk), state="open").exists()


def test_single_downgrade_has_deadline_and_rejection_keeps_grade(s01, thresholds, org, reviewer, graded_customer):
    customers = [graded_customer() for _ in range(10)]
    for customer in customers:
        services.grade_assign(customer, "QUALIFIED", actor=reviewer, reason="入库", citation="L295")
    services.grade_assign(customers[0], "VIP", actor=reviewer, reason="评审", citation="L273")
    change = services.grade_change_propose(reviewer, customers[0].pk, "PREFERRED", reason="合同执行能力差", evidence="合同 HT-001 逾期未提货")
    assert change.is_downgrade and change.due_at is not None
    # the downgrade deadline's escalation reaches the proposer and the customer's department manager
    from zhidu.kernel import deadlines

    resolve = deadlines._resolvers["grading.gradechange"]
    assert resolve("owner", [str(change.pk)]) == {str(change.pk): [reviewer.pk]}
    assert resolve("manager", [str(change.pk)]) == {str(change.pk): [org.manager_a.pk]}
    with pytest.raises(Conflict):
        services.grade_change_propose(reviewer, customers[0].pk, "QUALIFIED", reason="重复")
    approvals.decide(change.approval_id, org.manager_a, False, "证据不足")
    change.refresh_from_db()
    assert change.state == "rejected"
    assert CustomerGrade.objects.get(customer=customers[0]).grade == "VIP"
    assert Deadline.objects.get(target_type="grading.gradechange", target_id=str(change.pk)).state == Deadline.State.MET


def test_upgrade_over_block_quota_is_refused_when_proposed(s01, thresholds, org, reviewer, graded_customer):
    customers = [graded_customer() for _ in range(6)]
    for customer in customers:
        services.grade_assign(customer, "QUALIFIED", actor=reviewer, reason="入库", citation="L295")
    # 6 customers: VIP ≤ floor(0.9) = 0
    with pytest.raises(Conflict) as exc:
        services.grade_change_propose(reviewer, customers[0].pk, "VIP", reason="业务量大")
    assert exc.value.code == "quota_exceeded"
