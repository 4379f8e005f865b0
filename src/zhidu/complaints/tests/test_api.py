import datetime as dt
import threading

import pytest
from django.db import connection
from django.test import Client

from zhidu.complaints import services
from zhidu.complaints.models import Complaint, ComplaintEvent, Status
from zhidu.org.tokens import token_create

from .flow import local, register, v

pytestmark = pytest.mark.django_db
URL = "/api/v1/complaints"


class Api:
    def __init__(self, user=None):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"} if user else {}

    def get(self, path="", **params):
        return self.client.get(URL + path, params, **self.headers)

    def post(self, path="", body=None, **headers):
        return self.client.post(URL + path, body, content_type="application/json", **self.headers, **headers)


def error(response, status, code=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"code", "message", "details"}
    if code:
        assert body["code"] == code
    return body


BODY = {"complainant_name": "李女士", "complainant_phone": "13900001111", "subject": "送货延误", "content": "说好周三送到", "channel": "phone",
        "category": "quality"}


def test_create_returns_iso_due_times_from_the_pack_and_honours_idempotency_key(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s16-distillery")
    api = Api(cx.agent)
    response = api.post("", BODY, HTTP_IDEMPOTENCY_KEY="k-1")
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["status"] == "registered" and body["id"] and body["access_code"]
    assert dt.datetime.fromisoformat(body["first_response_due"]) == local("2026-10-01T10:00")
    assert dt.datetime.fromisoformat(body["resolution_due"]) == local("2026-10-10T10:00")
    assert body["complainant_phone"] == "139****1111"
    again = api.post("", BODY, HTTP_IDEMPOTENCY_KEY="k-1")
    assert again.status_code == 201 and again.json()["id"] == body["id"]
    assert Complaint.objects.count() == 1


def test_bad_input_is_422_and_nothing_is_written(cx):
    body = error(Api(cx.agent).post("", {**BODY, "channel": "fax"}), 422, "invalid_input")
    assert "channel" in body["details"]["fields"]
    error(Api(cx.agent).post("", {**BODY, "subject": ""}), 422)
    assert not Complaint.objects.exists()


def test_two_people_acting_at_once_one_wins_the_other_gets_409(cx):
    c = register(cx.agent, channel="phone")
    first = Api(cx.qm).post(f"/{c.pk}/decide", {"version": c.version, "valid": True})
    second = Api(cx.qm2).post(f"/{c.pk}/decide", {"version": c.version, "valid": False, "reply_text": "不成立"})
    assert first.status_code == 200, first.content
    error(second, 409, "conflict")
    c.refresh_from_db()
    assert c.status == Status.ACCEPTED and c.validity == "valid"
    assert list(c.events.values_list("kind", flat=True)) == ["registered", "decided_valid"]


def test_invalid_transition_is_refused_and_changes_nothing(cx):
    c = register(cx.agent, channel="phone")
    api = Api(cx.qm)
    for path, body in (("/carry-out", {"note": "x"}), ("/close", {"summary": "x"}), ("/inform", {"message": "x"}),
                       ("/return-visit", {"satisfied": True}), ("/reopen", {"reason": "x"}), ("/resume", {})):
        error(api.post(f"/{c.pk}{path}", {"version": c.version, **body}), 409)
    fresh = Complaint.objects.get(pk=c.pk)
    assert (fresh.status, fresh.version) == (Status.REGISTERED, c.version)
    assert ComplaintEvent.objects.filter(complaint=c).count() == 1
    # No permission: a service agent cannot decide validity.
    error(Api(cx.agent).post(f"/{c.pk}/decide", {"version": c.version, "valid": True}), 403)
    # The person complained about cannot act on the case.
    d = register(cx.agent, channel="phone", subject_staff=cx.qm2.pk)
    error(Api(cx.qm2).post(f"/{d.pk}/decide", {"version": d.version, "valid": True}), 403, "subject_staff")


def test_whole_workflow_over_the_api(cx):
    api, qm = Api(cx.agent), Api(cx.qm)
    c = api.post("", {**BODY, "category": "product"}).json()
    c = qm.post(f"/{c['id']}/decide", {"version": c["version"], "valid": True}).json()
    assert "assign" in c["actions"]
    c = qm.post(f"/{c['id']}/assign", {"version": c["version"], "department": cx.org.dept_a.pk, "owner": cx.agent.pk}).json()
    c = api.post(f"/{c['id']}/investigate", {"version": c["version"], "cause": "物流延误"}).json()
    c = api.post(f"/{c['id']}/remedy", {"version": c["version"], "description": "补偿优惠券", "compensation": "50.00"}).json()
    approval = c["remedies"][0]["approval"]
    assert c["status"] == "plan_pending" and c["remedies"][0]["current_role"] == "dept_manager"
    decided = Api(cx.org.manager_a).post(f"/approvals/{approval}/decide", {"approve": True, "comment": "同意"})
    assert decided.status_code == 200 and decided.json()["state"] == "approved"
    c = api.get(f"/{c['id']}").json()
    assert c["status"] == "plan_approved"
    c = api.post(f"/{c['id']}/carry-out", {"version": c["version"], "note": "已发券"}).json()
    c = api.post(f"/{c['id']}/inform", {"version": c["version"], "message": "已处理"}).json()
    c = api.post(f"/{c['id']}/return-visit", {"version": c["version"], "satisfied": True}).json()
    c = qm.post(f"/{c['id']}/close", {"version": c["version"], "summary": "总结"}).json()
    assert c["status"] == "closed" and [d["state"] for d in c["deadlines"]] == ["met", "met"]
    assert [e["kind"] for e in c["events"]][-1] == "closed"


def test_list_filters_overdue_scope_and_cursor(cx, pack, at):
    at("2026-09-30T10:00")
    pack("s23-logistics")
    late = register(cx.agent, channel="phone")
    at("2026-09-30T10:25")
    on_time = register(cx.agent, channel="chat")
    other = register(cx.agent_b, channel="phone")
    at("2026-09-30T10:40")
    qm = Api(cx.qm)
    assert [r["id"] for r in qm.get("", overdue="true").json()["items"]] == [late.pk]
    assert qm.get("", overdue="true").json()["items"][0]["overdue"] is True
    assert [r["id"] for r in qm.get("", overdue="true", channel="phone", department=cx.org.dept_a.pk).json()["items"]] == [late.pk]
    # A department-scoped agent sees the cases of their own department only.
    assert {r["id"] for r in Api(cx.agent_b).get("").json()["items"]} == {other.pk}
    page = qm.get("", limit=2).json()
    assert [r["id"] for r in page["items"]] == [other.pk, on_time.pk] and page["next_cursor"] == on_time.pk
    assert [r["id"] for r in qm.get("", limit=2, cursor=page["next_cursor"]).json()["items"]] == [late.pk]
    error(Api(cx.org.auditor).get(""), 403)


def test_public_tracking_needs_the_phone_or_code_and_is_rate_limited(cx):
    c = register(cx.agent, channel="phone", complainant_phone="139-0000-2222")
    anonymous = Api()
    error(anonymous.get("/track", no=c.tracking_no, code="wrong"), 404)
    found = anonymous.get("/track", no=c.tracking_no.lower(), code="13900002222")
    assert found.status_code == 200 and found.json()["status"] == "registered"
    assert set(found.json()) >= {"tracking_no", "status_label", "first_response_due", "events"}
    assert "complainant_phone" not in found.json()
    assert anonymous.get("/track", no=c.tracking_no, code=c.access_code).status_code == 200
    for _i in range(20):
        last = anonymous.get("/track", no=c.tracking_no, code=c.access_code)
    error(last, 429, "rate_limited")


def test_the_api_does_not_widen_the_public_pages_submission_limit(cx, settings):
    from django.urls import reverse

    settings.ZHIDU_COMPLAINTS_PUBLIC_LIMITS = {"submit": 2}
    body = {"complainant_name": "赵", "complainant_phone": "13700001234", "subject": "s", "content": "c"}
    assert [Api().post("/public", body).status_code for _i in range(2)] == [201, 201]
    error(Api().post("/public", body), 429, "rate_limited")
    page = Client().post(reverse("complaints_public:submit"), {**body, "website": ""})
    assert page.status_code == 429 and Complaint.objects.count() == 2


def test_guessing_phones_through_the_api_is_stopped_per_tracking_number(cx, settings):
    settings.ZHIDU_COMPLAINTS_PUBLIC_LIMITS = {"lookup_failed": 3}
    c = register(cx.agent, channel="phone", complainant_phone="139-0000-2222")
    for n in range(3):
        error(Api().get("/track", no=c.tracking_no.lower(), code=f"1300000000{n}"), 404)
    # The right phone from a fresh address is refused for this number too, and nothing is shown.
    other = Client(raise_request_exception=False, REMOTE_ADDR="10.0.0.7")
    refused = other.get(URL + "/track", {"no": c.tracking_no, "code": "13900002222"})
    body = error(refused, 429, "rate_limited")
    assert c.tracking_no not in refused.content.decode() and "status" not in body["details"]
    # Another case is not affected.
    d = register(cx.agent, channel="phone", complainant_phone="139-0000-3333")
    assert other.get(URL + "/track", {"no": d.tracking_no, "code": "13900003333"}).status_code == 200


def test_a_linked_customer_is_named_only_to_viewers_who_may_read_its_file(cx, make_customer):
    from zhidu.kernel.access import SecretLevel

    secret = make_customer(user=cx.org.sales_a, name="机密客户甲", secret_level=SecretLevel.SECRET)
    public = make_customer(user=cx.org.sales_a, name="普通客户乙")
    hidden = register(cx.qm, channel="phone", customer=secret.pk, department=cx.org.dept_a.pk)
    shown = register(cx.qm, channel="phone", customer=public.pk, department=cx.org.dept_a.pk)

    agent = Api(cx.agent)  # sees the cases of dept_a, but is not cleared for the secret file
    rows = {r["id"]: r for r in agent.get("").json()["items"]}
    assert rows[hidden.pk]["customer"] is None and rows[shown.pk]["customer"] == {"id": public.pk, "name": "普通客户乙"}
    detail = agent.get(f"/{hidden.pk}")
    assert detail.status_code == 200 and detail.json()["customer"] is None and "机密客户甲" not in detail.content.decode()
    assert [r["id"] for r in agent.get("", customer=secret.pk).json()["items"]] == []
    assert [r["id"] for r in agent.get("", customer=public.pk).json()["items"]] == [shown.pk]

    qm = Api(cx.qm)
    assert qm.get(f"/{hidden.pk}").json()["customer"] == {"id": secret.pk, "name": "机密客户甲"}
    assert [r["id"] for r in qm.get("", customer=secret.pk).json()["items"]] == [hidden.pk]


def test_public_submission_without_login(cx):
    response = Api().post("/public", {"complainant_name": "赵", "complainant_phone": "13700001234", "subject": "s", "content": "c"})
    assert response.status_code == 201, response.content
    body = response.json()
    c = Complaint.objects.get(tracking_no=body["tracking_no"])
    assert c.channel == "online" and c.receiver is None and body["access_code"] == c.access_code


def test_my_penalties_endpoint(cx, pack):
    pack("s02-quality-service")
    c = register(cx.agent, channel="phone")
    services.complaint_decide(cx.qm, c.pk, True, expected_version=v(c))
    services.complaint_assign(cx.qm, c.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, expected_version=v(c))
    services.complaint_investigate(cx.agent, c.pk, cause="x", responsible_user=cx.agent2.pk, penalty_amount=300, expected_version=v(c))
    penalty = Complaint.objects.get(pk=c.pk).penalties.get()
    error(Api(cx.agent2).post(f"/approvals/{penalty.approval_id}/decide", {"approve": True}), 403)
    assert Api(cx.org.gm).post(f"/approvals/{penalty.approval_id}/decide", {"approve": True}).status_code == 200
    items = Api(cx.agent2).get("/penalties/mine").json()["items"]
    assert len(items) == 1 and items[0]["amount"] in ("300.00", 300, "300") and items[0]["state"] == "approved"
    assert "L83" in items[0]["citation"] and items[0]["ledger_entry"]
    assert Api(cx.agent).get("/penalties/mine").json()["items"] == []


@pytest.mark.django_db(transaction=True)
def test_concurrent_threads_one_wins(cx):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL; SQLite serialises writers")
    c = register(cx.agent, channel="phone")
    results = []

    def act(user):
        from django.db import connection as conn

        try:
            services.complaint_decide(user, c.pk, True, expected_version=c.version)
            results.append("ok")
        except Exception as exc:  # noqa: BLE001 — the test records which error each thread met
            results.append(type(exc).__name__)
        finally:
            conn.close()

    threads = [threading.Thread(target=act, args=(u,)) for u in (cx.qm, cx.qm2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["Conflict", "ok"]
    assert Complaint.objects.get(pk=c.pk).events.filter(kind="decided_valid").count() == 1
