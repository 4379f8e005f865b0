"""Complaints in a real browser: a complainant files a complaint on the public page (no login) and
gets a tracking number; staff take it through every step — decide, assign, investigate, plan, approve,
carry out, inform, return visit, close — on the case page; the complainant sees it closed with the
tracking number and phone; the complaints dashboard counts it and draws its charts."""

import re

import pytest

from zhidu.complaints.tests.conftest import cx  # noqa: F401  (fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = "13912345678"


def _step(page, action, fill=None):
    """Opens the step's panel on the case page (if closed), fills it and submits; waits for the reload."""
    button = page.locator(f"#step-button-{action}")
    button.wait_for()
    if "collapsed" in (button.get_attribute("class") or ""):
        button.click()
    page.locator(f"#form-{action}").wait_for(state="visible")
    for selector, value in (fill or {}).items():
        if value is True:
            page.check(selector)
        elif selector.startswith("select"):
            page.select_option(selector.split(" ", 1)[1], value)
        else:
            page.fill(selector, value)
    with page.expect_navigation():
        page.click(f"#submit-{action}")
    assert not page.locator(".step-errors").count(), page.locator(".step-errors").all_inner_texts()


def _status(page):
    return page.locator("#case-status").get_attribute("data-status")


def _as(page, login, user, case_url):
    page.context.clear_cookies()
    login(user)
    page.goto(case_url)


def test_public_complaint_handled_to_closure_and_counted(page, login, cx, shots_dir):  # noqa: F811
    page.set_default_timeout(30000)  # many steps on a shared 2-core machine
    # The complainant, without an account.
    page.goto("/c/")
    page.fill("#id_complainant_name", "赵公众")
    page.fill("#id_complainant_phone", PHONE)
    page.fill("#id_subject", "门店店员服务态度差")
    page.fill("#id_content", "9 月 14 日在门店购买时店员态度恶劣，要求道歉。")
    page.screenshot(path=str(shots_dir / "complaint-public-form.png"), full_page=True)
    page.click("#submit-complaint")
    page.wait_for_url(re.compile(r"/c/done/$"))
    tracking_no = page.locator("#receipt-tracking-no").inner_text().strip()
    assert re.fullmatch(r"TS\d{8}[A-Z0-9]{8}", tracking_no)
    page.screenshot(path=str(shots_dir / "complaint-public-receipt.png"), full_page=True)

    # The quality manager finds it in the list and decides that it stands, then assigns it.
    login(cx.qm)
    page.goto("/complaints/")
    row = page.locator(f'tr[data-tracking-no="{tracking_no}"]')
    row.wait_for()
    page.screenshot(path=str(shots_dir / "complaint-list.png"), full_page=True)
    row.locator("a").first.click()
    page.wait_for_url(re.compile(r"/complaints/\d+/$"))
    case_url = page.url
    assert page.locator("#tracking-no").inner_text() == tracking_no
    assert page.locator("#deadlines .deadline-row").count() >= 1
    _step(page, "decide", {'#form-decide input[name="decide-valid"][value="1"]': True})
    assert _status(page) == "accepted"
    _step(page, "assign", {"select #id_assign-department": str(cx.org.dept_a.pk), "select #id_assign-owner": str(cx.agent.pk)})
    assert page.locator("#case-owner").inner_text().strip() == str(cx.agent)

    # The service agent investigates and proposes a plan.
    _as(page, login, cx.agent, case_url)
    _step(page, "investigate", {"#id_investigate-cause": "店员未按服务规范接待", "#id_investigate-loopholes": "缺少岗前培训"})
    _step(page, "remedy", {"#id_remedy-description": "店长上门道歉并赠送保养券", "#id_remedy-compensation": "200"})
    assert _status(page) == "plan_pending"

    # The department manager approves the plan on the case page.
    _as(page, login, cx.org.manager_a, case_url)
    with page.expect_navigation():
        page.locator("#approvals .approve-button").first.click()
    assert _status(page) == "plan_approved"

    # The agent carries it out, tells the complainant and makes the return visit.
    _as(page, login, cx.agent, case_url)
    _step(page, "carry_out", {"#id_carry_out-note": "9 月 15 日店长上门道歉"})
    _step(page, "inform", {"#id_inform-message": "您的投诉已处理：店长已上门道歉并赠送保养券。"})
    _step(page, "return_visit", {'#form-return_visit input[name="return_visit-satisfied"][value="1"]': True, "#id_return_visit-note": "客户表示满意"})

    # The quality manager closes it with the summary and the corrective and preventive actions.
    _as(page, login, cx.qm, case_url)
    _step(page, "close", {"#id_close-summary": "处理及时，客户满意", "#id_close-corrective_actions": "全员服务规范培训", "#id_close-preventive_actions": "新员工岗前考核"})
    assert _status(page) == "closed"
    timeline = page.locator("#timeline").inner_text()
    for label in ("登记", "判定成立", "指定受理", "调查", "提出处理方案", "方案批准", "实施方案", "告知投诉人", "回访", "结案"):
        assert label in timeline
    page.screenshot(path=str(shots_dir / "complaint-case-closed.png"), full_page=True)

    # The printable register form.
    page.goto(case_url + "register/")
    assert "申诉和投诉处理登记表" in page.locator("#register-form h1").inner_text()
    assert "新员工岗前考核" in page.locator("#register-form").inner_text()

    # The dashboard counts it and draws the charts.
    page.goto("/complaints/dashboard/")
    assert page.locator("#stat-registered").inner_text().strip() == "1"
    assert page.locator("#stat-closed").inner_text().strip() == "1"
    for chart in ("severity", "channel", "category", "department", "trend", "satisfaction"):
        page.locator(f"#chart-{chart} canvas").first.wait_for()
    page.screenshot(path=str(shots_dir / "complaint-dashboard.png"), full_page=True)

    # The complainant follows it with the tracking number and phone: closed, nothing internal shown.
    page.context.clear_cookies()
    page.goto(f"/c/track/?no={tracking_no}")
    page.fill("#id_code", PHONE)
    page.click("#track-button")
    page.locator("#track-result").wait_for()
    result = page.locator("#track-result").inner_text()
    assert "已结案" in result
    assert "缺少岗前培训" not in result and str(cx.agent) not in result
    page.screenshot(path=str(shots_dir / "complaint-public-track.png"), full_page=True)


def test_staff_registers_a_phone_complaint_and_the_person_complained_about_cannot_handle_it(page, login, cx, shots_dir):  # noqa: F811
    login(cx.agent)
    page.goto("/complaints/")
    page.click("#new-complaint")
    page.wait_for_url(re.compile(r"/complaints/new/$"))
    page.select_option("#id_channel", "phone")
    page.fill("#id_complainant_name", "钱先生")
    page.fill("#id_complainant_phone", "13700002222")
    page.fill("#id_subject", "送货员态度差")
    page.fill("#id_content", "送货员摔门离开。")
    page.select_option("#id_subject_staff", str(cx.agent2.pk))
    page.screenshot(path=str(shots_dir / "complaint-register.png"), full_page=True)
    page.click("#save-complaint")
    page.wait_for_url(re.compile(r"/complaints/\d+/$"))
    case_url = page.url
    assert page.locator("#case-receiver").inner_text().strip() == str(cx.agent)
    assert page.locator("#case-subject-staff").inner_text().strip() == str(cx.agent2)
    # The receiver may pause the clock while waiting for the complainant.
    assert page.locator("#step-button-wait").count() == 1

    # The staff member complained about sees the case but no step and no approval.
    page.context.clear_cookies()
    login(cx.agent2)
    page.goto(case_url)
    assert page.locator("#subject-warning").is_visible()
    assert page.locator(".step-form").count() == 0
    page.screenshot(path=str(shots_dir / "complaint-subject-view.png"), full_page=True)
