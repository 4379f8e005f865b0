"""Log in, log out, lock-out, session expiry, and a disabled user's next request."""

from datetime import timedelta
from unittest import mock

from django.contrib.sessions.models import Session
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from zhidu.kernel import policy
from zhidu.kernel.models import AuditEntry, PackVersion
from zhidu.org import services
from zhidu.org.models import User, UserSession
from zhidu.org.tokens import token_create

from .conftest import PASSWORD

LOGIN = "/login/"


def post_login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password, **extra})


def test_login_urls():
    assert reverse("org:login") == "/login/"
    assert reverse("org:logout") == "/logout/"


def test_login_success_records_session_and_audit(staff):
    client = Client()
    response = post_login(client, "sales", PASSWORD, next="/account/")
    assert response.status_code == 302 and response["Location"] == "/account/"
    key = client.session.session_key
    assert UserSession.objects.filter(user=staff["sales"], session_key=key).exists()
    assert AuditEntry.objects.filter(action="org.login", actor_id=staff["sales"].pk).exists()
    assert client.get("/account/").status_code == 200


def test_login_refuses_offsite_next(staff):
    response = post_login(Client(), "sales", PASSWORD, next="https://evil.example/")
    assert response["Location"] == "/"


def test_failed_login_is_audited_with_a_generic_message(staff):
    client = Client()
    response = post_login(client, "sales", "wrong-password-1")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    response = post_login(client, "nobody", "wrong-password-1")
    assert "用户名或密码错误" in response.content.decode()
    failed = AuditEntry.objects.filter(action="org.login.failed").order_by("seq")
    assert [e.details["username"] for e in failed] == ["sales", "nobody"]
    assert failed[0].ip == "127.0.0.1"


def test_lockout_after_max_failures_and_unlock_after_the_time(staff):
    max_failures = policy.value("org.login.max_failures")
    minutes = policy.value("org.login.lockout_minutes")
    client = Client()
    for attempt in range(max_failures - 1):
        response = post_login(client, "sales", "wrong-password-1")
        assert "用户名或密码错误" in response.content.decode()
    response = post_login(client, "sales", "wrong-password-1")
    user = User.objects.get(username="sales")
    assert user.locked_until is not None
    assert abs((user.locked_until - timezone.now()) - timedelta(minutes=minutes)) < timedelta(seconds=30)
    body = response.content.decode()
    assert "账号已锁定" in body
    assert timezone.localtime(user.locked_until).strftime("%Y-%m-%d %H:%M") in body

    # The right password does not help while locked; the message names the unlock time.
    response = post_login(client, "sales", PASSWORD)
    assert response.status_code == 200 and "_auth_user_id" not in client.session
    assert timezone.localtime(user.locked_until).strftime("%Y-%m-%d %H:%M") in response.content.decode()
    assert AuditEntry.objects.filter(action="org.login.refused", details__reason="locked").exists()

    later = user.locked_until + timedelta(seconds=1)
    with mock.patch("django.utils.timezone.now", return_value=later):
        response = post_login(client, "sales", PASSWORD)
    assert response.status_code == 302
    user.refresh_from_db()
    assert (user.failed_logins, user.locked_until) == (0, None)


def test_lockout_threshold_comes_from_the_pack(staff):
    PackVersion.objects.create(
        name="t",
        title="t",
        parameters={"org.login.max_failures": {"value": 2, "source": "test"}, "org.login.lockout_minutes": {"value": 5, "source": "test"}},
        content_hash="t",
        effective_from=timezone.now(),
    )
    policy.clear_cache()
    client = Client()
    post_login(client, "sales", "wrong-password-1")
    assert User.objects.get(username="sales").locked_until is None
    post_login(client, "sales", "wrong-password-1")
    locked_until = User.objects.get(username="sales").locked_until
    assert locked_until is not None
    assert timedelta(minutes=4) < locked_until - timezone.now() <= timedelta(minutes=5)


def test_a_success_resets_the_failure_count(staff):
    client = Client()
    post_login(client, "sales", "wrong-password-1")
    assert User.objects.get(username="sales").failed_logins == 1
    post_login(client, "sales", PASSWORD)
    assert User.objects.get(username="sales").failed_logins == 0


def test_sysadmin_can_unlock_early(staff):
    User.objects.filter(pk=staff["sales"].pk).update(failed_logins=5, locked_until=timezone.now() + timedelta(minutes=30))
    services.user_unlock(staff["sysadmin"], staff["sales"])
    assert post_login(Client(), "sales", PASSWORD).status_code == 302


def test_disabled_user_gets_a_clear_message(staff):
    services.user_disable(staff["sysadmin"], staff["sales"])
    response = post_login(Client(), "sales", PASSWORD)
    assert "账号已停用" in response.content.decode()
    response = post_login(Client(), "sales", "wrong-password-1")
    assert "账号已停用" not in response.content.decode()


def test_logout_is_post_only_and_ends_the_session(staff):
    client = Client()
    post_login(client, "sales", PASSWORD)
    key = client.session.session_key
    assert client.get("/logout/").status_code == 405
    response = client.post("/logout/")
    assert response.status_code == 302 and response["Location"] == "/login/"
    assert not Session.objects.filter(session_key=key).exists()
    assert not UserSession.objects.filter(session_key=key).exists()
    assert AuditEntry.objects.filter(action="org.logout", actor_id=staff["sales"].pk).exists()


def test_expired_session_redirects_to_login(staff):
    client = Client()
    post_login(client, "sales", PASSWORD)
    assert client.get("/account/").status_code == 200
    Session.objects.filter(session_key=client.session.session_key).update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/login/?next=/account/")


def test_each_request_renews_the_idle_timeout(staff, settings):
    client = Client()
    post_login(client, "sales", PASSWORD)
    key = client.session.session_key
    Session.objects.filter(session_key=key).update(expire_date=timezone.now() + timedelta(minutes=1))
    client.get("/account/")
    remaining = Session.objects.get(session_key=key).expire_date - timezone.now()
    idle = min(policy.value("org.session.idle_minutes") * 60, settings.SESSION_COOKIE_AGE)
    assert remaining > timedelta(seconds=idle - 60)


def test_idle_timeout_from_the_pack(staff):
    PackVersion.objects.create(
        name="t", title="t", parameters={"org.session.idle_minutes": {"value": 15, "source": "test"}}, content_hash="t", effective_from=timezone.now()
    )
    policy.clear_cache()
    client = Client()
    post_login(client, "sales", PASSWORD)
    client.get("/account/")
    remaining = Session.objects.get(session_key=client.session.session_key).expire_date - timezone.now()
    assert timedelta(minutes=14) < remaining <= timedelta(minutes=15)


def test_disabled_users_session_is_refused_on_the_next_request(staff):
    client = Client()
    post_login(client, "sales", PASSWORD)
    assert client.get("/account/").status_code == 200
    services.user_disable(staff["sysadmin"], staff["sales"])
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/login/")
    assert client.get("/api/v1/org/me").status_code == 401


def test_disabled_users_session_is_refused_even_without_session_bookkeeping(staff):
    """Sessions not listed in UserSession (e.g. created before it existed) still stop working."""
    client = Client()
    post_login(client, "sales", PASSWORD)
    UserSession.objects.all().delete()
    services.user_disable(staff["sysadmin"], staff["sales"])
    assert client.get("/account/").status_code == 302


def test_disabled_users_token_is_refused_on_the_next_request(staff):
    key = token_create(staff["sales"])
    headers = {"Authorization": f"Bearer {key}"}
    client = Client()
    response = client.get("/api/v1/org/me", headers=headers)
    assert response.status_code == 200 and response.json()["username"] == "sales"
    services.user_disable(staff["sysadmin"], staff["sales"])
    response = client.get("/api/v1/org/me", headers=headers)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthenticated"
    # Enabling the account again does not bring revoked tokens back.
    services.user_enable(staff["sysadmin"], staff["sales"])
    assert client.get("/api/v1/org/me", headers=headers).status_code == 401


def test_password_change_page_keeps_this_session_and_ends_the_others(staff):
    here, elsewhere = Client(), Client()
    post_login(here, "sales", PASSWORD)
    post_login(elsewhere, "sales", PASSWORD)
    response = here.post("/account/password/", {"old_password": PASSWORD, "new_password": "Brand-new-pass-9", "new_password2": "Brand-new-pass-9"})
    assert response.status_code == 302
    assert here.get("/account/").status_code == 200
    assert elsewhere.get("/account/").status_code == 302
    assert UserSession.objects.filter(user=staff["sales"]).count() == 1
    assert UserSession.objects.get(user=staff["sales"]).session_key == here.session.session_key


def test_password_change_page_shows_errors_per_field(staff):
    client = Client()
    post_login(client, "sales", PASSWORD)
    response = client.post("/account/password/", {"old_password": "nope", "new_password": "abc", "new_password2": "abd"})
    body = response.content.decode()
    assert response.status_code == 200
    assert "两次输入的新密码不一致" in body
    response = client.post("/account/password/", {"old_password": "nope", "new_password": "abc", "new_password2": "abc"})
    body = response.content.decode()
    assert "原密码不正确" in body and "字母和数字" in body


def test_login_page_renders(db):
    response = Client().get(LOGIN)
    assert response.status_code == 200
    assert 'name="username"' in response.content.decode()


def test_sessions_sweep_job(staff):
    from zhidu.kernel import jobs

    stale, live = Client(), Client()
    post_login(stale, "sales", PASSWORD)
    post_login(live, "sales2", PASSWORD)
    Session.objects.filter(session_key=stale.session.session_key).update(expire_date=timezone.now() - timedelta(minutes=1))
    job = jobs.registry()["org.sessions_sweep"]
    job.func(timezone.now())
    assert set(UserSession.objects.values_list("user__username", flat=True)) == {"sales2"}
    assert Session.objects.filter(session_key=live.session.session_key).exists()


def _max_age_pack(days):
    PackVersion.objects.create(
        name="t", title="t", parameters={"org.password.max_age_days": {"value": days, "source": "test"}}, content_hash="t", effective_from=timezone.now()
    )
    policy.clear_cache()


def test_password_expiry_is_off_by_default(staff):
    User.objects.filter(pk=staff["sales"].pk).update(password_changed_at=timezone.now() - timedelta(days=3650))
    client = Client()
    post_login(client, "sales", PASSWORD)
    assert client.get("/account/").status_code == 200


def test_expired_password_must_be_changed_before_anything_else(staff):
    _max_age_pack(90)
    User.objects.filter(pk=staff["sales"].pk).update(password_changed_at=timezone.now() - timedelta(days=91))
    client = Client()
    post_login(client, "sales", PASSWORD)
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"] == "/account/password/"
    page = client.get("/account/password/")
    assert page.status_code == 200 and "password-expired" in page.content.decode()
    client.post("/account/password/", {"old_password": PASSWORD, "new_password": "Fresh-pass-2026", "new_password2": "Fresh-pass-2026"})
    assert client.get("/account/").status_code == 200
    assert User.objects.get(pk=staff["sales"].pk).password_changed_at > timezone.now() - timedelta(minutes=1)


def test_recent_password_is_not_expired(staff):
    _max_age_pack(90)
    client = Client()
    post_login(client, "sales", PASSWORD)  # created just now by the fixture
    assert client.get("/account/").status_code == 200
    assert services.password_expired(staff["sales"], now=timezone.now() + timedelta(days=91))
