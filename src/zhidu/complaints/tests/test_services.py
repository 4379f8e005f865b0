import pytest

from zhidu.complaints import policy as complaint_policy
from zhidu.complaints import selectors, services
from zhidu.complaints.models import Severity, Status
from zhidu.kernel import deadlines
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import AuditEntry, Deadline, Notification

from .flow import due, fresh, local, register, v

pytestmark = pytest.mark.django_db


def _to_informed(cx, c):
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="原因", expected_version=v(c))
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="方案", expected_version=v(c))
    services.approval_decide(cx.org.manager_a, plan.approval_id, True)
    services.complaint_carry_out(cx.agent, c.pk, note="已实施", expected_version=v(c))
    services.complaint_inform(cx.agent, c.pk, message="已处理", expected_version=v(c))


def test_register_audits_and_starts_the_default_timers(cx, at):
    at("2026-09-30T10:00")
    c = register(cx.agent, channel="phone")
    assert c.tracking_no.startswith("TS20260930") and len(c.tracking_no) == 18
    assert c.receiver == cx.agent and c.department == cx.org.dept_a and c.status == Status.REGISTERED
    assert c.first_response_due == local("2026-10-08T10:00")  # zhidu default: 1 working day, over 国庆
    assert AuditEntry.objects.filter(action="complaints.registered", target_id=str(c.pk)).exists()
    with pytest.raises(Forbidden):
        register(cx.org.auditor, channel="phone")
    with pytest.raises(Forbidden):  # nobody registers a complaint about themselves
        register(cx.agent, channel="phone", subject_staff=cx.agent.pk)


def test_stale_version_is_a_conflict_and_changes_nothing(cx):
    c = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, c.pk, True, expected_version=c.version)
    with pytest.raises(Conflict):
        services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=c.version)
    assert fresh(c).owner is None and fresh(c).status == Status.ACCEPTED


def test_steps_out_of_order_are_refused(cx):
    c = register(cx.agent, channel="phone")
    for call in (
        lambda: services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c)),
        lambda: services.complaint_investigate(cx.qm, c.pk, cause="x", expected_version=v(c)),
        lambda: services.complaint_close(cx.qm, c.pk, summary="x", expected_version=v(c)),
    ):
        with pytest.raises(Conflict):
            call()
    assert fresh(c).version == c.version and fresh(c).events.count() == 1


def test_subject_staff_can_never_handle_or_approve(cx):
    c = register(cx.agent, channel="phone", subject_staff=cx.org.manager_a.pk)
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    with pytest.raises(Forbidden):
        services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.org.manager_a.pk, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    with pytest.raises(Forbidden):
        services.complaint_investigate(cx.org.manager_a, c.pk, cause="x", expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="x", expected_version=v(c))
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="方案", expected_version=v(c))
    # The default chain asks the department manager — who is the person complained about.
    with pytest.raises(Forbidden):
        services.approval_decide(cx.org.manager_a, plan.approval_id, True)
    assert fresh(c).status == Status.PLAN_PENDING
    # Decided through the kernel's own inbox instead: the handler refuses and the decision is undone.
    from zhidu.kernel import approvals

    with pytest.raises(Forbidden):
        approvals.decide(plan.approval_id, cx.org.manager_a, True)
    plan.approval.refresh_from_db()
    assert plan.approval.state == "pending" and fresh(c).status == Status.PLAN_PENDING


def test_rejected_remedy_goes_back_for_a_new_plan(cx):
    c = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="x", expected_version=v(c))
    plan = services.complaint_propose_remedy(cx.agent, c.pk, description="方案", expected_version=v(c))
    with pytest.raises(Conflict):
        services.complaint_carry_out(cx.agent, c.pk, note="x", expected_version=v(c))
    services.approval_decide(cx.org.manager_a, plan.approval_id, False, comment="赔偿过高")
    assert fresh(c).status == Status.INVESTIGATED
    assert "remedy" in selectors.available_actions(cx.agent, fresh(c))


def test_waiting_for_the_complainant_pauses_the_clock(cx, at):
    at("2026-11-02T10:00")  # Monday
    c = register(cx.agent, channel="phone")
    assert c.resolution_due == local("2026-11-09T10:00")
    at("2026-11-02T12:00")
    services.complaint_wait_for_complainant(cx.agent, c.pk, note="等待客户提供照片", expected_version=v(c))
    assert fresh(c).next_due_at is None and due(c, "resolution").state == Deadline.State.PAUSED
    with pytest.raises(Conflict):
        services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    assert selectors.available_actions(cx.agent, fresh(c)) == ["resume"]
    at("2026-11-03T12:00")
    services.complaint_resume(cx.agent, c.pk, expected_version=v(c))
    assert fresh(c).resolution_due == local("2026-11-10T10:00")  # moved by the day spent waiting
    assert due(c, "resolution").state == Deadline.State.DUE


def test_breach_shows_on_the_case_and_the_ladder_escalates(cx, at):
    at("2026-11-02T10:00")
    c = register(cx.agent, channel="phone")
    assert not selectors.complaint_list(cx.qm, filters={"overdue": True}).items
    at("2026-11-03T10:01")
    assert [x.pk for x in selectors.complaint_list(cx.qm, filters={"overdue": True}).items] == [c.pk]
    result = deadlines.sweep(local("2026-11-03T10:01"))
    assert result.breached == 1
    assert due(c, "first_response").state == Deadline.State.BREACHED
    assert Notification.objects.filter(user=cx.agent, title__contains=c.tracking_no).exists()  # step 1: the owner (receiver)
    deadlines.sweep(local("2026-11-04T10:02"))  # step 2 a working day later: the department's manager
    assert Notification.objects.filter(user=cx.org.manager_a, title__contains=c.tracking_no).exists()
    assert not Notification.objects.filter(user=cx.org.manager_b, title__contains=c.tracking_no).exists()
    detail = selectors.complaint_detail(cx.qm, c.pk)
    assert [d.state for d in detail.deadlines if d.policy_key.endswith("first_response")] == ["breached"]
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))  # late, but met
    assert due(c, "first_response").state == Deadline.State.MET and due(c, "first_response").breached_at is not None


def test_reopen_until_satisfied_escalates_after_the_packs_rounds(cx):
    c = register(cx.agent, channel="phone")
    for round_no in (1, 2, 3):
        if round_no == 1:
            _to_informed(cx, c)
            with pytest.raises(Invalid):  # an unsatisfied visit needs the conversation noted
                services.complaint_return_visit(cx.agent, c.pk, satisfied=False, expected_version=v(c))
        else:
            services.complaint_investigate(cx.agent, c.pk, cause="再查", expected_version=v(c))
            plan = services.complaint_propose_remedy(cx.agent, c.pk, description="再处理", expected_version=v(c))
            services.approval_decide(cx.org.manager_a, plan.approval_id, True)
            services.complaint_carry_out(cx.agent, c.pk, note="已实施", expected_version=v(c))
            services.complaint_inform(cx.agent, c.pk, message="已处理", expected_version=v(c))
        services.complaint_return_visit(cx.agent, c.pk, satisfied=False, note="仍不满意", expected_version=v(c))
        c = fresh(c)
        assert c.status == Status.ASSIGNED and c.round == round_no + 1
        assert due(c, "resolution").state == Deadline.State.DUE  # handled again: a new resolution clock
        assert (c.escalated_at is not None) == (round_no >= 3)  # zhidu default: escalate after 3 rounds
    assert Notification.objects.filter(user=cx.qm, title__contains="升级").exists()
    assert Notification.objects.filter(user=cx.org.manager_a, title__contains="升级").exists()
    # No seed states the rounds: the escalation cites zhidu's own default, never a regulation.
    assert services.param(c, "return_visit") == complaint_policy.ZHIDU_DEFAULT_RETURN_VISIT
    assert Notification.objects.filter(user=cx.qm, title__contains="升级", body__contains="zhidu 默认值").exists()


def test_classification_re_evaluates_major(cx, pack):
    pack("s08-property")
    c = register(cx.agent, channel="phone", households_affected=2)
    assert c.severity == Severity.GENERAL and due(c, "major_escalation") is None
    services.complaint_classify(cx.qm, c.pk, households_affected=5, expected_version=v(c))
    assert fresh(c).severity == Severity.MAJOR and due(c, "major_escalation") is not None
    with pytest.raises(Invalid):
        services.complaint_classify(cx.qm, c.pk, major_reasons=["bogus"], expected_version=v(c))


def test_public_submission_and_tracking(cx):
    c = services.complaint_submit_public({"complainant_name": "匿名", "complainant_phone": "13700009999", "subject": "s", "content": "c"})
    assert selectors.complaint_track(c.tracking_no, "13700009999")["status"] == "registered"
    assert selectors.complaint_track(c.tracking_no, "0000009999") is None
    services.complaint_decide(cx.qm, c.pk, False, reply_text="经核实，属于误会", expected_version=v(c))
    tracked = selectors.complaint_track(c.tracking_no, c.access_code.lower())
    assert tracked["reply_text"] == "经核实，属于误会" and tracked["events"][-1]["note"] == "经核实，属于误会"
    with pytest.raises(Invalid):
        services.complaint_submit_public({"complainant_name": "x", "subject": "s", "content": "c"})  # phone needed


def test_visibility_is_scoped(cx):
    c = register(cx.agent, channel="phone")
    assert selectors.complaint_get(cx.agent2, c.pk)  # same department
    with pytest.raises(NotFound):
        selectors.complaint_get(cx.agent_b, c.pk)
    with pytest.raises(NotFound):
        services.complaint_decide(cx.agent_b, c.pk, True, expected_version=v(c))
    assert not selectors.complaints_visible(cx.org.auditor).exists()
