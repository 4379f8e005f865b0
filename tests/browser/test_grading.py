"""A grade review in a real browser (S01 pack): the reviewer starts the review of 销售一部, sees a VIP
proposed for downgrade and a climber for upgrade, records the evidence, submits; the downgrade deadline
(5 days) shows; the department manager approves on the approvals page; the grades and history change."""

import re

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

THRESHOLDS = {"grading.threshold.t1.bed_count": 300, "grading.threshold.t1.sales_amount": 500,
              "grading.threshold.t2.bed_count": 100, "grading.threshold.t2.sales_amount": 100}


def test_review_from_proposal_to_approved_downgrade(browser, live_server, page, login, org, shots_dir):
    from zhidu.customers import services as customer_services
    from zhidu.grading import services
    from zhidu.grading.models import CustomerGrade, GradeHistory
    from zhidu.kernel import policy
    from zhidu.kernel.access import SecretLevel
    from zhidu.org.models import User

    policy.apply("s01-prosthetics")
    for key, value in THRESHOLDS.items():
        policy.parameter_set(key, value, org.gm)
    policy.clear_cache()
    reviewer = User.objects.create(username="reviewer_a", display_name="评审员", role=org.roles["marketing_manager"],
                                   department=org.dept_a, clearance=SecretLevel.SECRET)
    customers = []
    for n in range(10):
        customer = customer_services.customer_create(org.sales_a, {"customer_type": "retail", "name": f"浏览器客户{n:02d}"}, confirm_duplicates=True)
        customer_services.customer_set_status(org.sales_a, customer.pk, "admitted", "准入")
        services.metrics_set(reviewer, customer.pk, {"sales_amount": 20, "evaluation_score": 60})
        services.grade_assign(customer, "QUALIFIED", actor=reviewer, reason="入库", citation="L295")
        customers.append(customer)
    old_vip, climber = customers[0], customers[1]
    services.grade_assign(old_vip, "VIP", actor=reviewer, reason="上期评审", citation="L273")
    services.metrics_set(reviewer, old_vip.pk, {"overdue_count": 2})
    services.metrics_set(reviewer, climber.pk, {"hospital_level": 5, "evaluation_score": 92})

    login(reviewer)
    page.goto("/")
    page.click("text=准入与分级")
    page.wait_for_url(re.compile(r"/grading/$"))
    assert page.locator("#thresholds-missing").count() == 0
    page.click("#grading-nav >> text=分级评审")
    page.select_option("#r-department", str(org.dept_a.pk))
    page.fill("#r-title", "2026 上半年阶段评审")
    page.click("#review-start")
    page.wait_for_url(re.compile(r"/grading/reviews/\d+/$"))
    assert page.locator("#count-down").inner_text() == "1"
    assert page.locator("#count-up").inner_text() == "1"
    page.screenshot(path=str(shots_dir / "grading-review-draft.png"), full_page=True)

    page.click("#filter-down")
    row = page.locator(f"#review-items tr[data-customer='{old_vip.pk}']")
    row.locator("input[name=evidence]").fill("两次滞期付款")
    row.locator("button").click()
    page.wait_for_load_state()
    assert "两次滞期付款" in page.locator(f"#review-items tr[data-customer='{old_vip.pk}']").inner_text()
    page.click("#review-submit")
    page.locator("#downgrade-due").wait_for()
    assert page.locator("#review-state").inner_text() == "审批中"
    page.screenshot(path=str(shots_dir / "grading-review-submitted.png"), full_page=True)

    # the department manager approves in their own session
    manager_context = browser.new_context(locale="zh-CN", base_url=live_server.url)
    manager_page = manager_context.new_page()
    org.manager_a.set_password("Browser-Test-2026")
    org.manager_a.save(update_fields=["password"])
    manager_page.goto("/login/")
    manager_page.fill("#id_username", org.manager_a.username)
    manager_page.fill("#id_password", "Browser-Test-2026")
    manager_page.click("#login-form button[type=submit]")
    manager_page.wait_for_selector("#user-menu")
    manager_page.goto("/kernel/approvals/")
    card = manager_page.locator("[id^=approval-]", has_text="2026 上半年阶段评审")
    card.locator("input[name=comment]").fill("同意")
    card.locator("button[value=approve]").click()
    manager_page.wait_for_load_state()
    manager_context.close()

    assert CustomerGrade.objects.get(customer=old_vip).grade == "QUALIFIED"
    assert CustomerGrade.objects.get(customer=climber).grade == "VIP"
    page.goto(f"/grading/customers/{old_vip.pk}/")
    history = page.locator("#grade-history").inner_text()
    assert "VIP客户 → 合格类客户" in history and "两次滞期付款" in history
    assert GradeHistory.objects.filter(customer=old_vip, to_grade="QUALIFIED", reviewer=org.manager_a).exists()
    page.goto("/grading/reviews/")
    assert "已生效" in page.locator("#review-list").inner_text()
    page.screenshot(path=str(shots_dir / "grading-review-applied.png"), full_page=True)
