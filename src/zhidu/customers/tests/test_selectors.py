import pytest

from zhidu.customers import selectors
from zhidu.kernel.access import SecretLevel
from zhidu.kernel.errors import NotFound
from zhidu.kernel.models import AuditEntry

pytestmark = pytest.mark.django_db


@pytest.fixture
def files(org, make_customer):
    return {
        "a_own": make_customer(user=org.sales_a, name="北京德奥假肢有限公司", contacts=[{"name": "王经理", "phone": "13812345678"}]),
        "a_secret": make_customer(user=org.sales_a, name="秘密客户", secret_level=SecretLevel.SECRET, customer_type="individual", id_number="11010519491231002X"),
        "a2": make_customer(user=org.sales_a2, name="重庆银行"),
        "a1": make_customer(user=org.sales_a1, name="一组客户"),
        "b": make_customer(user=org.sales_b, name="二部客户", contacts=[{"name": "赵", "phone": "010-66668888"}]),
        "confidential": make_customer(user=org.gm, name="机密客户", secret_level=SecretLevel.CONFIDENTIAL),
        "top": make_customer(user=org.gm, name="绝密客户", secret_level=SecretLevel.TOP_SECRET),
    }


def visible(user, files):
    ids = set(selectors.customers_visible(user).values_list("pk", flat=True))
    return {key for key, customer in files.items() if customer.pk in ids}


@pytest.mark.parametrize(
    "role_user, expected",
    [
        ("sales_a", {"a_own", "a_secret"}),
        ("sales_b", {"b"}),
        ("supervisor_a", {"a_own", "a_secret", "a2"}),
        ("manager_a", {"a_own", "a_secret", "a2", "a1"}),
        ("manager_b", {"b"}),
        ("gm", {"a_own", "a_secret", "a2", "a1", "b", "confidential", "top"}),
        ("sysadmin", {"a_own", "a2", "a1", "b"}),
        ("secadmin", set()),
        ("auditor", set()),
    ],
)
def test_each_role_sees_its_scope_and_clearance(org, files, role_user, expected):
    user = getattr(org, role_user)
    assert visible(user, files) == expected
    listed = {key for key, c in files.items() if c.pk in {row.pk for row in selectors.customer_list(user, limit=200).items}}
    assert listed == expected
    for key, customer in files.items():
        if key not in expected:
            with pytest.raises(NotFound):
                selectors.customer_get(user, customer.pk)


def test_clearance_below_file_level_hides_it_even_in_scope(org, files):
    org.manager_a.clearance = SecretLevel.PUBLIC
    org.manager_a.save()
    assert "a_secret" not in visible(org.manager_a, files)


def test_disabled_user_sees_nothing(org, files):
    org.gm.is_active = False
    org.gm.save()
    assert visible(org.gm, files) == set()


def test_keyset_pagination(org, files):
    first = selectors.customer_list(org.gm, limit=3)
    assert [c.pk for c in first.items] == sorted((c.pk for c in files.values()), reverse=True)[:3]
    assert first.next_cursor == first.items[-1].pk
    second = selectors.customer_list(org.gm, after=first.next_cursor, limit=3)
    third = selectors.customer_list(org.gm, after=second.next_cursor, limit=3)
    assert len(third.items) == 1 and third.next_cursor is None
    seen = [c.pk for page in (first, second, third) for c in page.items]
    assert sorted(seen) == sorted(c.pk for c in files.values())


@pytest.mark.parametrize(
    "q, expected",
    [
        ("德奥", {"a_own"}),  # name substring
        ("beijingdeao", {"a_own"}),  # pinyin prefix
        ("BJDA", {"a_own"}),  # initials prefix, any case
        ("cqyh", {"a2"}),
        ("chongqing", {"a2"}),
        ("5678", {"a_own"}),  # phone suffix
        ("6666-8888", {"b"}),
        ("123", set()),  # too short for a phone suffix
    ],
)
def test_search(org, files, q, expected):
    rows = selectors.customer_list(org.gm, q=q).items
    assert {key for key, c in files.items() if c.pk in {r.pk for r in rows}} == expected


def test_search_by_code(org, files):
    code = files["a2"].code
    assert [c.pk for c in selectors.customer_list(org.gm, q=code).items] == [files["a2"].pk]
    assert files["a2"].pk in [c.pk for c in selectors.customer_list(org.gm, q=code[:4].lower()).items]


def test_search_stays_in_scope(org, files):
    assert selectors.customer_list(org.sales_a, q="cqyh").items == []


def test_filters(org, files):
    assert {c.pk for c in selectors.customer_list(org.gm, filters={"department": org.dept_a.pk}).items} == {
        files[k].pk for k in ("a_own", "a_secret", "a2", "a1")
    }
    assert [c.pk for c in selectors.customer_list(org.gm, filters={"owner": org.sales_b.pk}).items] == [files["b"].pk]
    assert [c.pk for c in selectors.customer_list(org.gm, filters={"customer_type": "individual"}).items] == [files["a_secret"].pk]
    assert selectors.customer_list(org.gm, filters={"status": "active"}).items == []
    assert selectors.customer_list(org.gm, filters={"owner": "nonsense", "department": "x"}).items == []


def test_contacts_masked_unless_role_unmasks(org, files):
    masked = selectors.customer_get(org.sales_a, files["a_own"].pk)
    assert masked.contacts[0]["phone"] == "138****5678"
    assert selectors.customer_get(org.gm, files["a_own"].pk).contacts[0]["phone"] == "13812345678"
    detail = selectors.customer_get(org.sales_a, files["a_secret"].pk)
    assert detail.id_number == "110***********002X"


def test_confidential_read_is_audited(org, files):
    selectors.customer_get(org.sales_a, files["a_own"].pk)
    assert not AuditEntry.objects.filter(action="customer.read_confidential").exists()
    selectors.customer_get(org.sales_a, files["a_secret"].pk)
    entry = AuditEntry.objects.get(action="customer.read_confidential")
    assert entry.actor_id == org.sales_a.pk and entry.target_id == str(files["a_secret"].pk)


def test_documents_above_clearance_hidden(org, files):
    from django.core.files.base import ContentFile

    from zhidu.customers import services

    services.document_add(org.gm, files["a_own"].pk, "普通", ContentFile(b"x", name="a.txt"))
    services.document_add(org.gm, files["a_own"].pk, "机密合同", ContentFile(b"x", name="b.txt"), secret_level=SecretLevel.CONFIDENTIAL)
    assert [d.title for d in selectors.customer_get(org.sales_a, files["a_own"].pk).documents] == ["普通"]
    assert {d.title for d in selectors.customer_get(org.gm, files["a_own"].pk).documents} == {"普通", "机密合同"}


def test_timeline(org, files):
    page = selectors.customer_timeline(org.sales_a, files["a_own"].pk)
    assert [e.kind for e in page.items] == ["created"]
    with pytest.raises(NotFound):
        selectors.customer_timeline(org.sales_b, files["a_own"].pk)


def test_counts_scoped(org, files):
    counts = selectors.customer_counts(org.supervisor_a)
    assert counts["by_status"] == [{"status": "prospect", "count": 3}]
    assert {row["customer_type"]: row["count"] for row in counts["by_type"]} == {"household": 2, "individual": 1}
    assert counts["by_department"] == [{"department_id": org.dept_a.pk, "department__name": "销售一部", "count": 3}]
    assert selectors.customer_counts(org.auditor) == {"by_status": [], "by_type": [], "by_department": []}


def test_classified_document_title_not_in_timeline(org, files):
    from django.core.files.base import ContentFile

    from zhidu.customers import services

    services.document_add(org.gm, files["a_own"].pk, "机密报价", ContentFile(b"x", name="b.txt"), secret_level=SecretLevel.CONFIDENTIAL)
    summaries = [e.summary for e in selectors.customer_timeline(org.sales_a, files["a_own"].pk).items]
    assert summaries[0] == "上传文件（机密）"
    assert not any("机密报价" in s for s in summaries)


def test_search_pages_are_the_pages_of_the_whole_or_condition(org, make_customer):
    """The list pages through each search part on its own and merges them; every page must be the
    page of the single OR condition (what the export filters with), in the viewer's scope."""
    from zhidu.customers.models import Customer
    from zhidu.customers.search import search_q

    for n in range(7):
        make_customer(user=org.sales_a, name=f"华康{n}号假肢有限公司", contacts=[{"name": "王", "phone": f"1381234{n:04d}"}])
        make_customer(user=org.sales_a2 if n % 2 else org.sales_b, name=f"德奥{n}康复器具", contacts=[{"name": "李", "phone": f"1399999{n:04d}"}])
    for user in (org.gm, org.supervisor_a, org.sales_a):
        for q in ("华康", "华康3号", "hk", "dea", "0003", "有限公司", "康"):
            expected = list(
                Customer.objects.filter(pk__in=selectors.customers_visible(user)).filter(search_q(q, user)).order_by("-id").values_list("pk", flat=True)
            )
            seen, after = [], None
            while True:
                page = selectors.customer_list(user, q=q, after=after, limit=2)
                seen += [c.pk for c in page.items]
                if page.next_cursor is None:
                    break
                after = page.next_cursor
            assert seen == expected, (user.username, q)


def test_name_search_follows_renames_and_deletes(org, make_customer):
    """The name index (SQLite: FTS5 kept in step by triggers) sees every write: create, rename, delete;
    three or more characters match whatever their case."""
    from zhidu.customers import services
    from zhidu.customers.models import Customer

    customer = make_customer(user=org.gm, name="Alpha康复器具有限公司")
    assert [c.pk for c in selectors.customer_list(org.gm, q="alpha康").items] == [customer.pk]
    assert [c.pk for c in selectors.customer_list(org.gm, q="LPHA").items] == [customer.pk]
    services.customer_update(org.gm, customer.pk, {"name": "Omega医疗器械有限公司"}, expected_version=customer.version)
    assert selectors.customer_list(org.gm, q="alpha康").items == []
    assert [c.pk for c in selectors.customer_list(org.gm, q="omega医疗").items] == [customer.pk]
    Customer.objects.filter(pk=customer.pk).delete()
    assert selectors.customer_list(org.gm, q="omega医疗").items == []
