import pytest
from django.contrib.auth import get_user_model

from zhidu.kernel import approvals
from zhidu.kernel.errors import Conflict, Forbidden, Invalid
from zhidu.kernel.models import ApprovalDecision, ApprovalRequest, AuditEntry, Notification
from zhidu.org.models import Department, Role
from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db

CHAIN = [{"role": "sales_manager", "label": "销售经理"}, {"role": "general_manager", "label": "总经理"}]
SOURCE = "S01 客户管理制度 第十二条"


def role(code, scope="all"):
    return Role.objects.get_or_create(code=code, defaults={"name": code, "data_scope": scope, "permissions": []})[0]


def user(username, role_code=None, department=None, scope="all", active=True):
    # No password: hashing one costs seconds and these users log in with force_login or a token.
    return get_user_model().objects.create(
        username=username, role=role(role_code, scope) if role_code else None, department=department, is_active=active,
    )


@pytest.fixture
def calls():
    made = []
    approvals.register("test.discount", on_approved=lambda r: made.append(("approved", r.pk)),
                       on_rejected=lambda r: made.append(("rejected", r.pk)))
    yield made
    approvals._registry.pop("test.discount", None)


@pytest.fixture
def people():
    return {
        "requester": user("xiaowang", "sales"),
        "manager": user("laoli", "sales_manager"),
        "manager2": user("laozhang", "sales_manager"),
        "inactive_manager": user("former", "sales_manager", active=False),
        "gm": user("zongjingli", "general_manager"),
        "outsider": user("waibu", "sales"),
    }


def open_request(people, chain=CHAIN):
    return approvals.start("test.discount", ("customers.customer", 42), people["requester"], chain, SOURCE,
                           title="华为 折扣 15%", payload={"discount": "15%"})


def test_start_copies_chain_and_notifies_first_role(calls, people):
    request = open_request(people)
    assert request.state == "pending" and request.current_step == 0
    assert request.chain == CHAIN and request.chain_source == SOURCE
    notified = set(Notification.objects.filter(category="approval").values_list("user__username", flat=True))
    assert notified == {"laoli", "laozhang"}
    assert AuditEntry.objects.filter(action="approval.started", target_id=str(request.pk)).exists()


def test_start_refuses_empty_chain_and_unknown_kind(calls, people):
    with pytest.raises(Invalid):
        open_request(people, chain=[])
    with pytest.raises(Invalid):
        open_request(people, chain=[{"label": "无角色"}])
    with pytest.raises(Invalid):
        approvals.start("no.such.kind", ("x", 1), people["requester"], CHAIN, SOURCE)
    assert not ApprovalRequest.objects.exists()


def test_two_step_chain_runs_handler_once_at_the_end(calls, people):
    request = open_request(people)
    after_first = approvals.decide(request.pk, people["manager"], True, "同意", expected_version=1)
    assert after_first.state == "pending" and after_first.current_step == 1 and after_first.version == 2
    assert calls == []
    assert Notification.objects.filter(user=people["gm"], category="approval").count() == 1
    done = approvals.decide(request.pk, people["gm"], True, "批准", expected_version=2)
    assert done.state == "approved" and done.decided_at is not None
    assert calls == [("approved", request.pk)]
    assert list(ApprovalDecision.objects.filter(request=request).values_list("step", "decided_by__username", "approved")) == [
        (0, "laoli", True), (1, "zongjingli", True)]
    assert Notification.objects.filter(user=people["requester"], title__contains="已批准").exists()
    assert AuditEntry.objects.filter(action="approval.approved").count() == 2


def test_rejection_finishes_and_runs_rejected_handler(calls, people):
    request = open_request(people)
    done = approvals.decide(request.pk, people["manager"], False, "折扣过高")
    assert done.state == "rejected"
    assert calls == [("rejected", request.pk)]
    assert Notification.objects.filter(user=people["requester"], title__contains="驳回").exists()
    entry = AuditEntry.objects.get(action="approval.rejected")
    assert entry.details["comment"] == "折扣过高" and entry.actor_username == "laoli"


def test_only_the_current_steps_role_may_decide(calls, people):
    request = open_request(people)
    with pytest.raises(Forbidden):
        approvals.decide(request.pk, people["gm"], True)  # general manager is step 2, not step 1
    with pytest.raises(Forbidden):
        approvals.decide(request.pk, people["outsider"], True)
    with pytest.raises(Forbidden):
        approvals.decide(request.pk, people["inactive_manager"], True)
    request.refresh_from_db()
    assert request.current_step == 0 and request.version == 1
    assert not ApprovalDecision.objects.exists()


def test_requester_cannot_approve_own_request(calls, people):
    manager = people["manager"]
    request = approvals.start("test.discount", ("customers.customer", 1), manager, CHAIN, SOURCE, title="自己的申请")
    with pytest.raises(Forbidden):
        approvals.decide(request.pk, manager, True)
    assert request not in approvals.pending_for(manager)
    assert request in approvals.pending_for(people["manager2"])


def test_stale_version_is_a_conflict_and_changes_nothing(calls, people):
    request = open_request(people)
    approvals.decide(request.pk, people["manager"], True, expected_version=1)
    with pytest.raises(Conflict):
        approvals.decide(request.pk, people["gm"], True, expected_version=1)
    request.refresh_from_db()
    assert request.state == "pending" and request.current_step == 1 and request.version == 2
    assert ApprovalDecision.objects.count() == 1
    assert calls == []


def test_decided_request_cannot_be_decided_again(calls, people):
    request = open_request(people)
    approvals.decide(request.pk, people["manager"], False, "不同意")
    with pytest.raises(Conflict):
        approvals.decide(request.pk, people["manager2"], True)
    assert calls == [("rejected", request.pk)]


def test_failing_handler_rolls_back_the_decision(people):
    def explode(request):
        raise Invalid("库存不足")

    approvals.register("test.explodes", on_approved=explode)
    try:
        request = approvals.start("test.explodes", ("x", 1), people["requester"], CHAIN[:1], SOURCE)
        with pytest.raises(Invalid):
            approvals.decide(request.pk, people["manager"], True)
    finally:
        approvals._registry.pop("test.explodes", None)
    request.refresh_from_db()
    assert request.state == "pending" and request.version == 1
    assert not ApprovalDecision.objects.exists()
    assert not AuditEntry.objects.filter(action="approval.approved").exists()


def test_pending_for_lists_only_what_waits_for_me(calls, people):
    first = open_request(people)
    second = open_request(people)
    approvals.decide(second.pk, people["manager"], True)
    assert list(approvals.pending_for(people["manager"])) == [first]
    assert list(approvals.pending_for(people["gm"])) == [second]
    assert list(approvals.pending_for(people["outsider"])) == []


def test_department_scoped_approver_sees_own_department_only(calls):
    east = Department.objects.create(name="华东", code="east")
    west = Department.objects.create(name="华西", code="west")
    Department.objects.filter(pk=east.pk).update(path=f"/{east.pk}/")
    Department.objects.filter(pk=west.pk).update(path=f"/{west.pk}/")
    east.refresh_from_db()
    west.refresh_from_db()
    requester = user("east-sales", "sales", department=east)
    east_manager = user("east-mgr", "dept_manager", department=east, scope="department")
    west_manager = user("west-mgr", "dept_manager", department=west, scope="department")
    request = approvals.start("test.discount", ("x", 1), requester, [{"role": "dept_manager", "label": "部门经理"}], SOURCE)
    assert Notification.objects.filter(user=east_manager).count() == 1
    assert not Notification.objects.filter(user=west_manager).exists()
    assert list(approvals.pending_for(east_manager)) == [request]
    assert list(approvals.pending_for(west_manager)) == []
    with pytest.raises(Forbidden):
        approvals.decide(request.pk, west_manager, True)
    assert approvals.decide(request.pk, east_manager, True).state == "approved"


def test_cancel_by_requester(calls, people):
    request = open_request(people)
    with pytest.raises(Forbidden):
        approvals.cancel(request.pk, people["manager"])
    assert approvals.cancel(request.pk, people["requester"]).state == "cancelled"
    assert list(approvals.pending_for(people["manager"])) == []


def test_api_pending_and_decide(client, calls, people):
    request = open_request(people)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token_create(people['manager'])}"}
    pending = client.get("/api/v1/kernel/approvals/pending", **auth)
    assert pending.status_code == 200
    assert [r["id"] for r in pending.json()["items"]] == [request.pk]
    assert pending.json()["items"][0]["requested_by"] == "xiaowang"
    stale = client.post(f"/api/v1/kernel/approvals/{request.pk}/decide", {"approve": True, "version": 7},
                        content_type="application/json", **auth)
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    decided = client.post(f"/api/v1/kernel/approvals/{request.pk}/decide", {"approve": True, "comment": "可以", "version": 1},
                          content_type="application/json", **auth)
    assert decided.status_code == 200
    assert decided.json()["current_step"] == 1 and decided.json()["version"] == 2
    outsider = {"HTTP_AUTHORIZATION": f"Bearer {token_create(people['outsider'])}"}
    refused = client.post(f"/api/v1/kernel/approvals/{request.pk}/decide", {"approve": True}, content_type="application/json", **outsider)
    assert refused.status_code == 403 and refused.json()["code"] == "forbidden"
    assert client.get(f"/api/v1/kernel/approvals/{request.pk}", **outsider).status_code == 404


def test_pending_page_approve_and_reject_with_comment(client, calls, people):
    first = open_request(people)
    second = open_request(people)
    client.force_login(people["manager"])
    page = client.get("/kernel/approvals/")
    assert page.status_code == 200
    assert "华为 折扣 15%" in page.content.decode()
    response = client.post(f"/kernel/approvals/{first.pk}/decide/", {"decision": "approve", "comment": "同意", "version": 1})
    assert response.status_code == 302
    first.refresh_from_db()
    assert first.current_step == 1
    # Rejecting needs a comment.
    client.post(f"/kernel/approvals/{second.pk}/decide/", {"decision": "reject", "comment": " ", "version": 1})
    second.refresh_from_db()
    assert second.state == "pending"
    client.post(f"/kernel/approvals/{second.pk}/decide/", {"decision": "reject", "comment": "价格太低", "version": 1})
    second.refresh_from_db()
    assert second.state == "rejected"
    assert ApprovalDecision.objects.get(request=second).comment == "价格太低"


def test_subtree_scoped_approver_covers_child_departments(calls):
    head = Department.objects.create(name="销售中心", code="sales-hq")
    Department.objects.filter(pk=head.pk).update(path=f"/{head.pk}/")
    branch = Department.objects.create(name="上海分部", code="sh", parent=head)
    Department.objects.filter(pk=branch.pk).update(path=f"/{head.pk}/{branch.pk}/")
    other = Department.objects.create(name="财务部", code="fin")
    Department.objects.filter(pk=other.pk).update(path=f"/{other.pk}/")
    head.refresh_from_db(), branch.refresh_from_db(), other.refresh_from_db()
    director = user("director", "sales_director", department=head, scope="subtree")
    stranger = user("fin-director", "sales_director", department=other, scope="subtree")
    requester = user("sh-sales", "sales", department=branch)
    request = approvals.start("test.discount", ("x", 1), requester, [{"role": "sales_director", "label": "销售总监"}], SOURCE)
    assert list(Notification.objects.filter(category="approval").values_list("user__username", flat=True)) == ["director"]
    assert list(approvals.pending_for(director)) == [request]
    assert list(approvals.pending_for(stranger)) == []
