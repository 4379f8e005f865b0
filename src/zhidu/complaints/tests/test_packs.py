"""Each complaints pack end to end: a complaint filed just before 国庆 2026 (holidays 1–7 October, the
make-up working Saturday 10 October), every time limit the pack sets, then the whole workflow to closure."""

import pytest

from zhidu.complaints import selectors, services
from zhidu.complaints.models import Decision, Severity, Status
from zhidu.kernel import deadlines, ledger, policy
from zhidu.kernel.errors import Conflict, Forbidden
from zhidu.kernel.models import Deadline, Notification
from zhidu.kernel.policy import ParameterMissing

from .flow import approve_all, due, fresh, local, register, v

pytestmark = pytest.mark.django_db


def test_s02_deadlines_and_whole_procedure_with_fine(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s02-quality-service")
    c = register(cx.agent, channel="phone", subject_staff=cx.agent2.pk)
    # 1天 / 一周 are calendar days (the text does not say working days): the holiday does not stretch them.
    assert c.first_response_due == local("2026-10-01T10:00")
    assert c.resolution_due == local("2026-10-07T10:00")
    assert {d.policy_key for d in selectors.complaint_deadlines(c)} == {
        "complaints.deadlines.first_response", "complaints.deadlines.resolution"}
    assert "L71" in due(c, "first_response").source

    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    # Attributed to the staff member complained about: the fine (200–1500 yuan) is proposed for approval.
    services.complaint_investigate(cx.agent, c.pk, cause="服务态度生硬", responsible_user=cx.agent2.pk, penalty_amount=500,
                                   expected_version=v(c))
    penalty = fresh(c).penalties.get()
    assert (penalty.amount, penalty.unit, penalty.state) == (500, "yuan", Decision.PENDING)
    assert penalty.approval.chain[0]["role"] == "general_manager"

    at("2026-09-30T15:00")
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="致歉并上门服务", compensation=0, expected_version=v(c))
    assert due(c, "first_response").state == Deadline.State.MET  # 整理方案 within the day
    assert [s["role"] for s in plan.approval.chain] == ["quality_manager", "dept_manager"]
    approve_all(plan.approval_id, cx.qm, cx.org.manager_a)
    assert fresh(c).status == Status.PLAN_APPROVED

    at("2026-10-02T09:00")
    services.complaint_carry_out(cx.agent, c.pk, note="已上门处理", expected_version=v(c))
    c = fresh(c)
    assert due(c, "resolution").state == Deadline.State.MET
    assert due(c, "post_report").due_at == local("2026-10-05T09:00")  # 三天内报告总经理
    assert due(c, "return_visit").due_at == local("2026-10-03T00:00")  # 处理完当天电话追踪
    services.complaint_inform(cx.agent, c.pk, message="已处理完毕", expected_version=v(c))
    # 回访 by the quality manager only (step_roles).
    with pytest.raises(Forbidden):
        services.complaint_return_visit(cx.agent, c.pk, satisfied=True, expected_version=v(c))
    services.complaint_return_visit(cx.qm, c.pk, satisfied=True, note="客户满意", expected_version=v(c))
    services.complaint_report(cx.qm, c.pk, kind="post_handling", text="处理报告", expected_version=v(c))
    services.complaint_close(cx.qm, c.pk, summary="加强礼仪培训", corrective_actions="培训", preventive_actions="考核",
                             expected_version=v(c))
    c = fresh(c)
    assert c.status == Status.CLOSED and c.next_due_at is None
    assert all(d.state == Deadline.State.MET for d in selectors.complaint_deadlines(c))

    approve_all(penalty.approval_id, cx.org.gm)
    penalty.refresh_from_db()
    assert penalty.state == Decision.APPROVED
    assert ledger.balance(f"staff:{cx.agent2.pk}", "yuan") == -500
    mine = selectors.penalties_for(cx.agent2).items
    assert [p.pk for p in mine] == [penalty.pk] and "L83" in mine[0].citation


def test_s02_fine_must_be_inside_200_to_1500(cx, pack):
    pack("s02-quality-service")
    c = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    from zhidu.kernel.errors import Invalid

    for amount in (None, 100, 1600):
        with pytest.raises(Invalid):
            services.complaint_investigate(cx.agent, c.pk, cause="x", responsible_user=cx.agent2.pk, penalty_amount=amount,
                                           expected_version=v(c))
    assert fresh(c).status == Status.ASSIGNED and not fresh(c).penalties.exists()


def test_s03_major_complaint_warning_and_authority_matrix(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s03-car-dealer")
    c = register(cx.agent, channel="walk_in", major_reasons=["blocking"], subject_staff=cx.agent2.pk,
                 extra={"车型": "轿车", "车牌": "粤B12345"})
    assert c.severity == Severity.MAJOR and selectors.severity_label(c) == "重大投诉"
    assert c.first_response_due is None and c.resolution_due is None  # "及时快速响应" has no number
    warning = due(c, "major_escalation")
    assert warning.due_at == local("2026-10-01T10:00")  # 24 小时内预警报备, holiday or not
    # 第一时间通知部门负责人、总经理: the first ladder steps are due at once.
    result = deadlines.sweep(local("2026-09-30T10:01"))
    assert result.notified >= 2
    assert Notification.objects.filter(user=cx.org.gm).exists()

    # 对原接待个人的投诉,原接待员工不得参与.
    with pytest.raises(Forbidden):
        services.complaint_report(cx.agent2, c.pk, kind="major_warning", text="x", expected_version=v(c))

    services.complaint_report(cx.agent, c.pk, kind="major_warning", text="已向品牌事业部、法务部报备", expected_version=v(c))
    assert due(c, "major_escalation").state == Deadline.State.MET
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    with pytest.raises(Forbidden):
        services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent2.pk, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    # The authority matrix is not in the text: nothing can be approved until an administrator sets it.
    with pytest.raises(ParameterMissing):
        services.complaint_propose_remedy(cx.agent, c.pk, description="赔偿", compensation=3000, expected_version=v(c))
    assert fresh(c).status == Status.ASSIGNED
    policy.parameter_set("complaints.remedy.chains", [
        {"max_amount": 2000, "chain": [{"role": "dept_manager", "label": "部门经理"}]},
        {"chain": [{"role": "dept_manager", "label": "部门经理"}, {"role": "general_manager", "label": "总经理"}]},
    ], cx.org.gm)
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="赔偿", compensation=3000, expected_version=v(c))
    assert [s["role"] for s in plan.approval.chain] == ["dept_manager", "general_manager"]
    approve_all(plan.approval_id, cx.org.manager_a, cx.org.gm)
    at("2026-10-02T10:00")
    services.complaint_carry_out(cx.agent, c.pk, note="已赔偿", expected_version=v(c))
    assert due(c, "post_report").due_at == local("2026-10-03T10:00")  # 处理完毕后24小时内反馈集团客服部
    services.complaint_report(cx.agent, c.pk, kind="post_handling", text="结果反馈", expected_version=v(c))
    services.complaint_return_visit(cx.agent, c.pk, satisfied=True, note="满意度调查：满意", expected_version=v(c))
    services.complaint_close(cx.qm, c.pk, summary="危机处理小组复盘", expected_version=v(c))
    assert fresh(c).status == Status.CLOSED


def test_s08_collective_complaint_is_major_and_reported_at_once(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s08-property")
    c = register(cx.agent, channel="phone", category="equipment", households_affected=3, complainant_type="problem",
                 motive="solution")
    assert c.severity == Severity.MAJOR and c.major_reasons == ["collective"]
    assert selectors.labels(c)["category"] == "设备设施" and selectors.labels(c)["major_reasons"] == ["集体投诉"]
    assert due(c, "major_escalation").due_at == local("2026-09-30T10:00")  # 马上报告
    assert fresh(c).overdue
    deadlines.sweep(local("2026-09-30T10:00"))
    assert due(c, "major_escalation").state == Deadline.State.BREACHED
    assert Notification.objects.filter(user=cx.org.manager_a).exists() or Notification.objects.filter(user=cx.org.gm).exists()
    services.complaint_report(cx.agent, c.pk, kind="major_warning", text="已报告部门经理和中心领导", expected_version=v(c))
    assert not fresh(c).overdue

    two = register(cx.agent, channel="written", category="attitude", households_affected=2)
    assert two.severity == Severity.GENERAL and two.first_response_due is None  # 立即回复: no number to time

    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_carry_out(cx.agent, c.pk, note="电梯已修复", expected_version=v(c))
    at("2026-10-01T09:00")
    services.complaint_inform(cx.agent, c.pk, message="已修复", expected_version=v(c))
    assert due(c, "return_visit").due_at == local("2026-11-01T09:00")
    services.complaint_return_visit(cx.agent, c.pk, satisfied=True, note="客户签字确认", expected_version=v(c))
    services.complaint_close(cx.qm, c.pk, summary="设备巡检", expected_version=v(c))
    assert fresh(c).status == Status.CLOSED


def test_s16_working_days_over_national_day_extension_and_points(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s16-distillery")
    marketing = cx.org.gm.__class__.objects.create(username="mkt", display_name="营销办", role=cx.org.roles["marketing_manager"],
                                                   department=cx.org.root)
    c = register(cx.agent, channel="phone", category="quality")
    assert c.first_response_due == local("2026-10-01T10:00")  # 24 小时
    assert c.resolution_due == local("2026-10-10T10:00")  # 3 个工作日: 8, 9 and the make-up Saturday 10 October
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))

    # 特殊状况 up to 7 working days, with approval.
    from zhidu.kernel.errors import Invalid

    with pytest.raises(Invalid):
        services.complaint_request_extension(cx.agent, c.pk, amount=8, reason="需送检", expected_version=v(c))
    extension = services.complaint_request_extension(cx.agent, c.pk, amount=7, reason="需送检", expected_version=v(c))
    assert fresh(c).resolution_due == local("2026-10-10T10:00")  # unchanged until approved
    approve_all(extension.approval_id, marketing)
    assert fresh(c).resolution_due == local("2026-10-15T10:00")  # 8, 9, 10 (make-up Saturday), 12, 13, 14, 15
    assert due(c, "resolution").amount == 7
    assert f"延期已批准 #{extension.approval_id}" in due(c, "resolution").source

    services.complaint_investigate(cx.agent, c.pk, cause="批次包装破损", responsible_user=cx.agent2.pk, expected_version=v(c))
    penalty = fresh(c).penalties.get()
    assert (penalty.amount, penalty.unit) == (1, "points")  # 投诉一次扣一分
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="换货", expected_version=v(c))
    approve_all(plan.approval_id, cx.org.manager_a)
    at("2026-10-09T11:00")
    services.complaint_carry_out(cx.agent, c.pk, note="已换货", expected_version=v(c))
    assert due(c, "post_report").due_at == local("2026-10-10T11:00")  # 反馈单 24 小时内
    services.complaint_inform(cx.agent, c.pk, message="客户处理反馈单", expected_version=v(c))
    assert due(c, "post_report").state == Deadline.State.MET
    services.complaint_close(cx.qm, c.pk, summary="包装改进", expected_version=v(c))
    assert fresh(c).archive_after == local("2027-10-09T11:00")  # 资料保存一年
    approve_all(penalty.approval_id, marketing)
    assert ledger.balance(f"staff:{cx.agent2.pk}", "points") == -1


def test_s23_thirty_minute_plan_then_validity_after_investigation(cx, pack, at):
    at("2026-09-30T17:50")
    pack("s23-logistics")
    c = register(cx.agent, channel="chat", category="timeliness")
    assert c.first_response_due == local("2026-09-30T18:20")  # 30 分钟内提出处理方案
    assert c.resolution_due is None
    with pytest.raises(Conflict):  # validity is judged after the investigation in this pack
        services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    at("2026-09-30T18:10")
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="协调加急送货", expected_version=v(c))
    assert plan.approval is None and plan.state == Decision.APPROVED  # no approver in the text
    assert due(c, "first_response").state == Deadline.State.MET
    services.complaint_investigate(cx.agent, c.pk, cause="司机漏送", loopholes="交接无签收", expected_version=v(c))
    services.complaint_decide(cx.qm, c.pk, True, major_reasons=["conflict"], expected_version=v(c))
    assert fresh(c).severity == Severity.MAJOR and selectors.severity_label(fresh(c)) == "恶性投诉"
    services.complaint_carry_out(cx.agent, c.pk, note="已送达", expected_version=v(c))
    services.complaint_inform(cx.agent, c.pk, message="货物已送达", expected_version=v(c))
    services.complaint_close(cx.qm, c.pk, summary="月度分析", expected_version=v(c))
    assert fresh(c).status == Status.CLOSED


def test_s23_invalid_and_malicious_and_time_bar(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s23-logistics")
    c = register(cx.agent, channel="phone", category="service", incident_at="2026-08-01T10:00")
    assert c.time_barred
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_propose_remedy(cx.agent, c.pk, description="核实", expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="匿名，事实不成立", expected_version=v(c))
    from zhidu.kernel.errors import Invalid

    with pytest.raises(Invalid):  # the reply to the complainant is required
        services.complaint_decide(cx.qm, c.pk, False, invalid_reason="attitude_late", expected_version=v(c))
    services.complaint_decide(cx.qm, c.pk, False, invalid_reason="anonymous_unfounded", malicious=True,
                              reply_text="经调查基本事实不成立", expected_version=v(c))
    c = fresh(c)
    assert (c.status, c.validity, c.malicious, c.next_due_at) == (Status.REJECTED, "invalid", True, None)
    assert selectors.labels(c)["invalid_reason"] == "匿名且无具体事实或主要事实不成立"


def test_s32_recusal_meeting_for_major_matters_and_yearly_volume(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s32-law-firm")
    c = register(cx.agent, channel="referral", major_reasons=["principle"], subject_staff=cx.agent2.pk)
    assert c.first_response_due is None and c.resolution_due is None and not selectors.complaint_deadlines(c)
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="材料属实", expected_version=v(c))
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="所务会议决定：书面致歉", expected_version=v(c))
    assert [s["role"] for s in plan.approval.chain] == ["general_manager"]  # 重大事项由会议决定
    with pytest.raises(Forbidden):  # 被投诉人应当回避
        services.approval_decide(cx.agent2, plan.approval_id, True)
    approve_all(plan.approval_id, cx.org.gm)
    services.complaint_carry_out(cx.agent, c.pk, note="已实施", expected_version=v(c))
    services.complaint_inform(cx.agent, c.pk, message="书面回复", expected_version=v(c))
    services.complaint_return_visit(cx.agent, c.pk, satisfied=False, note="不满意", expected_version=v(c))
    c = fresh(c)
    assert c.status == Status.ASSIGNED and c.round == 2 and c.escalated_at is not None
    assert Notification.objects.filter(user=cx.agent, title__contains="升级").exists()  # 向处理人员反映
    services.complaint_investigate(cx.agent, c.pk, cause="补充核查", expected_version=v(c))
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="补充答复", expected_version=v(c))
    approve_all(plan.approval_id, cx.org.gm)
    services.complaint_carry_out(cx.agent, c.pk, note="已实施", expected_version=v(c))
    services.complaint_inform(cx.agent, c.pk, message="补充书面回复", expected_version=v(c))
    services.complaint_return_visit(cx.agent, c.pk, satisfied=True, expected_version=v(c))
    at("2026-12-30T10:00")
    services.complaint_close(cx.qm, c.pk, summary="归档", expected_version=v(c))
    assert fresh(c).archive_after == local("2027-01-01T00:00")  # 按年度建立案宗
    assert services.complaints_archive_due(local("2026-12-31T23:59")) == 0
    assert services.complaints_archive_due(local("2027-01-01T00:00")) == 1
    assert fresh(c).archived


def test_new_pack_changes_new_cases_only(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s16-distillery")
    old = register(cx.agent, channel="phone")
    pack("s02-quality-service")
    new = register(cx.agent, channel="phone")
    assert old.resolution_due == local("2026-10-10T10:00") and new.resolution_due == local("2026-10-07T10:00")
    assert old.pack_version_id != new.pack_version_id
    # The old case keeps its steps (no return visit in S16) and its extension rule.
    services.complaint_decide(cx.qm, old.pk, True, expected_version=v(old))
    services.complaint_assign(cx.qm, old.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(old))
    assert "extension" in selectors.available_actions(cx.agent, fresh(old))
    assert "extension" not in selectors.available_actions(cx.agent, fresh(new))
    assert selectors.option_label(fresh(old), "channels", "oral") == "当面口头投诉"
