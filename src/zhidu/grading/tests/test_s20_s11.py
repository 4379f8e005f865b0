"""S20 (A/B/C, yearly 25–30 March, new customers provisional for 6 months, two-step A approval) and S11
(a/b/c/d by sales, trend, nature and size). Neither text gives a threshold: grading asks for them."""

import datetime as dt
import textwrap

import pytest

from zhidu.grading import selectors, services
from zhidu.grading.models import CustomerGrade, Review, ReviewItem
from zhidu.kernel import approvals
from zhidu.kernel.errors import ApiError, Forbidden, Invalid
from zhidu.kernel.models import Deadline

IN_WINDOW = dt.date(2026, 3, 26)

S20 = {"grading.threshold.t1.sales_amount": 1000, "grading.threshold.t1.score": 85,
       "grading.threshold.t2.sales_amount": 300, "grading.threshold.t2.score": 70}


@pytest.fixture
def s20(pack, org, set_param):
    version = pack("s20-manufacturer-abc")
    return version


def _set_all(set_param, values):
    for key, value in values.items():
        set_param(key, value)


def test_s20_missing_thresholds_named(s20, org, reviewer, graded_customer):
    graded_customer(sales_amount=2000, evaluation_score=90)
    with pytest.raises(ApiError) as exc:
        services.review_start(reviewer, department=org.dept_a, on=IN_WINDOW)
    assert exc.value.code == "thresholds_missing" and exc.value.status == 409
    assert [m["key"] for m in exc.value.details["missing"]] == list(S20)
    assert "L671" in exc.value.details["missing"][0]["source"]


def test_s20_review_only_in_window_and_new_customers_provisional(s20, set_param, org, reviewer, graded_customer):
    _set_all(set_param, S20)
    with pytest.raises(Invalid) as exc:
        services.review_start(reviewer, department=org.dept_a, on=dt.date(2026, 4, 10))
    assert exc.value.code == "outside_review_window" and "3 月 25 日至 30 日" in str(exc.value.message)
    a = graded_customer(sales_amount=1500, evaluation_score=90, business_since="2024-01-01")
    b = graded_customer(sales_amount=400, evaluation_score=75, business_since="2024-01-01")
    new = graded_customer(sales_amount=1200, evaluation_score=88, business_since="2026-02-01")
    c = graded_customer(sales_amount=1500, evaluation_score=60, business_since="2024-01-01")
    review = services.review_start(reviewer, department=org.dept_a, on=IN_WINDOW)
    items = {i.customer_id: i for i in ReviewItem.objects.filter(review=review)}
    assert [items[x.pk].proposed_grade for x in (a, b, new, c)] == ["A", "B", "A", "C"]
    assert [items[x.pk].provisional for x in (a, b, new, c)] == [False, False, True, False]
    assert review.counts["provisional"] == 1

    review = services.review_submit(reviewer, review.pk)
    assert [step["role"] for step in review.approval.chain] == ["dept_manager", "general_manager"]
    assert not Deadline.objects.filter(target_type="grading.review").exists()  # S20 sets no downgrade deadline
    approvals.decide(review.approval_id, org.manager_a, True, "销售部长审核")
    assert Review.objects.get(pk=review.pk).state == Review.State.SUBMITTED
    approvals.decide(review.approval_id, org.gm, True, "总经理批准")
    assert Review.objects.get(pk=review.pk).state == Review.State.APPLIED
    assert CustomerGrade.objects.get(customer=new).provisional_until is not None
    assert CustomerGrade.objects.get(customer=a).provisional_until is None
    # A-grade order priority: other modules sort by this rank
    ranks = selectors.priority_ranks([a.pk, b.pk, c.pk])
    assert sorted([a.pk, b.pk, c.pk], key=ranks.get) == [a.pk, b.pk, c.pk]


def test_s20_quota_warn_is_marked_not_capped(tmp_path, pack, org, set_param, reviewer, graded_customer):
    (tmp_path / "s20-quota.yaml").write_text(textwrap.dedent("""
        name: s20-quota
        title: S20 with a company quota
        implements: [S20]
        extends: s20-manufacturer-abc
        parameters:
          grading.quotas:
            value: [{grade: A, per: department, max_percent: 20, enforcement: warn}]
            source: test
    """), encoding="utf-8")
    pack(str(tmp_path / "s20-quota.yaml"))
    _set_all(set_param, S20)
    tops = [graded_customer(sales_amount=2000, evaluation_score=90 + i) for i in range(3)]
    for _ in range(2):
        graded_customer(sales_amount=10, evaluation_score=10)
    review = services.review_start(reviewer, department=org.dept_a, on=IN_WINDOW)
    items = {i.customer_id: i for i in ReviewItem.objects.filter(review=review)}
    assert all(items[t.pk].proposed_grade == "A" for t in tops)  # warn: nobody is moved down
    flagged = [t for t in tops if items[t.pk].quota_note]
    assert len(flagged) == 2 and items[tops[2].pk].quota_note == ""  # floor(5 × 20%) = 1: the best keeps no note
    assert "提醒" in items[flagged[0].pk].quota_note
    assert review.counts["quota"] == 2


S11 = {f"grading.threshold.t{n}.{m}": v for n, (sales, growth, score) in {1: (500, 10, 80), 2: (200, 5, 60), 3: (50, 0, 40)}.items()
       for m, v in (("sales_amount", sales), ("sales_growth", growth), ("score", score))}


def test_s11_four_classes_by_sales_trend_nature_size(pack, org, set_param, reviewer, graded_customer):
    pack("s11-patrol-visits")
    x = graded_customer(sales_amount=600, sales_growth=12, evaluation_score=85)
    with pytest.raises(ApiError) as exc:
        services.review_start(reviewer, department=org.dept_a)
    assert len(exc.value.details["missing"]) == 9
    _set_all(set_param, S11)
    a = x
    b = graded_customer(sales_amount=600, sales_growth=6, evaluation_score=85)  # trend below a's limit → b
    c = graded_customer(sales_amount=60, sales_growth=1, evaluation_score=45)
    d = graded_customer(sales_amount=600, sales_growth=-8, evaluation_score=85)  # shrinking business → d
    review = services.review_start(reviewer, department=org.dept_a)
    items = {i.customer_id: i.proposed_grade for i in ReviewItem.objects.filter(review=review)}
    assert [items[k.pk] for k in (a, b, c, d)] == ["A", "B", "C", "D"]
    assert selectors.lowest_grade_key() == "D"


def test_bad_input_changes_nothing(pack, org, reviewer, graded_customer):
    pack("s01-prosthetics")
    customer = graded_customer()
    with pytest.raises(Invalid) as exc:
        services.metrics_set(reviewer, customer.pk, {"sales_amount": "很多", "hospital_level": 9, "evaluation_score": 120})
    assert set(exc.value.details["fields"]) == {"sales_amount", "hospital_level", "evaluation_score"}
    with pytest.raises(Invalid):
        services.grade_assign(customer, "GOLD", actor=reviewer, reason="x", citation="")
    with pytest.raises(Forbidden):
        services.review_start(org.sales_a)
    assert not CustomerGrade.objects.exists()
