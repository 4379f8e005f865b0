"""Applying packs, reading parameters with their citations, required parameters, versions."""

import datetime as dt
import textwrap

import pytest
from django.db.models import ProtectedError
from django.utils import timezone

from zhidu.kernel import policy
from zhidu.kernel.errors import Forbidden, Invalid
from zhidu.kernel.models import ApprovalRequest, AuditEntry, PackVersion
from zhidu.org.models import Role, User

REQUIRED_PACK = """
    name: needs-a-number
    title: 原文数值空缺的制度
    implements: [S07]
    extends: base
    parameters:
      customers.access_request.max_days:
        required: true
        source: "002_b1cbc176581d2ce2.txt M5 第19条 L359"
        note: 借阅天数原文空缺
"""


@pytest.fixture
def required_pack(tmp_path):
    path = tmp_path / "needs-a-number.yaml"
    path.write_text(textwrap.dedent(REQUIRED_PACK).lstrip(), encoding="utf-8")
    return path


@pytest.fixture
def pack_admin(db):
    role = Role.objects.create(code="pack_admin", name="制度管理员", permissions=["packs.manage"])
    return User.objects.create_user("packadmin", password="Secret-pass-12345", role=role)


@pytest.fixture
def clerk(db):
    role = Role.objects.create(code="clerk", name="职员", permissions=["customers.view"])
    return User.objects.create_user("clerk", password="Secret-pass-12345", role=role)


@pytest.mark.django_db
def test_without_a_pack_get_returns_the_schema_default():
    assert policy.current_version() is None
    param = policy.get("customers.review_cycle_months")
    assert param == policy.Param("customers.review_cycle_months", 12, "zhidu 默认值 (no pack applied)", None, False)
    assert policy.value("calendar.business_hours") == [["09:00", "12:00"], ["13:00", "18:00"]]


@pytest.mark.django_db
def test_unknown_parameter():
    with pytest.raises(policy.UnknownParameter):
        policy.get("customers.no_such_key")


def test_apply_stores_the_resolved_pack_and_get_cites_the_seed(pack):
    version = pack("s01-prosthetics")
    assert version.name == "s01-prosthetics" and version.implements == ["S01"]
    assert len(version.content_hash) == 64
    assert set(version.parameters) >= {"customers.types", "calendar.business_hours", "org.login.max_failures"}
    param = policy.get("customers.review_cycle_months")
    assert param.value == 6
    assert param.source.startswith("000_097510e39fec2ee7.txt Doc5") and "L303" in param.source
    assert param.version_id == version.pk and param.required is False
    # inherited from base
    assert policy.get("org.login.max_failures").source == "zhidu base"
    assert policy.current_version().pk == version.pk
    assert AuditEntry.objects.filter(action="pack.apply", target_id=str(version.pk)).exists()


def test_values_come_back_as_plain_json(pack):
    pack("s07-customer-service")
    types = policy.value("customers.types")
    assert isinstance(types[0], dict) and types[0]["key"] == "dealer"
    chain = policy.value("customers.access_request.chain")
    assert chain == [{"role": "dept_manager", "label": "部门经理签字"}, {"role": "archivist", "label": "客服部审核批准"}]


def test_later_pack_replaces_earlier(pack):
    pack("s01-prosthetics")
    second = pack("s07-customer-service")
    assert policy.current_version().pk == second.pk
    assert policy.value("customers.review_cycle_months") == 3


def test_a_version_effective_later_does_not_change_now(pack):
    now_version = pack("s01-prosthetics")
    future = pack("s07-customer-service", effective_from=timezone.now() + dt.timedelta(days=30))
    assert policy.current_version().pk == now_version.pk
    assert policy.value("customers.review_cycle_months") == 6
    # once its date arrives it is in force
    PackVersion.objects.filter(pk=future.pk).update(effective_from=timezone.now())
    policy.clear_cache()
    assert policy.current_version().pk == future.pk
    assert policy.value("customers.review_cycle_months") == 3


def test_effective_from_accepts_a_date(pack):
    version = pack("s01-prosthetics", effective_from=dt.date(2020, 1, 1))
    assert timezone.localtime(version.effective_from).date() == dt.date(2020, 1, 1)
    assert policy.current_version().pk == version.pk


def test_past_decisions_keep_the_version_they_were_made_under(pack, clerk):
    first = pack("s07-customer-service")
    chain = policy.get("customers.access_request.chain")
    decision = ApprovalRequest.objects.create(
        kind="test.access",
        target_type="customers.customer",
        target_id="1",
        title="查阅",
        chain=chain.value,
        chain_source=chain.source,
        requested_by=clerk,
        pack_version_id=chain.version_id,
    )
    pack("s01-prosthetics")
    decision.refresh_from_db()
    assert decision.pack_version_id == first.pk != policy.current_version().pk
    assert decision.pack_version.parameters["customers.access_request.chain"]["value"] == decision.chain
    with pytest.raises(ProtectedError):
        first.delete()


def test_key_not_stated_by_the_pack_falls_back_to_default(pack, tmp_path):
    path = tmp_path / "small.yaml"
    path.write_text("name: small\ntitle: 小\nparameters:\n  customers.review_cycle_months: {value: 2, source: s L1}\n", encoding="utf-8")
    version = pack(path)
    param = policy.get("customers.access_request.max_days")
    assert param.value == 7 and param.source.startswith("zhidu 默认值") and param.version_id == version.pk


def test_required_parameter_missing_until_set(pack, required_pack, pack_admin):
    version = pack(required_pack)
    assert version.unset_required() == ["customers.access_request.max_days"]
    with pytest.raises(policy.ParameterMissing) as caught:
        policy.value("customers.access_request.max_days")
    assert "customers.access_request.max_days" in str(caught.value)
    assert "制度包" in str(caught.value)
    assert caught.value.status == 409 and caught.value.details["source"].endswith("L359")

    newer = policy.parameter_set("customers.access_request.max_days", "5", pack_admin, as_text=True)
    assert newer.pk != version.pk and newer.based_on_id == version.pk
    param = policy.get("customers.access_request.max_days")
    assert param.value == 5 and param.required is True and param.version_id == newer.pk
    today = timezone.localdate().isoformat()
    assert param.source == f"set by packadmin on {today}; seed: 002_b1cbc176581d2ce2.txt M5 第19条 L359"
    # the version the pack was applied as is unchanged
    version.refresh_from_db()
    assert version.parameters["customers.access_request.max_days"]["value"] is None
    audit = AuditEntry.objects.get(action="pack.parameter_set")
    assert audit.target_id == str(newer.pk) and audit.details["key"] == "customers.access_request.max_days"

    # setting it again keeps citing the seed, not the previous setting
    policy.parameter_set("customers.access_request.max_days", 4, pack_admin)
    assert policy.get("customers.access_request.max_days").source.endswith("seed: 002_b1cbc176581d2ce2.txt M5 第19条 L359")


def test_set_values_survive_reapplying_the_same_pack(pack, required_pack, pack_admin):
    pack(required_pack)
    policy.parameter_set("customers.access_request.max_days", 5, pack_admin)
    pack(required_pack)
    assert policy.value("customers.access_request.max_days") == 5


def test_parameter_set_rules(pack, required_pack, pack_admin, clerk):
    pack(required_pack)
    with pytest.raises(Forbidden):
        policy.parameter_set("customers.access_request.max_days", 5, clerk)
    with pytest.raises(Invalid):
        policy.parameter_set("customers.access_request.max_days", "five", pack_admin, as_text=True)
    with pytest.raises(Invalid):
        policy.parameter_set("customers.access_request.max_days", 0, pack_admin)  # below the schema's minimum
    with pytest.raises(Invalid):  # only parameters the pack leaves to be set
        policy.parameter_set("customers.review_cycle_months", 5, pack_admin)
    with pytest.raises(policy.ParameterMissing):
        policy.value("customers.access_request.max_days")


def test_apply_if_changed_does_not_repeat(pack):
    first = pack("s01-prosthetics")
    again = policy.apply("s01-prosthetics", if_changed=True)
    assert again.pk == first.pk
    other = policy.apply("s07-customer-service", if_changed=True)
    assert other.pk != first.pk


def test_cache_notices_versions_written_elsewhere(pack):
    first = pack("s01-prosthetics")
    assert policy.value("customers.review_cycle_months") == 6
    # a row written by another process: this process sees it after its next check
    PackVersion.objects.create(
        name="other",
        title="其他",
        parameters={"customers.review_cycle_months": {"value": 2, "source": "x L1", "required": False}},
        content_hash="0" * 64,
        effective_from=timezone.now(),
        based_on=first,
    )
    policy.cache._state["checked_at"] -= policy.cache.CHECK_INTERVAL
    assert policy.value("customers.review_cycle_months") == 2


def test_apply_rejects_a_bad_pack_and_writes_nothing(tmp_path, db):
    path = tmp_path / "bad.yaml"
    path.write_text("name: bad\ntitle: t\nparameters:\n  customers.nope: {value: 1, source: s}\n", encoding="utf-8")
    with pytest.raises(policy.PackError) as caught:
        policy.apply(path)
    assert "bad.yaml:4: customers.nope" in str(caught.value)
    assert not PackVersion.objects.exists()


def test_reads_within_a_second_do_not_query(pack, django_assert_num_queries):
    pack("s01-prosthetics")
    policy.value("customers.review_cycle_months")  # loads the current version
    with django_assert_num_queries(0):
        for _ in range(100):
            policy.value("customers.review_cycle_months")
            policy.get("customers.types")
    policy.cache._state["checked_at"] -= policy.cache.CHECK_INTERVAL
    with django_assert_num_queries(1):  # the version did not change: only the id is asked for
        policy.value("customers.review_cycle_months")
