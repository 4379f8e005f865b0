import threading

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.db import connection, connections, transaction
from django.test import RequestFactory

from zhidu.kernel import audit
from zhidu.kernel.models import AuditEntry, AuditImmutable
from zhidu.org.models import Role

pytestmark = pytest.mark.django_db


def make_user(username, permissions=(), **extra):
    role = None
    if permissions is not None:
        role, _created = Role.objects.get_or_create(code=f"r-{username}", defaults={"name": username, "permissions": list(permissions), "data_scope": "all"})
    # No password: hashing one costs seconds and these users log in with force_login.
    return get_user_model().objects.create(username=username, role=role, **extra)


def test_record_chains_entries_and_verify_passes():
    alice = make_user("alice")
    first = audit.record(alice, "customer.created", ("customers.customer", 7), {"name": "华为技术有限公司", "amount": 12})
    second = audit.record(None, "system.sweep")
    assert (first.seq, second.seq) == (1, 2)
    assert first.prev_hash == audit.GENESIS_HASH
    assert second.prev_hash == first.hash
    assert first.actor_id == alice.pk and first.actor_username == "alice"
    assert (first.target_type, first.target_id) == ("customers.customer", "7")
    result = audit.verify()
    assert result == (True, None, "")
    assert result.checked == 2


def test_record_takes_actor_and_ip_from_request():
    bob = make_user("bob")
    request = RequestFactory().get("/", REMOTE_ADDR="10.1.2.3")
    request.user = bob
    entry = audit.record(None, "customer.viewed_confidential", bob, request=request)
    assert entry.ip == "10.1.2.3"
    assert entry.actor_username == "bob"
    assert (entry.target_type, entry.target_id) == ("org.user", str(bob.pk))


def test_record_many_writes_one_chain():
    carol = make_user("carol")
    audit.record(carol, "before")
    written = audit.record_many(carol, "customer.imported", [{"target": ("customers.customer", i), "details": {"row": i}} for i in range(1, 2501)])
    audit.record(carol, "after")
    assert written == 2500
    assert AuditEntry.objects.count() == 2502
    assert list(AuditEntry.objects.order_by("-seq").values_list("seq", flat=True)[:2]) == [2502, 2501]
    assert audit.verify().ok


def test_orm_refuses_to_change_or_remove_entries():
    entry = audit.record(None, "x")
    entry.action = "y"
    with pytest.raises(AuditImmutable):
        entry.save()
    with pytest.raises(AuditImmutable):
        entry.delete()
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.filter(pk=entry.pk).update(action="y")
    with pytest.raises(AuditImmutable):
        AuditEntry.objects.all().delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "x"


def _raw(sql, params):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_verify_names_an_entry_altered_with_raw_sql(capsys):
    for i in range(5):
        audit.record(None, "customer.edited", ("customers.customer", i), {"i": i})
    victim = AuditEntry.objects.get(seq=3)
    _raw("UPDATE kernel_auditentry SET actor_username = %s WHERE id = %s", ["mallory", victim.pk])
    ok, bad_id, reason = audit.verify()
    assert not ok
    assert bad_id == victim.pk
    assert "3" in reason
    with pytest.raises(CommandError) as excinfo:
        call_command("audit", "verify")
    assert f"id={victim.pk}" in str(excinfo.value)
    assert excinfo.value.returncode == 1


def test_verify_catches_a_row_deleted_with_raw_sql():
    for i in range(5):
        audit.record(None, "customer.edited", ("customers.customer", i))
    removed = AuditEntry.objects.get(seq=2)
    following = AuditEntry.objects.get(seq=3)
    _raw("DELETE FROM kernel_auditentry WHERE id = %s", [removed.pk])
    ok, bad_id, reason = audit.verify()
    assert not ok
    assert bad_id == following.pk


def test_verify_catches_the_last_row_deleted():
    for i in range(3):
        audit.record(None, "customer.edited")
    last = AuditEntry.objects.get(seq=3)
    _raw("DELETE FROM kernel_auditentry WHERE id = %s", [last.pk])
    result = audit.verify()
    assert not result.ok
    assert result.bad_seq == 3


def test_verify_fails_when_the_last_row_and_the_head_are_deleted():
    for i in range(3):
        audit.record(None, "customer.edited", ("customers.customer", i))
    last = AuditEntry.objects.get(seq=3)
    _raw("DELETE FROM kernel_auditentry WHERE id = %s", [last.pk])
    _raw("DELETE FROM kernel_audithead", [])
    result = audit.verify()
    assert not result.ok
    assert result.bad_seq == 3
    # The next append re-creates the head, but it does not vouch for the shortened chain.
    audit.record(None, "customer.edited")
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_entry_id == AuditEntry.objects.get(seq=3).pk


def test_verify_fails_for_a_row_rewritten_with_recomputed_plain_sha256():
    import hashlib

    for i in range(4):
        audit.record(None, "customer.edited", ("customers.customer", i), {"i": i})
    # Someone with SQL access only: rewrite entry 2 and re-chain it and every later entry with SHA-256.
    prev_hash = AuditEntry.objects.get(seq=1).hash
    for entry in AuditEntry.objects.filter(seq__gte=2).order_by("seq"):
        if entry.seq == 2:
            entry.actor_username = "mallory"
        entry.prev_hash = prev_hash
        entry.hash = hashlib.sha256((prev_hash + audit.content_of(entry)).encode("utf-8")).hexdigest()
        _raw(
            "UPDATE kernel_auditentry SET actor_username = %s, prev_hash = %s, hash = %s WHERE id = %s",
            [entry.actor_username, entry.prev_hash, entry.hash, entry.pk],
        )
        prev_hash = entry.hash
    _raw("UPDATE kernel_audithead SET hash = %s", [prev_hash])
    result = audit.verify()
    assert not result.ok
    assert result.first_bad_entry_id == AuditEntry.objects.get(seq=2).pk


def test_chain_depends_on_the_audit_key(settings):
    audit.record(None, "customer.edited")
    assert audit.verify().ok
    settings.ZHIDU_AUDIT_KEY = "another-key"
    assert not audit.verify().ok


def test_verify_command_prints_ok_with_count(capsys):
    audit.record(None, "a")
    audit.record(None, "b")
    call_command("audit", "verify")
    assert "OK: 2 entries" in capsys.readouterr().out


def test_tail_command_prints_newest_entries(capsys):
    dave = make_user("dave")
    for i in range(5):
        audit.record(dave, f"action.{i}", details={"客户": "华为"})
    call_command("audit", "tail", "-n", "2")
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 2
    assert "action.3" in out[0] and "action.4" in out[1]
    assert "dave" in out[1] and "华为" in out[1]


def test_audit_page_is_for_auditors_only(client):
    auditor = make_user("auditor", ["audit.view"])
    clerk = make_user("clerk", ["customers.view"])
    audit.record(clerk, "customer.exported", ("customers.customer", 1), {"rows": 10})
    client.force_login(clerk)
    assert client.get("/kernel/audit/").status_code == 403
    client.force_login(auditor)
    assert client.post("/kernel/audit/").status_code == 405  # the page only reads
    page = client.get("/kernel/audit/")
    assert page.status_code == 200
    assert "customer.exported" in page.content.decode()
    assert client.get("/kernel/audit/?action=customer.imp").content.decode().count("customer.exported") == 0


def test_audit_api_lists_for_auditors_and_refuses_others(client):
    auditor = make_user("auditor2", ["audit.view"])
    clerk = make_user("clerk2", ["customers.view"])
    for i in range(3):
        audit.record(clerk, "customer.edited", ("customers.customer", i))
    client.force_login(clerk)
    refused = client.get("/api/v1/kernel/audit")
    assert refused.status_code == 403
    assert refused.json()["code"] == "forbidden"
    client.force_login(auditor)
    page = client.get("/api/v1/kernel/audit?limit=2")
    assert page.status_code == 200
    data = page.json()
    assert [e["seq"] for e in data["items"]] == [3, 2]
    older = client.get(f"/api/v1/kernel/audit?limit=2&before={data['next_before']}").json()
    assert [e["seq"] for e in older["items"]] == [1]


@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_unbroken_chain():
    errors = []

    def writer(n):
        try:
            for i in range(10):
                with transaction.atomic():
                    audit.record(None, "concurrent", details={"writer": n, "i": i})
        except Exception as exc:  # surfaced by the assertion below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert AuditEntry.objects.count() == 40
    assert audit.verify().ok
