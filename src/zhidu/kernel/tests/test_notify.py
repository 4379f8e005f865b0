import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.test import override_settings

from zhidu.kernel import notify
from zhidu.kernel.models import Notification

pytestmark = pytest.mark.django_db


def user(username, email=""):
    return get_user_model().objects.create(username=username, email=email)


def test_send_puts_one_row_in_each_inbox_and_counts_unread():
    a, b = user("a"), user("b")
    sent = notify.send([a, b, a], "客户即将到期复审", "华为技术有限公司 需在 3 个工作日内复审", link="/customers/1/", category="review")
    assert sent == 2
    assert notify.unread_count(a) == 1 and notify.unread_count(b) == 1
    row = Notification.objects.get(user=a)
    assert (row.title, row.link, row.category) == ("客户即将到期复审", "/customers/1/", "review")


def test_send_accepts_a_queryset_and_ids():
    for i in range(3):
        user(f"u{i}")
    assert notify.send(get_user_model().objects.all(), "通知") == 3
    assert notify.send([get_user_model().objects.first().pk], "再通知") == 1
    assert Notification.objects.count() == 4


def test_mark_read_only_touches_my_notifications():
    a, b = user("a"), user("b")
    notify.send([a, b], "一")
    notify.send([a], "二")
    b_row = Notification.objects.get(user=b)
    a_first = Notification.objects.filter(user=a).order_by("id").first()
    assert notify.mark_read(a, [a_first.pk, b_row.pk]) == 1
    assert notify.unread_count(a) == 1 and notify.unread_count(b) == 1
    assert notify.mark_read(a) == 1
    assert notify.unread_count(a) == 0


@override_settings(EMAIL_ENABLED=True, MAILERS={"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}})
def test_email_copy_goes_out_after_commit_when_enabled(django_capture_on_commit_callbacks):
    a, b = user("a", "a@example.com"), user("b")
    with django_capture_on_commit_callbacks(execute=True):
        notify.send([a, b], "投诉超时", "请处理", link="/complaints/9/")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["a@example.com"]
    assert mail.outbox[0].subject == "投诉超时"
    assert "/complaints/9/" in mail.outbox[0].body


@override_settings(EMAIL_ENABLED=False)
def test_no_email_when_disabled(django_capture_on_commit_callbacks):
    a = user("a", "a@example.com")
    with django_capture_on_commit_callbacks(execute=True):
        notify.send([a], "投诉超时")
    assert mail.outbox == []


def test_inbox_page_shows_unread_count_and_opening_marks_read(client):
    a = user("a")
    notify.send([a], "待审批：华为 折扣", link="/kernel/approvals/")
    notify.send([a], "已超时：投诉 TS-1", link="https://evil.example.com/")
    client.force_login(a)
    page = client.get("/kernel/inbox/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "待审批：华为 折扣" in html and "2 条未读" in html
    first = Notification.objects.get(title__startswith="待审批")
    opened = client.get(f"/kernel/inbox/{first.pk}/")
    assert opened.status_code == 302 and opened["Location"] == "/kernel/approvals/"
    assert notify.unread_count(a) == 1
    foreign = Notification.objects.get(title__startswith="已超时")
    assert client.get(f"/kernel/inbox/{foreign.pk}/")["Location"] == "/kernel/inbox/"
    client.post("/kernel/inbox/read/")
    assert notify.unread_count(a) == 0


def test_inbox_api_pages_and_marks_read(client):
    a, b = user("a"), user("b")
    for i in range(3):
        notify.send([a], f"通知 {i}")
    notify.send([b], "别人的")
    client.force_login(a)
    first = client.get("/api/v1/kernel/inbox?limit=2").json()
    assert first["unread"] == 3
    assert [n["title"] for n in first["items"]] == ["通知 2", "通知 1"]
    rest = client.get(f"/api/v1/kernel/inbox?limit=2&before={first['next_before']}").json()
    assert [n["title"] for n in rest["items"]] == ["通知 0"]
    marked = client.post("/api/v1/kernel/inbox/read", {"ids": [first["items"][0]["id"]]}, content_type="application/json").json()
    assert marked == {"marked": 1, "unread": 2}
    assert client.post("/api/v1/kernel/inbox/read", {}, content_type="application/json").json() == {"marked": 2, "unread": 0}
    assert notify.unread_count(b) == 1
