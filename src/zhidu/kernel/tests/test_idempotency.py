import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from zhidu.kernel import approvals, idempotency
from zhidu.kernel.models import ApprovalDecision, IdempotencyKey
from zhidu.org.models import Role
from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db

CHAIN = [{"role": "mgr", "label": "经理"}, {"role": "gm", "label": "总经理"}]


@pytest.fixture
def setup():
    approvals.register("test.idem")
    users = {}
    for name, code in [("req", "sales"), ("m1", "mgr"), ("m2", "mgr")]:
        role = Role.objects.get_or_create(code=code, defaults={"name": code, "data_scope": "all"})[0]
        users[name] = get_user_model().objects.create(username=name, role=role)
    yield users
    approvals._registry.pop("test.idem", None)


def post(client, user_token, path, body, key=None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {user_token}"}
    if key:
        headers["HTTP_IDEMPOTENCY_KEY"] = key
    data = body if isinstance(body, str) else json.dumps(body)
    return client.post(path, data, content_type="application/json", **headers)


def test_retry_with_same_key_replays_the_stored_response(client, setup):
    request = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    token = token_create(setup["m1"])
    path = f"/api/v1/kernel/approvals/{request.pk}/decide"
    first = post(client, token, path, {"approve": True, "comment": "同意", "version": 1}, key="k-123")
    assert first.status_code == 200
    # Same body, spelled differently: still the same request.
    again = post(client, token, path, '{"version": 1,  "comment": "同意", "approve": true}', key="k-123")
    assert again.status_code == 200
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert ApprovalDecision.objects.count() == 1
    # Without the key the retry is a second decision attempt and is refused by the version check.
    assert post(client, token, path, {"approve": True, "comment": "同意", "version": 1}).status_code == 409


def test_same_key_with_a_different_body_is_refused(client, setup):
    request = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    token = token_create(setup["m1"])
    path = f"/api/v1/kernel/approvals/{request.pk}/decide"
    assert post(client, token, path, {"approve": True, "version": 1}, key="k-1").status_code == 200
    conflict = post(client, token, path, {"approve": False, "comment": "改主意", "version": 2}, key="k-1")
    assert conflict.status_code == 409
    body = conflict.json()
    assert body["code"] == "idempotency_conflict"
    assert body["details"]["idempotency_key"] == "k-1"
    assert set(body) == {"code", "message", "details"}
    assert ApprovalDecision.objects.count() == 1


def test_keys_belong_to_their_user(client, setup):
    one = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    two = approvals.start("test.idem", ("x", 2), setup["req"], CHAIN, "S01")
    r1 = post(client, token_create(setup["m1"]), f"/api/v1/kernel/approvals/{one.pk}/decide", {"approve": True}, key="shared")
    r2 = post(client, token_create(setup["m2"]), f"/api/v1/kernel/approvals/{two.pk}/decide", {"approve": True}, key="shared")
    assert (r1.status_code, r2.status_code) == (200, 200)
    assert r1.json()["id"] == one.pk and r2.json()["id"] == two.pk
    assert ApprovalDecision.objects.count() == 2


def test_a_failed_request_does_not_use_up_the_key(client, setup):
    request = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    token = token_create(setup["m1"])
    path = f"/api/v1/kernel/approvals/{request.pk}/decide"
    stale = post(client, token, path, {"approve": True, "version": 9}, key="k-9")
    assert stale.status_code == 409 and stale.json()["code"] == "conflict"
    assert not IdempotencyKey.objects.exists()
    fixed = post(client, token, path, {"approve": True, "version": 1}, key="k-9")
    assert fixed.status_code == 200


def test_overlong_key_is_invalid(client, setup):
    request = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    response = post(client, token_create(setup["m1"]), f"/api/v1/kernel/approvals/{request.pk}/decide", {"approve": True}, key="k" * 300)
    assert response.status_code == 422
    assert not ApprovalDecision.objects.exists()


def test_purge_drops_expired_keys(setup):
    old = IdempotencyKey.objects.create(key="old", user=setup["m1"], method="POST", path="/x", request_hash="a" * 64, response_status=201, response_body={})
    IdempotencyKey.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(hours=25))
    IdempotencyKey.objects.create(key="new", user=setup["m1"], method="POST", path="/x", request_hash="b" * 64, response_status=201, response_body={})
    assert idempotency.purge() == 1
    assert list(IdempotencyKey.objects.values_list("key", flat=True)) == ["new"]


def test_a_retry_while_the_first_request_still_runs_is_told_to_wait(client, setup):
    request = approvals.start("test.idem", ("x", 1), setup["req"], CHAIN, "S01")
    path = f"/api/v1/kernel/approvals/{request.pk}/decide"
    body = {"approve": True, "version": 1}
    token = token_create(setup["m1"])
    # What the first request leaves behind while its operation is still running.
    from django.test import RequestFactory

    probe = RequestFactory().post(path, json.dumps(body), content_type="application/json")
    IdempotencyKey.objects.create(key="k-busy", user=setup["m1"], method="POST", path=path, request_hash=idempotency.request_hash(probe))
    busy = post(client, token, path, body, key="k-busy")
    assert busy.status_code == 409 and busy.json()["code"] == "idempotency_in_progress"
    assert not ApprovalDecision.objects.exists()
