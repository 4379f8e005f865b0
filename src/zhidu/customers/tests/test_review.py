"""The archive's review cycle (复核): recording a review moves the next review date by the pack's
cycle, the daily job tells each owner once a day how many of their files are due, and the list, the
API and the detail page expose both."""

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from zhidu.customers import services
from zhidu.customers.models import Customer, TimelineEvent
from zhidu.kernel import jobs, policy
from zhidu.kernel.access import DataScope, SecretLevel
from zhidu.kernel.errors import Conflict, Forbidden, Invalid, NotFound
from zhidu.kernel.models import AuditEntry, Notification
from zhidu.org.tokens import token_create

pytestmark = pytest.mark.django_db

TODAY = dt.date(2026, 11, 30)  # a month end: a 3-month cycle lands on 28 February


@pytest.fixture
def fixed_today(monkeypatch):
    monkeypatch.setattr(timezone, "localdate", lambda *args, **kwargs: TODAY)
    return TODAY


def _set_review(customer, day):
    Customer.objects.filter(pk=customer.pk).update(next_review_on=day)


@pytest.fixture
def viewer(org):
    """A staff member of 销售一部 who may read but not edit customer files."""
    from zhidu.org.models import Role, User

    role = Role.objects.create(code="viewer", name="只读", data_scope=DataScope.OWN, permissions=["customers.view"], max_clearance=SecretLevel.SECRET)
    return User.objects.create(username="viewer_a", display_name="viewer_a", role=role, department=org.dept_a, clearance=SecretLevel.SECRET)


# ---------------------------------------------------------------- service


@pytest.mark.parametrize(
    ("pack_name", "months", "expected"),
    [(None, 12, dt.date(2027, 11, 30)), ("s01-prosthetics", 6, dt.date(2027, 5, 30)), ("s07-customer-service", 3, dt.date(2027, 2, 28))],
)
def test_review_moves_the_date_by_the_packs_cycle_at_that_moment(org, make_customer, pack, fixed_today, pack_name, months, expected):
    customer = make_customer()  # created under the built-in default cycle
    _set_review(customer, TODAY - dt.timedelta(days=3))
    if pack_name:
        pack(pack_name)
    cycle = policy.get("customers.review_cycle_months")
    assert cycle.value == months

    reviewed = services.customer_review_record(org.sales_a, customer.pk, "核对了地址与联系人", expected_version=customer.version)

    assert reviewed.next_review_on == expected
    assert reviewed.version == customer.version + 1
    event = TimelineEvent.objects.filter(customer=customer).order_by("-id").first()
    assert event.kind == TimelineEvent.Kind.REVIEW and event.actor == org.sales_a
    assert event.changes["next_review_on"] == [(TODAY - dt.timedelta(days=3)).isoformat(), expected.isoformat()]
    assert event.changes["note"] == "核对了地址与联系人"
    entry = AuditEntry.objects.filter(action="customer.review").get()
    assert entry.target_id == str(customer.pk) and entry.actor_id == org.sales_a.pk
    assert entry.details["cycle_months"] == months
    assert entry.details["source"] == cycle.source and entry.details["pack_version"] == cycle.version_id
    if pack_name:
        assert "000_097510e39fec2ee7.txt" in entry.details["source"]


def test_a_stale_version_is_refused_and_nothing_is_written(org, make_customer):
    customer = make_customer()
    before = customer.next_review_on
    services.customer_update(org.sales_a, customer.pk, {"region": "北京"}, expected_version=customer.version)

    with pytest.raises(Conflict) as exc:
        services.customer_review_record(org.sales_a, customer.pk, "复核", expected_version=customer.version)

    assert exc.value.code == "stale_version"
    customer.refresh_from_db()
    assert customer.next_review_on == before
    assert not TimelineEvent.objects.filter(customer=customer, kind=TimelineEvent.Kind.REVIEW).exists()
    assert not AuditEntry.objects.filter(action="customer.review").exists()


def test_a_note_is_required(org, make_customer):
    customer = make_customer()
    with pytest.raises(Invalid) as exc:
        services.customer_review_record(org.sales_a, customer.pk, "   ")
    assert "note" in exc.value.details["fields"]


def test_who_may_record_a_review(org, make_customer, viewer):
    customer = make_customer(user=org.sales_a)
    # Outside the scope: the file is not revealed.
    for outsider in (org.sales_b, org.sales_a2, org.manager_b):
        with pytest.raises(NotFound):
            services.customer_review_record(outsider, customer.pk, "复核")
    # An editor whose scope covers the file may.
    services.customer_review_record(org.supervisor_a, customer.pk, "主管复核")
    # Reading the file is not enough for someone who neither owns it nor may edit.
    with pytest.raises(Forbidden):
        services.customer_review_record(org.sysadmin, customer.pk, "复核")
    # The owner may, even without customers.edit.
    own = make_customer(user=org.supervisor_a, owner=viewer.pk)
    services.customer_review_record(viewer, own.pk, "本人复核")
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.REVIEW).count() == 2


# ---------------------------------------------------------------- list filter


def test_review_due_filter_is_scoped_and_includes_today(org, make_customer):
    from zhidu.customers import selectors

    today = timezone.localdate()
    overdue, due_today, later, never = (make_customer() for _ in range(4))
    _set_review(overdue, today - dt.timedelta(days=40))
    _set_review(due_today, today)
    _set_review(later, today + dt.timedelta(days=1))
    _set_review(never, None)
    others = make_customer(user=org.sales_b)
    _set_review(others, today - dt.timedelta(days=1))

    due = selectors.customer_list(org.sales_a, filters={"review_due": "1"}).items
    assert {c.pk for c in due} == {overdue.pk, due_today.pk}
    assert len(selectors.customer_list(org.sales_a, filters={"review_due": ""}).items) == 4
    assert len(selectors.customer_list(org.sales_a, filters={"review_due": "0"}).items) == 4
    assert {c.pk for c in selectors.customer_list(org.manager_a, filters={"review_due": True}).items} == {overdue.pk, due_today.pk}
    assert {c.pk for c in selectors.customer_list(org.gm, filters={"review_due": True}).items} == {overdue.pk, due_today.pk, others.pk}


# ---------------------------------------------------------------- daily job


def _due_notifications():
    return Notification.objects.filter(category=services.REVIEW_DUE_CATEGORY)


def test_the_job_notifies_each_owner_once_a_day_with_the_count(org, make_customer):
    today = timezone.localdate()
    for _ in range(2):
        _set_review(make_customer(user=org.sales_a), today - dt.timedelta(days=5))
    _set_review(make_customer(user=org.sales_a), today + dt.timedelta(days=5))
    _set_review(make_customer(user=org.sales_b), today)
    _set_review(make_customer(user=org.sales_a1), today + dt.timedelta(days=1))

    run = jobs.run("customers.reviews_due", force=True)

    assert run.ok, run.detail
    notes = {n.user_id: n for n in _due_notifications()}
    assert set(notes) == {org.sales_a.pk, org.sales_b.pk}
    assert notes[org.sales_a.pk].title == "2 份客户档案到期待复核"
    assert notes[org.sales_b.pk].title == "1 份客户档案到期待复核"
    assert notes[org.sales_a.pk].link == f"{reverse('customers:list')}?review_due=1&owner={org.sales_a.pk}"

    # Again the same day, even with a newly due file: nobody is told twice.
    _set_review(make_customer(user=org.sales_a), today)
    assert jobs.run("customers.reviews_due", force=True).ok
    assert _due_notifications().count() == 2

    # The next day they are reminded again, with the current count.
    _due_notifications().update(created_at=timezone.now() - dt.timedelta(days=1))
    assert jobs.run("customers.reviews_due", force=True).ok
    latest = {n.user_id: n.title for n in _due_notifications().order_by("id")}
    assert _due_notifications().count() == 4
    assert latest[org.sales_a.pk] == "3 份客户档案到期待复核"


def test_the_job_uses_one_grouped_query(org, make_customer, django_assert_num_queries):
    today = timezone.localdate()
    for owner in (org.sales_a, org.sales_b, org.sales_a1):
        _set_review(make_customer(user=owner), today)
    # One query for the owners and their counts, one bulk insert of the notifications.
    with django_assert_num_queries(2):
        assert services.reviews_due_notify() == 3


def test_the_job_skips_staff_who_left_and_files_above_their_clearance(org, make_customer):
    today = timezone.localdate()
    _set_review(make_customer(user=org.sales_b), today)
    _set_review(make_customer(user=org.sales_a, secret_level=SecretLevel.SECRET), today)
    type(org.sales_a).objects.filter(pk=org.sales_a.pk).update(clearance=SecretLevel.PUBLIC)
    type(org.sales_b).objects.filter(pk=org.sales_b.pk).update(left_at=timezone.now())

    assert services.reviews_due_notify() == 0


# ---------------------------------------------------------------- API


class Api:
    def __init__(self, user):
        self.client = Client(raise_request_exception=False)
        self.headers = {"HTTP_AUTHORIZATION": f"Bearer {token_create(user)}"}

    def get(self, path="", **params):
        return self.client.get("/api/v1/customers" + path, params, **self.headers)

    def post(self, path, body):
        return self.client.post("/api/v1/customers" + path, body, content_type="application/json", **self.headers)


def test_api_records_a_review_and_filters_due_files(org, make_customer, pack):
    today = timezone.localdate()
    due = make_customer()
    _set_review(due, today - dt.timedelta(days=1))
    later = make_customer()
    pack("s07-customer-service")
    api = Api(org.sales_a)

    listed = api.get(review_due="true").json()
    assert [row["id"] for row in listed["items"]] == [due.pk]
    assert listed["items"][0]["next_review_on"] == (today - dt.timedelta(days=1)).isoformat()
    assert {row["id"] for row in api.get(review_due="false").json()["items"]} == {due.pk, later.pk}

    response = api.post(f"/{due.pk}/review", {"note": "季度复核", "version": due.version})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["next_review_on"] == services._add_months(today, 3).isoformat()
    assert body["version"] == due.version + 1
    assert api.get(review_due="true").json()["items"] == []

    stale = api.post(f"/{due.pk}/review", {"note": "再次复核", "version": due.version})
    assert stale.status_code == 409 and stale.json()["code"] == "stale_version"
    assert api.post(f"/{due.pk}/review", {"note": ""}).status_code == 422
    assert Api(org.sales_b).post(f"/{due.pk}/review", {"note": "越权"}).status_code == 404
    timeline = api.get(f"/{due.pk}/timeline").json()["items"]
    assert timeline[0]["kind"] == "review"


# ---------------------------------------------------------------- pages


def test_detail_page_shows_the_cycle_with_its_citation_and_records_a_review(client, org, make_customer, pack):
    customer = make_customer()
    pack("s01-prosthetics")
    _set_review(customer, timezone.localdate() - dt.timedelta(days=2))
    client.force_login(org.sales_a)
    url = reverse("customers:detail", args=[customer.pk])

    html = client.get(url).content.decode()
    assert 'id="review-form"' in html
    assert "000_097510e39fec2ee7.txt Doc5" in html  # the pack's citation for the 6-month cycle
    assert "review-overdue" in html
    version = re.search(r'name="version" value="(\d+)" id="review_version"', html[html.index('id="review-form"') :]).group(1)

    response = client.post(reverse("customers:review", args=[customer.pk]), {"note": "半年复核，资料无变化", "version": version}, follow=True)

    customer.refresh_from_db()
    assert customer.next_review_on == services._add_months(timezone.localdate(), 6)
    html = response.content.decode()
    assert "已记录复核" in html and "半年复核，资料无变化" in html
    assert "review-overdue" not in html

    # The same form with the version read before the review is refused.
    client.post(reverse("customers:review", args=[customer.pk]), {"note": "重复提交", "version": version})
    assert TimelineEvent.objects.filter(customer=customer, kind=TimelineEvent.Kind.REVIEW).count() == 1

    client.cookies["django_language"] = "en"
    html = client.get(url).content.decode()
    assert "Record review" in html and "Review cycle: 6 months" in html


def test_review_form_only_for_those_who_may_record(client, org, make_customer):
    customer = make_customer()
    client.force_login(org.sysadmin)  # reads every 公开 file, may not edit, does not own it
    html = client.get(reverse("customers:detail", args=[customer.pk])).content.decode()
    assert 'id="review-card"' in html and 'id="review-form"' not in html
    response = client.post(reverse("customers:review", args=[customer.pk]), {"note": "复核", "version": customer.version})
    assert response.status_code == 403
    client.force_login(org.sales_b)
    assert client.post(reverse("customers:review", args=[customer.pk]), {"note": "复核", "version": customer.version}).status_code == 404


def test_list_page_filters_due_files_and_highlights_them(client, org, make_customer):
    today = timezone.localdate()
    due = make_customer(name="青松养老院")
    _set_review(due, today - dt.timedelta(days=1))
    make_customer(name="白云社区服务站")
    client.force_login(org.sales_a)

    html = client.get(reverse("customers:list")).content.decode()
    assert "青松养老院" in html and "白云社区服务站" in html
    assert html.count("review-overdue") == 1
    assert 'name="review_due" value="1" checked' not in html

    html = client.get(reverse("customers:list"), {"review_due": "1"}).content.decode()
    table = re.search(r'<table[^>]*id="customer-table".*?</table>', html, re.DOTALL).group(0)
    assert "青松养老院" in table and "白云社区服务站" not in table
    assert 'name="review_due" value="1" checked' in html
    assert "review_due=1" in re.search(r'href="([^"]*)" id="export-link"', html).group(1)
