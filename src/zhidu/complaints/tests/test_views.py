"""The complaint pages with the Django test client: the list (scope, masked phones, overdue filter,
keyset paging), registering a case, the case page (deadlines with due time, escalation and citation,
one form per step the viewer may take), every step posted through the page up to closing, errors from
the services shown on the form with nothing saved, the printable register form and "my penalties"."""

import re
import textwrap

import pytest
from django.urls import reverse
from django.utils import timezone, translation

from zhidu.complaints import services
from zhidu.complaints.models import Complaint, Status
from zhidu.kernel import deadlines
from zhidu.kernel.models import AuditEntry

pytestmark = pytest.mark.django_db

PHONE = "13912345678"
MASKED = "139****5678"


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    yield
    translation.deactivate()


@pytest.fixture
def register(cx):
    def make(user=None, **data):
        data = {
            "complainant_name": "王投诉",
            "complainant_phone": PHONE,
            "subject": "门店服务态度",
            "content": "店员态度恶劣",
            "channel": "phone",
            **data,
        }
        return services.complaint_register(user or cx.agent, data)

    return make


def _page(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def _post(client, complaint, action, data):
    complaint.refresh_from_db()
    payload = {f"{action}-version": complaint.version}
    payload.update({f"{action}-{k}": v for k, v in data.items()})
    return client.post(reverse("complaints:act", args=[complaint.pk, action]), payload)


# ---------------------------------------------------------------- list


def test_list_is_scoped_and_masks_phones(client, cx, register):
    mine = register(cx.agent, complainant_name="甲投诉人")
    theirs = register(cx.agent_b, complainant_name="乙投诉人")
    client.force_login(cx.agent2)  # same department as agent
    html = _page(client, reverse("complaints:list"))
    assert mine.tracking_no in html
    assert theirs.tracking_no not in html
    assert MASKED in html and PHONE not in html


def test_phone_search_never_reveals_masked_digits(client, cx, register):
    case = register(cx.agent)
    client.force_login(cx.agent2)  # phones masked for this role

    def found(q):
        return case.tracking_no in _page(client, reverse("complaints:list") + f"?q={q}")

    assert found(PHONE[-4:])  # what the masked number shows
    assert found(PHONE)  # the whole number
    assert not found(PHONE[-5:]) and not found(PHONE[-7:])  # longer endings would uncover hidden digits
    client.force_login(cx.org.gm)  # a role that sees phones searches by any ending
    assert found(PHONE[-7:])


def test_case_page_names_the_customer_only_to_viewers_cleared_for_its_file(client, cx, register, make_customer):
    from zhidu.kernel.access import SecretLevel

    secret = make_customer(user=cx.org.sales_a, name="机密客户甲", secret_level=SecretLevel.SECRET)
    complaint = register(cx.qm, customer=secret.pk, department=cx.org.dept_a.pk)
    client.force_login(cx.agent)
    html = client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()
    assert complaint.tracking_no in html and "机密客户甲" not in html
    client.force_login(cx.qm)
    assert "机密客户甲" in client.get(reverse("complaints:detail", args=[complaint.pk])).content.decode()


def test_list_without_permission_is_forbidden(client, cx):
    client.force_login(cx.org.sysadmin)
    assert client.get(reverse("complaints:list")).status_code == 403


def test_overdue_filter_shows_only_cases_past_a_time_limit(client, cx, register, at):
    at("2026-09-01T10:00")
    late = register(complainant_name="超时者")
    at("2026-09-29T10:00")
    fresh = register(complainant_name="新投诉")
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:list") + "?overdue=1")
    assert late.tracking_no in html and fresh.tracking_no not in html
    assert "overdue-badge" in html


def test_list_pages_by_keyset(client, cx, register, monkeypatch):
    from zhidu.complaints import views

    monkeypatch.setattr(views, "PAGE_SIZE", 2)
    cases = [register(complainant_name=f"投诉人{i}") for i in range(3)]
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:list"))
    assert cases[2].tracking_no in html and cases[1].tracking_no in html and cases[0].tracking_no not in html
    query = re.search(r'href="\?([^"]*)" id="next-page"', html).group(1).replace("&amp;", "&")
    html = _page(client, reverse("complaints:list") + "?" + query)
    assert cases[0].tracking_no in html and cases[2].tracking_no not in html


# ---------------------------------------------------------------- register


def test_register_form_creates_a_case_owned_by_the_receiver(client, cx):
    client.force_login(cx.agent)
    response = client.post(
        reverse("complaints:new"),
        {"channel": "onsite", "complainant_name": "李四", "complainant_phone": PHONE, "subject": "送货延误", "content": "晚了三天"},
    )
    complaint = Complaint.objects.get()
    assert response.status_code == 302 and response.url == reverse("complaints:detail", args=[complaint.pk])
    assert complaint.receiver == cx.agent and complaint.channel == "onsite"


def test_register_form_shows_missing_fields_and_saves_nothing(client, cx):
    client.force_login(cx.agent)
    response = client.post(reverse("complaints:new"), {"channel": "onsite", "complainant_name": "", "subject": "", "content": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="error-complainant_name"' in html and 'id="error-content"' in html
    assert not Complaint.objects.exists()


def test_register_needs_handle_permission(client, cx):
    from zhidu.org.models import Role, User

    viewer = User.objects.create(username="viewer", role=Role.objects.get(code="marketing_manager"), department=cx.org.root)
    client.force_login(viewer)
    assert client.get(reverse("complaints:new")).status_code == 403


# ---------------------------------------------------------------- the case page


def test_case_page_shows_deadlines_with_due_time_and_citation(client, cx, register):
    complaint = register()
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    block = re.search(r'id="deadlines".*?</ul>', html, re.S).group(0)
    assert "首次响应" in block and "处理完毕" in block
    due = timezone.localtime(complaint.first_response_due).strftime("%Y-%m-%d %H:%M")
    assert due in block
    assert "依据：" in block
    assert "升级阶梯" in block


def test_breach_and_escalation_are_visible_on_the_case(client, cx, register, at):
    at("2026-09-01T10:00")
    complaint = register()
    at("2026-09-10T10:00")
    deadlines.sweep()
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'id="case-breached"' in html
    assert 'id="case-escalation"' in html
    block = re.search(r'id="deadlines".*?</ul>\s*</div>', html, re.S).group(0)
    assert "已超时" in block and "超时于" in block
    assert re.search(r"已执行 [12]/2 级", block)


def test_only_the_steps_the_viewer_may_take_are_offered(client, cx, register):
    complaint = register()
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'id="form-decide"' in html and 'id="form-close"' not in html
    client.force_login(cx.agent_b)  # outside the case's department
    assert client.get(reverse("complaints:detail", args=[complaint.pk])).status_code == 404


def test_subject_staff_sees_the_case_but_may_not_act(client, cx, register):
    complaint = register(subject_staff=cx.agent2.pk)
    client.force_login(cx.agent2)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'id="subject-warning"' in html and 'class="step-form' not in html
    response = _post(client, complaint, "wait", {"note": "等待"})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.waiting_since is None
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("被投诉人" in m for m in messages)


def test_rejecting_without_reply_shows_the_error_and_changes_nothing(client, cx, register):
    complaint = register()
    version = complaint.version
    client.force_login(cx.qm)
    response = _post(client, complaint, "decide", {"valid": "0", "reply_text": ""})
    assert response.status_code == 200
    html = response.content.decode()
    assert "invalid-feedback" in html or "step-errors" in html
    complaint.refresh_from_db()
    assert complaint.status == Status.REGISTERED and complaint.version == version


def test_a_stale_page_is_refused_and_nothing_is_saved(client, cx, register):
    complaint = register()
    client.force_login(cx.qm)
    stale = complaint.version
    services.complaint_classify(cx.qm, complaint.pk, expected_version=stale, category="service")
    response = client.post(reverse("complaints:act", args=[complaint.pk, "decide"]), {"decide-version": stale, "decide-valid": "1"})
    assert response.status_code == 302
    messages = [str(m) for m in response.wsgi_request._messages]
    assert any("已被他人更新" in m for m in messages)
    complaint.refresh_from_db()
    assert complaint.status == Status.REGISTERED


def test_every_step_through_the_case_page_to_closing(client, cx, register):
    complaint = register(subject_staff=cx.org.sales_a.pk)
    client.force_login(cx.qm)
    assert _post(client, complaint, "decide", {"valid": "1"}).status_code == 302
    response = _post(client, complaint, "assign", {"department": cx.org.dept_a.pk, "owner": cx.agent.pk, "note": "请跟进"})
    assert response.status_code == 302, response.content.decode()[:2000]
    client.force_login(cx.agent)
    assert _post(client, complaint, "investigate", {"cause": "店员培训不足", "loopholes": "未岗前培训", "responsible_user": cx.org.sales_a.pk}).status_code == 302
    assert _post(client, complaint, "remedy", {"description": "道歉并赠送礼品", "compensation": "100"}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Status.PLAN_PENDING
    plan = complaint.remedies.get()
    # The plan waits for the department manager, who decides it on the case page.
    client.force_login(cx.org.manager_a)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert "approve-button" in html
    response = client.post(
        reverse("complaints:approval_decide", args=[complaint.pk, plan.approval_id]), {"decision": "approve", "comment": "同意", "version": plan.approval.version}
    )
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Status.PLAN_APPROVED
    client.force_login(cx.agent)
    assert _post(client, complaint, "carry_out", {"note": "已上门道歉"}).status_code == 302
    assert _post(client, complaint, "inform", {"message": "已处理完毕"}).status_code == 302
    assert _post(client, complaint, "return_visit", {"satisfied": "1", "note": "客户满意"}).status_code == 302
    client.force_login(cx.qm)
    assert _post(client, complaint, "close", {"summary": "处理得当", "corrective_actions": "培训", "preventive_actions": "岗前考核"}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.status == Status.CLOSED
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    kinds = re.findall(r'data-kind="([a-z_]+)"', re.search(r'id="timeline".*?</ul>', html, re.S).group(0))
    for kind in ("registered", "decided_valid", "assigned", "investigated", "remedy_proposed", "remedy_approved", "carried_out", "informed", "return_visit", "closed"):
        assert kind in kinds
    assert "岗前考核" in html


def test_unsatisfied_return_visit_reopens_for_another_round(client, cx, register):
    complaint = register()
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=None)
    services.complaint_investigate(cx.agent, complaint.pk, cause="原因", expected_version=None)
    plan = services.complaint_propose_remedy(cx.agent, complaint.pk, description="方案", expected_version=None)
    services.approval_decide(cx.org.manager_a, plan.approval_id, True)
    services.complaint_carry_out(cx.agent, complaint.pk, note="做了", expected_version=None)
    services.complaint_inform(cx.agent, complaint.pk, message="告知", expected_version=None)
    client.force_login(cx.agent)
    response = _post(client, complaint, "return_visit", {"satisfied": "0", "note": "仍不满意"})
    assert response.status_code == 302
    complaint.refresh_from_db()
    assert complaint.round == 2 and complaint.status == Status.ASSIGNED
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'id="case-round"' in html


def test_printable_register_form(client, cx, register):
    complaint = register(complainant_address="杭州市西湖路 1 号")
    client.force_login(cx.qm)
    html = _page(client, reverse("complaints:register_form", args=[complaint.pk]))
    assert "申诉和投诉处理登记表" in html
    assert "complaints/complaints.css" in html
    assert complaint.tracking_no in html and "杭州市西湖路 1 号" in html and "店员态度恶劣" in html
    assert MASKED in html and PHONE not in html
    css = open(__import__("pathlib").Path(__file__).parents[1] / "static" / "complaints" / "complaints.css", encoding="utf-8").read()
    assert "@media print" in css


# ---------------------------------------------------------------- penalties


PENALTY_PACK = """\
name: test-complaint-penalty
title: 测试投诉处罚
implements: [S02]
extends: base
apps: [complaints]
parameters:
  complaints.penalty:
    value: {unit: yuan, min: 200, max: 1500, default: 200, chain: [{role: general_manager, label: 总经理}]}
    source: "000_097510e39fec2ee7.txt Doc1 第七条 L83"
"""


@pytest.fixture
def penalty_pack(tmp_path, pack):
    path = tmp_path / "test-complaint-penalty.yaml"
    path.write_text(textwrap.dedent(PENALTY_PACK), encoding="utf-8")
    return pack(str(path))


def test_my_penalties_show_why_and_the_citation(client, cx, register, penalty_pack):
    complaint = register()
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    client.force_login(cx.qm)
    response = _post(client, complaint, "penalty", {"staff": cx.org.sales_a.pk, "amount": "300", "reason": "服务态度恶劣"})
    assert response.status_code == 302
    penalty = complaint.penalties.get()
    services.approval_decide(cx.org.gm, penalty.approval_id, True)
    client.force_login(cx.org.sales_a)
    html = _page(client, reverse("complaints:my_penalties"))
    assert complaint.tracking_no in html
    assert "服务态度恶劣" in html and "第七条 L83" in html
    assert "300" in html
    client.force_login(cx.agent)
    assert complaint.tracking_no not in _page(client, reverse("complaints:my_penalties"))


def test_penalty_out_of_range_is_refused_on_the_form(client, cx, register, penalty_pack):
    complaint = register()
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    client.force_login(cx.qm)
    response = _post(client, complaint, "penalty", {"staff": cx.org.sales_a.pk, "amount": "5000", "reason": "x"})
    assert response.status_code == 200
    assert not complaint.penalties.exists()


# ---------------------------------------------------------------- export


def test_export_is_filtered_masked_and_audited(client, cx, register):
    import io

    from openpyxl import load_workbook

    register(complainant_name="导出甲")
    register(complainant_name="导出乙", channel="onsite")
    client.force_login(cx.qm)
    response = client.get(reverse("complaints:export") + "?channel=onsite")
    assert response.status_code == 200
    content = b"".join(response.streaming_content)
    rows = list(load_workbook(io.BytesIO(content), read_only=True).active.iter_rows(values_only=True))
    names = [row[2] for row in rows[1:]]
    assert names == ["导出乙"]
    assert MASKED in rows[1] and not any(PHONE in str(c) for row in rows for c in row if c)
    assert AuditEntry.objects.filter(action="complaints.export").exists()


def test_export_needs_permission(client, cx, register):
    client.force_login(cx.agent)
    assert client.get(reverse("complaints:export")).status_code == 403


# ---------------------------------------------------------------- side actions: waiting, extension


def test_waiting_for_the_complainant_pauses_and_resumes_the_clock(client, cx, register):
    complaint = register()
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    client.force_login(cx.agent)
    assert _post(client, complaint, "wait", {"note": "等待客户提供发票"}).status_code == 302
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'id="case-waiting"' in html
    assert 'id="form-resume"' in html and 'id="form-assign"' not in html and 'id="form-classify"' not in html
    assert "已暂停" in re.search(r'id="deadlines".*?</ul>', html, re.S).group(0)
    assert _post(client, complaint, "resume", {"note": "客户已提供"}).status_code == 302
    complaint.refresh_from_db()
    assert complaint.waiting_since is None


def test_extension_is_requested_and_approved_on_the_case_page(client, cx, register, pack, at):
    from zhidu.org.models import User

    at("2026-09-14T10:00")
    pack("s16-distillery")
    marketing = User.objects.create(username="mkt", display_name="营销办", role=cx.org.roles["marketing_manager"], department=cx.org.root)
    complaint = register(channel=services.policy_snapshot()[0]["channels"][0]["key"])
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=None)
    complaint.refresh_from_db()
    before = complaint.resolution_due
    client.force_login(cx.agent)
    response = _post(client, complaint, "extension", {"amount": "7", "reason": "需送检"})
    assert response.status_code == 302, response.content.decode()[:3000]
    extension = complaint.extensions.get()
    client.force_login(marketing)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert 'data-kind="complaints.extension"' in html and "approve-button" in html
    client.post(reverse("complaints:approval_decide", args=[complaint.pk, extension.approval_id]), {"decision": "approve", "version": extension.approval.version})
    complaint.refresh_from_db()
    assert complaint.resolution_due > before
    client.force_login(cx.agent)
    html = _page(client, reverse("complaints:detail", args=[complaint.pk]))
    assert timezone.localtime(complaint.resolution_due).strftime("%Y-%m-%d %H:%M") in html


def test_extension_beyond_the_pack_maximum_is_refused(client, cx, register, pack, at):
    at("2026-09-14T10:00")
    pack("s16-distillery")
    complaint = register(channel=services.policy_snapshot()[0]["channels"][0]["key"])
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=None)
    client.force_login(cx.agent)
    response = _post(client, complaint, "extension", {"amount": "30", "reason": "太忙"})
    assert response.status_code == 200
    assert 'id="error-extension-amount"' in response.content.decode()
    assert not complaint.extensions.exists()


def test_list_queries_do_not_grow_with_the_rows(client, cx, register):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.force_login(cx.qm)
    register()
    with CaptureQueriesContext(connection) as few:
        client.get(reverse("complaints:list"))
    for _i in range(8):
        register(subject_staff=cx.agent2.pk)
    with CaptureQueriesContext(connection) as many:
        client.get(reverse("complaints:list"))
    assert len(many) <= len(few)


def test_a_pack_number_still_to_be_set_is_explained_and_nothing_is_saved(client, cx, register, pack, at):
    # S03 leaves the authority matrix (权限核决表) to the administrator: proposing a plan must say so.
    at("2026-09-14T10:00")
    pack("s03-car-dealer")
    complaint = register(channel=services.policy_snapshot()[0]["channels"][0]["key"])
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=None)
    client.force_login(cx.agent)
    response = _post(client, complaint, "remedy", {"description": "赔偿", "compensation": "500"})
    complaint.refresh_from_db()
    assert complaint.status == Status.ASSIGNED and not complaint.remedies.exists()
    if response.status_code == 302:
        messages = [str(m) for m in response.wsgi_request._messages]
    else:
        messages = [response.content.decode()]
    assert any("制度包参数" in m and "remedy.chains" in m for m in messages)


def test_errors_reach_an_english_user_in_english(client, cx, register):
    complaint = register(subject_staff=cx.agent2.pk)
    client.cookies["django_language"] = "en"
    client.force_login(cx.agent2)
    response = _post(client, complaint, "wait", {"note": "x"})
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages == ["The person complained about may not take part in handling it"]
    client.force_login(cx.qm)
    stale = complaint.version
    services.complaint_classify(cx.qm, complaint.pk, expected_version=stale, category="service")
    response = client.post(reverse("complaints:act", args=[complaint.pk, "decide"]), {"decide-version": stale, "decide-valid": "1"})
    messages = [str(m) for m in response.wsgi_request._messages]
    assert messages[-1] == "Someone else updated this complaint; your action was not saved. Look at the latest state and try again."
