import datetime as dt

import pytest
from django.utils import timezone

from zhidu.customers import selectors, services
from zhidu.customers.models import AccessRequest, Contact, Customer, Handover, OwnershipTransfer, TimelineEvent
from zhidu.kernel import approvals
from zhidu.kernel.access import SecretLevel
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import AuditEntry

from .conftest import CREDIT_CODES

pytestmark = pytest.mark.django_db


def enterprise(name, credit_code, **extra):
    return {"customer_type": "enterprise", "name": name, "credit_code": credit_code, **extra}


def test_create_generates_code_helpers_timeline_and_audit(org):
    year = timezone.localdate().year
    first = services.customer_create(org.sales_a, enterprise("北京德奥假肢有限公司", CREDIT_CODES[0]), contacts=[{"name": "王经理", "phone": "138-1234-5678"}])
    second = services.customer_create(org.sales_a, enterprise("上海康复器材有限公司", CREDIT_CODES[1]))
    household = services.customer_create(org.sales_a, {"customer_type": "household", "name": "张三家", "address": "1 栋 101"})
    assert first.code == f"QY{year}00001"
    assert second.code == f"QY{year}00002"
    assert household.code == f"ZH{year}00001"
    assert first.owner == org.sales_a and first.department == org.dept_a
    assert first.name_key == "北京德奥假肢"
    assert first.name_initials == "bjdajzyxgs"
    assert first.next_review_on is not None and first.next_review_on > timezone.localdate()
    contact = first.contacts.get()
    assert contact.phone == "13812345678" and contact.phone_reversed == "87654321831" and contact.is_primary
    assert TimelineEvent.objects.filter(customer=first, kind="created").count() == 1
    assert AuditEntry.objects.filter(action="customer.create", target_id=str(first.pk)).count() == 1


def test_create_code_from_pack_pattern(org, monkeypatch):
    from zhidu.kernel import policy

    original = policy.value
    monkeypatch.setattr(policy, "value", lambda key: "C-{prefix}-{seq:03d}" if key == "customers.code_pattern" else original(key))
    customer = services.customer_create(org.sales_a, {"customer_type": "household", "name": "李四家", "address": "x"})
    assert customer.code == "C-ZH-001"


def test_create_invalid_input_writes_nothing(org):
    with pytest.raises(Invalid) as exc:
        services.customer_create(
            org.sales_a, enterprise("", "91110000802100433A"), contacts=[{"name": "", "phone": "12345"}, {"name": "x", "email": "bad"}]
        )
    fields = exc.value.details["fields"]
    assert {"name", "credit_code", "contacts.0.name", "contacts.0.phone", "contacts.1.email"} <= set(fields)
    assert Customer.objects.count() == 0 and AuditEntry.objects.filter(action="customer.create").count() == 0


def test_create_needs_permission(org):
    with pytest.raises(Forbidden):
        services.customer_create(org.auditor, {"customer_type": "household", "name": "x", "address": "y"})


def test_create_secret_level_not_above_own_clearance(org):
    with pytest.raises(Invalid) as exc:
        services.customer_create(org.sales_a, {"customer_type": "household", "name": "x", "address": "y", "secret_level": 2})
    assert "secret_level" in exc.value.details["fields"]


def test_same_credit_code_is_refused_even_when_confirmed(org):
    existing = services.customer_create(org.sales_a, enterprise("甲公司", CREDIT_CODES[0]))
    with pytest.raises(Conflict) as exc:
        services.customer_create(org.sales_b, enterprise("完全不同的名字", CREDIT_CODES[0]), confirm_duplicates=True)
    assert exc.value.code == "duplicate_identifier"
    # sales_b may not read sales_a's file: refused without naming it.
    assert exc.value.details["duplicates"] == [{"id": None, "code": None, "name": None, "reason": "credit_code", "hidden": True}]
    with pytest.raises(Conflict) as exc:
        services.customer_create(org.sales_a, enterprise("完全不同的名字", CREDIT_CODES[0]), confirm_duplicates=True)
    assert exc.value.details["duplicates"] == [{"id": existing.pk, "code": existing.code, "name": "甲公司", "reason": "credit_code"}]
    assert Customer.objects.count() == 1


def test_same_id_number_is_refused(org):
    services.customer_create(org.sales_a, {"customer_type": "individual", "name": "张三", "id_number": "11010519491231002X"})
    with pytest.raises(Conflict) as exc:
        services.customer_create(org.sales_a, {"customer_type": "member", "name": "张叁", "id_number": "11010519491231002x"}, confirm_duplicates=True)
    assert exc.value.details["duplicates"][0]["reason"] == "id_number"


def test_same_phone_needs_confirmation(org):
    existing = services.customer_create(org.sales_a, {"customer_type": "household", "name": "王五家", "address": "x"}, contacts=[{"name": "王五", "phone": "13912345678"}])
    data = {"customer_type": "household", "name": "赵六家", "address": "y"}
    with pytest.raises(Conflict) as exc:
        services.customer_create(org.sales_a, data, contacts=[{"name": "赵六", "phone": "+86 139 1234 5678"}])
    assert exc.value.code == "possible_duplicate"
    assert exc.value.details["duplicates"] == [{"id": existing.pk, "code": existing.code, "name": "王五家", "reason": "phone"}]
    created = services.customer_create(org.sales_a, data, contacts=[{"name": "赵六", "phone": "13912345678"}], confirm_duplicates=True)
    assert created.pk != existing.pk


def test_near_identical_name_needs_confirmation(org):
    existing = services.customer_create(org.sales_a, enterprise("北京德奥假肢矫形康复技术有限公司", CREDIT_CODES[0]))
    with pytest.raises(Conflict) as exc:
        services.customer_create(org.sales_a, enterprise("北京德奥假肢矫形康复技术股份有限公司", CREDIT_CODES[1]))
    assert exc.value.details["duplicates"][0]["id"] == existing.pk
    with pytest.raises(Conflict):
        services.customer_create(org.sales_a, enterprise("北京德奥假肢矫形康复技木有限公司", CREDIT_CODES[1]))
    # A different name is not a duplicate.
    services.customer_create(org.sales_a, enterprise("上海申康医疗器械有限公司", CREDIT_CODES[1]))


def test_update_with_version_and_diff(org, make_customer):
    customer = make_customer(name="张三家")
    updated = services.customer_update(org.sales_a, customer.pk, {"name": "张三之家", "region": "北京"}, expected_version=customer.version)
    assert updated.version == customer.version + 1
    assert updated.name_pinyin == "zhangsanzhijia"
    event = TimelineEvent.objects.filter(customer=customer, kind="updated").get()
    assert event.changes == {"name": ["张三家", "张三之家"], "region": ["", "北京"]}
    assert AuditEntry.objects.filter(action="customer.update", target_id=str(customer.pk)).exists()


def test_update_stale_version_writes_nothing(org, make_customer):
    customer = make_customer(name="张三家")
    services.customer_update(org.sales_a, customer.pk, {"region": "北京"}, expected_version=1)
    with pytest.raises(Conflict) as exc:
        services.customer_update(org.sales_a, customer.pk, {"region": "上海"}, expected_version=1)
    assert exc.value.details["current_version"] == 2
    customer.refresh_from_db()
    assert customer.region == "北京" and customer.version == 2
    assert TimelineEvent.objects.filter(customer=customer, kind="updated").count() == 1


def test_update_rejects_bad_values_and_status(org, make_customer):
    customer = make_customer()
    with pytest.raises(Invalid):
        services.customer_update(org.sales_a, customer.pk, {"name": ""}, expected_version=1)
    with pytest.raises(Invalid):
        services.customer_update(org.sales_a, customer.pk, {"status": "active"}, expected_version=1)
    customer.refresh_from_db()
    assert customer.version == 1


def test_update_outside_scope_is_not_found(org, make_customer):
    customer = make_customer(user=org.sales_a)
    with pytest.raises(NotFound):
        services.customer_update(org.sales_b, customer.pk, {"region": "x"}, expected_version=1)


def test_update_duplicate_credit_code_refused(org):
    services.customer_create(org.sales_a, enterprise("甲公司", CREDIT_CODES[0]))
    other = services.customer_create(org.sales_a, enterprise("乙公司", CREDIT_CODES[1]))
    with pytest.raises(Conflict):
        services.customer_update(org.sales_a, other.pk, {"credit_code": CREDIT_CODES[0]}, expected_version=1)


def test_status_transitions(org, make_customer):
    customer = make_customer()
    with pytest.raises(Conflict):
        services.customer_set_status(org.sales_a, customer.pk, "active", "跳过准入")
    with pytest.raises(Invalid):
        services.customer_set_status(org.sales_a, customer.pk, "admitted", "")
    for status in ("admitted", "active", "suspended", "active", "blacklisted", "terminated"):
        customer = services.customer_set_status(org.sales_a, customer.pk, status, "按制度")
        assert customer.status == status
    with pytest.raises(Conflict):
        services.customer_set_status(org.sales_a, customer.pk, "active", "恢复")
    assert TimelineEvent.objects.filter(customer=customer, kind="status").count() == 6


def test_contacts_add_update_remove(org, make_customer):
    customer = make_customer()
    first = services.contact_add(org.sales_a, customer.pk, {"name": "甲", "phone": "13800000000", "is_primary": True})
    second = services.contact_add(org.sales_a, customer.pk, {"name": "乙", "phone": "010-87654321", "is_primary": True})
    first.refresh_from_db()
    assert not first.is_primary and second.is_primary
    assert second.phone == "01087654321" and second.phone_reversed == "12345678010"
    services.contact_update(org.sales_a, first.pk, {"phone": "13900000000"})
    first.refresh_from_db()
    assert first.phone_reversed == "00000000931"
    with pytest.raises(Invalid):
        services.contact_update(org.sales_a, first.pk, {"phone": "123"})
    services.contact_remove(org.sales_a, first.pk)
    assert list(Contact.objects.filter(customer=customer).values_list("name", flat=True)) == ["乙"]
    with pytest.raises(NotFound):
        services.contact_remove(org.sales_b, second.pk)


def test_document_secret_level(org, make_customer):
    from django.core.files.base import ContentFile

    customer = make_customer()
    document = services.document_add(org.sales_a, customer.pk, "合同", ContentFile(b"x", name="c.txt"), secret_level=SecretLevel.SECRET)
    assert document.secret_level == 1
    with pytest.raises(Invalid):
        services.document_add(org.sales_a, customer.pk, "绝密合同", ContentFile(b"x", name="d.txt"), secret_level=SecretLevel.TOP_SECRET)


def test_transfer(org, make_customer):
    customer = make_customer(user=org.sales_a)
    with pytest.raises(Forbidden):
        services.customer_transfer(org.sales_a, customer.pk, org.sales_a2, "调岗")  # sales lack customers.transfer
    with pytest.raises(Forbidden):
        services.customer_transfer(org.manager_a, customer.pk, org.sales_b, "调岗")  # sales_b is outside manager_a's subtree
    moved = services.customer_transfer(org.manager_a, customer.pk, org.sales_a1, "调岗")
    assert moved.owner == org.sales_a1 and moved.department == org.team_a1
    transfer = OwnershipTransfer.objects.get(customer=customer)
    assert (transfer.from_owner, transfer.to_owner, transfer.from_department, transfer.to_department, transfer.by) == (
        org.sales_a, org.sales_a1, org.dept_a, org.team_a1, org.manager_a
    )
    moved = services.customer_transfer(org.gm, customer.pk, org.sales_b, "跨部门")
    assert moved.department == org.dept_b


def test_handover_one_receiver(org, make_customer):
    customers = [make_customer(user=org.sales_a) for _ in range(3)]
    keep = make_customer(user=org.sales_a2)
    handover = services.customers_handover(org.manager_a, org.sales_a, org.sales_a1, "离职")
    assert handover.customer_count == 3
    assert set(Customer.objects.filter(owner=org.sales_a1).values_list("pk", flat=True)) == {c.pk for c in customers}
    assert set(Customer.objects.filter(owner=org.sales_a1).values_list("department", flat=True)) == {org.team_a1.pk}
    assert OwnershipTransfer.objects.filter(handover=handover).count() == 3
    assert TimelineEvent.objects.filter(kind="transferred", customer__in=customers).count() == 3
    assert set(AuditEntry.objects.filter(action="customer.handover_item").values_list("target_id", flat=True)) == {str(c.pk) for c in customers}
    assert AuditEntry.objects.filter(action="customer.handover", target_id=str(handover.pk)).count() == 1
    keep.refresh_from_db()
    assert keep.owner == org.sales_a2
    assert Customer.objects.filter(pk=customers[0].pk).values_list("version", flat=True).get() == 2


def test_handover_spread_over_several_receivers(org, make_customer):
    customers = [make_customer(user=org.sales_a) for _ in range(6)]
    handover = services.customers_handover(org.gm, org.sales_a, [org.sales_a2, org.sales_b], "离职")
    owners = dict(Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id"))
    receivers = [org.sales_a2.pk, org.sales_b.pk]
    assert all(owners[pk] == receivers[pk % 2] for pk in owners)
    for transfer in OwnershipTransfer.objects.filter(handover=handover):
        assert transfer.to_owner_id == owners[transfer.customer_id]
        customer = Customer.objects.get(pk=transfer.customer_id)
        assert customer.department_id == transfer.to_department_id
    assert Handover.objects.get().customer_count == 6


def test_handover_checks(org, make_customer):
    make_customer(user=org.sales_a)
    with pytest.raises(Forbidden):
        services.customers_handover(org.sales_a, org.sales_a, org.sales_a2, "x")
    with pytest.raises(Invalid):
        services.customers_handover(org.manager_a, org.sales_a, [org.sales_a], "x")
    with pytest.raises(Invalid):
        services.customers_handover(org.manager_a, org.sales_a, org.sales_a2, "")
    with pytest.raises(Forbidden):
        services.customers_handover(org.manager_a, org.sales_a, org.sales_b, "x")


def test_access_request_approved_grant_expires(org, make_customer):
    customer = make_customer(user=org.sales_b)
    with pytest.raises(NotFound):
        selectors.customer_get(org.sales_a, customer.pk)
    with pytest.raises(Invalid):
        services.access_request_create(org.sales_a, customer.pk, "核对账目", 30, code=customer.code)  # above max_days (7)
    request = services.access_request_create(org.sales_a, customer.pk, "核对账目", 3, code=customer.code)
    assert request.approval.chain == [{"role": "dept_manager", "label": "部门经理"}]
    with pytest.raises(Conflict):
        services.access_request_create(org.sales_a, customer.pk, "再次申请", 3, code=customer.code)
    approvals.decide(request.approval_id, org.manager_a, True)
    request.refresh_from_db()
    assert request.state == "approved"
    assert request.granted_until - timezone.now() > dt.timedelta(days=2, hours=23)
    detail = selectors.customer_get(org.sales_a, customer.pk)
    assert detail.via_grant
    assert AuditEntry.objects.filter(action="customer.read_confidential", actor_id=org.sales_a.pk).exists()
    # A read grant does not allow writing.
    with pytest.raises(NotFound):
        services.customer_update(org.sales_a, customer.pk, {"region": "x"}, expected_version=1)
    AccessRequest.objects.filter(pk=request.pk).update(granted_until=timezone.now() - dt.timedelta(seconds=1))
    with pytest.raises(NotFound):
        selectors.customer_get(org.sales_a, customer.pk)
    assert services.access_grants_expire() == 1


def test_access_request_rejected(org, make_customer):
    customer = make_customer(user=org.gm, secret_level=SecretLevel.CONFIDENTIAL)
    request = services.access_request_create(org.supervisor_a, customer.pk, "了解情况", 1, code=customer.code)
    approvals.decide(request.approval_id, org.manager_a, False, "不需要")
    request.refresh_from_db()
    assert request.state == "rejected" and request.granted_until is None
    with pytest.raises(NotFound):
        selectors.customer_get(org.supervisor_a, customer.pk)


def test_access_request_not_needed_for_visible_file(org, make_customer):
    customer = make_customer(user=org.sales_a)
    with pytest.raises(Invalid):
        services.access_request_create(org.sales_a, customer.pk, "x", 1, code=customer.code)


@pytest.mark.django_db(transaction=True)
def test_concurrent_creates_get_distinct_consecutive_codes(org):
    import threading

    from django.db import connection, connections

    if connection.vendor == "sqlite" and connection.settings_dict["NAME"].startswith("file:memorydb"):
        pytest.skip("an in-memory SQLite database is not shared between threads")
    errors = []

    def work(index):
        try:
            for n in range(3):
                services.customer_create(org.sales_a, {"customer_type": "household", "name": f"并发客户{index}-{n}", "address": "x"}, confirm_duplicates=True)
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    codes = sorted(Customer.objects.values_list("code", flat=True))
    year = timezone.localdate().year
    assert codes == [f"ZH{year}{n:05d}" for n in range(1, 13)]


def test_pack_types_required_contacts_and_access_days(org, pack):
    pack("s07-customer-service")
    dealer = {"customer_type": "dealer", "name": "华东经销有限公司", "credit_code": CREDIT_CODES[2], "legal_representative": "钱七", "address": "杭州", "secret_level": 1}
    with pytest.raises(Invalid) as exc:
        services.customer_create(org.sales_a, dealer)
    assert list(exc.value.details["fields"]) == ["contacts"]
    customer = services.customer_create(org.sales_a, dealer, contacts=[{"name": "钱七", "phone": "13600000000"}])
    assert customer.code.startswith("JX")
    services.customer_update(org.sales_a, customer.pk, {"region": "浙江"}, expected_version=customer.version)
    with pytest.raises(Invalid):
        services.customer_create(org.sales_a, {"customer_type": "household", "name": "张三家", "address": "x"})  # not a type of this pack
    with pytest.raises(Invalid):
        services.access_request_create(org.sales_b, customer.pk, "核对", 5, code=customer.code)  # the pack allows 3 days
    assert services.access_request_create(org.sales_b, customer.pk, "核对", 3, code=customer.code).days == 3


def test_pack_review_cycle(org, pack):
    pack("s01-prosthetics")
    customer = services.customer_create(org.sales_a, {"customer_type": "medical", "name": "德奥康复医院", "credit_code": CREDIT_CODES[3]})
    today = timezone.localdate()
    assert (customer.next_review_on.year - today.year) * 12 + customer.next_review_on.month - today.month == 6
