"""The public complaint page (/c/): no login, CSRF on, a receipt with the tracking number and access
code, a status lookup that shows only what the complainant may see, and rate limits per address."""

import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from zhidu.complaints import services
from zhidu.complaints.models import Complaint

pytestmark = pytest.mark.django_db

PHONE = "13912345678"


@pytest.fixture(autouse=True)
def _default_language_afterwards():
    yield
    translation.deactivate()


def _submit(client, **overrides):
    data = {
        "complainant_name": "赵公众",
        "complainant_phone": PHONE,
        "subject": "快递丢件",
        "content": "包裹显示签收但没有收到",
        **overrides,
    }
    return client.post(reverse("complaints_public:submit"), data)


def test_anonymous_submission_gives_a_receipt_once(client, cx):
    page = client.get(reverse("complaints_public:submit"))
    assert page.status_code == 200 and "csrfmiddlewaretoken" in page.content.decode()
    response = _submit(client)
    assert response.status_code == 302 and response.url == reverse("complaints_public:done")
    complaint = Complaint.objects.get()
    assert complaint.receiver is None and complaint.channel == services.param(complaint, "public_channel")
    receipt = client.get(reverse("complaints_public:done")).content.decode()
    assert complaint.tracking_no in receipt and complaint.access_code in receipt
    # Shown only once: the receipt is gone from the session.
    again = client.get(reverse("complaints_public:done"))
    assert again.status_code == 302


def test_form_errors_are_shown_and_nothing_is_saved(client, cx):
    response = _submit(client, complainant_phone="", content="")
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="error-complainant_phone"' in html and 'id="error-content"' in html
    assert not Complaint.objects.exists()


def test_csrf_is_enforced(cx):
    client = Client(enforce_csrf_checks=True)
    response = _submit(client)
    assert response.status_code == 403
    assert not Complaint.objects.exists()


def test_lookup_by_phone_or_code_shows_only_public_fields(client, cx):
    # Names that cannot turn up by chance in a random token of the page (a CSRF token may well hold "qm").
    for staff, name in ((cx.agent, "客服小王"), (cx.qm, "质量老李")):
        staff.display_name = name
        staff.save(update_fields=["display_name"])
    _submit(client)
    complaint = Complaint.objects.get()
    services.complaint_decide(cx.qm, complaint.pk, True, expected_version=None)
    services.complaint_assign(cx.qm, complaint.pk, department=cx.org.dept_a.pk, owner=cx.agent.pk, note="内部备注：先查物流", expected_version=None)
    services.complaint_investigate(cx.agent, complaint.pk, cause="快递员私自签收", loopholes="签收核验缺失", expected_version=None)
    for code in (PHONE, "139-1234-5678", complaint.access_code.lower()):
        response = client.post(reverse("complaints_public:track"), {"tracking_no": complaint.tracking_no.lower(), "code": code})
        assert response.status_code == 200
        html = response.content.decode()
        assert 'id="track-result"' in html, code
        assert complaint.tracking_no in html
    for internal in ("内部备注", "快递员私自签收", "签收核验缺失", "客服小王", "质量老李", PHONE):
        assert internal not in html


def test_lookup_with_the_wrong_phone_finds_nothing(client, cx):
    _submit(client)
    complaint = Complaint.objects.get()
    html = client.post(reverse("complaints_public:track"), {"tracking_no": complaint.tracking_no, "code": "13000000000"}).content.decode()
    assert 'id="not-found"' in html and 'id="track-result"' not in html
    html = client.post(reverse("complaints_public:track"), {"tracking_no": "TS00000000XXXXXXXX", "code": PHONE}).content.decode()
    assert 'id="not-found"' in html


def test_submissions_are_rate_limited_per_address(client, cx, settings):
    settings.ZHIDU_COMPLAINTS_PUBLIC_LIMITS = {"submit": 2}
    assert _submit(client).status_code == 302
    assert _submit(client).status_code == 302
    response = _submit(client)
    assert response.status_code == 429
    assert 'id="limited"' in response.content.decode()
    assert Complaint.objects.count() == 2
    # Another address is not affected.
    other = Client(REMOTE_ADDR="10.0.0.9")
    assert _submit(other).status_code == 302


def test_guessing_phones_for_a_tracking_number_is_stopped(client, cx, settings):
    settings.ZHIDU_COMPLAINTS_PUBLIC_LIMITS = {"lookup_failed": 3}
    _submit(client)
    complaint = Complaint.objects.get()
    for n in range(3):
        client.post(reverse("complaints_public:track"), {"tracking_no": complaint.tracking_no, "code": f"1300000000{n}"})
    # Even the right phone, from a fresh address, is refused for this number for the rest of the hour.
    response = Client(REMOTE_ADDR="10.0.0.7").post(reverse("complaints_public:track"), {"tracking_no": complaint.tracking_no, "code": PHONE})
    assert response.status_code == 429
    assert 'id="track-result"' not in response.content.decode()


def test_a_filled_hidden_field_keeps_nothing(client, cx):
    response = _submit(client, website="http://spam.example")
    assert response.status_code == 302
    assert not Complaint.objects.exists()


def test_public_page_needs_no_login_and_shows_no_internal_navigation(client, cx):
    html = client.get(reverse("complaints_public:track")).content.decode()
    assert "user-menu" not in html
    assert not re.search(r'href="/complaints/', html)


def test_any_typed_tracking_number_makes_a_cache_key_every_backend_accepts():
    import warnings

    from django.core.cache.backends.base import CacheKeyWarning

    from zhidu.complaints import ratelimit

    with warnings.catch_warnings():
        warnings.simplefilter("error", CacheKeyWarning)  # memcached refuses spaces, controls and long keys
        for typed in ("TS 2026\x80\x1f空格" * 20, "\U000fce24V²:x"):
            assert ratelimit.hit("lookup_failed", typed) == 1
            assert ratelimit.hit("lookup_failed", typed) == 2
