"""The pack page: every active parameter with its citation; required ones highlighted and settable."""

import re
import textwrap

import pytest
from django.urls import reverse

from zhidu.kernel import policy
from zhidu.org.models import Role, User

PASSWORD = "Secret-pass-12345"


@pytest.fixture
def admin(db):
    role = Role.objects.create(code="pack_admin", name="制度管理员", permissions=["packs.manage"])
    return User.objects.create_user("packadmin", password=PASSWORD, role=role)


@pytest.fixture
def reader(db):
    role = Role.objects.create(code="reader", name="职员", permissions=["customers.view"])
    return User.objects.create_user("reader", password=PASSWORD, role=role)


@pytest.fixture
def required_pack(tmp_path):
    path = tmp_path / "gap.yaml"
    path.write_text(
        textwrap.dedent(
            """
            name: gap
            title: 原文空缺
            implements: [S07]
            extends: base
            parameters:
              customers.access_request.max_days:
                required: true
                source: "002_b1cbc176581d2ce2.txt M5 第19条 L359"
            """
        ).lstrip(),
        encoding="utf-8",
    )
    return path


def test_login_required(client, db):
    response = client.get(reverse("kernel:packs"))
    assert response.status_code == 302


def test_page_without_a_pack_shows_defaults(client, reader):
    client.force_login(reader)
    response = client.get(reverse("kernel:packs"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="no-pack"' in html
    assert "zhidu 默认值 (no pack applied)" in html


def test_page_shows_every_parameter_with_its_citation(client, reader, pack):
    version = pack("s01-prosthetics")
    client.force_login(reader)
    html = client.get(reverse("kernel:packs")).content.decode()
    assert version.title in html
    assert f"@{version.pk}" in html
    assert ">S01<" in html
    for key, entry in version.parameters.items():
        assert f'id="param-{key}"' in html
        assert entry["source"].split("（")[0] in html
    assert "000_097510e39fec2ee7.txt Doc5 五、3.2 L303" in html
    assert "继承自 base" in html
    # Only what S01 leaves blank is asked for: the bed counts and yearly volumes of L273/L283 and the
    # VIP discount of L323; parameters of modules S01 does not configure are marked, not asked for.
    unset = set(re.findall(r'<li class="list-group-item" id="unset-([a-z_.0-9]+)"', html))
    required = {key for key, entry in version.parameters.items() if entry.get("required") and entry.get("value") is None}
    assert unset == required
    assert {"grading.threshold.t1.bed_count", "grading.threshold.t2.sales_amount"} <= unset
    assert 'id="unset-credit.grade_criteria"' not in html
    assert re.search(r'id="param-credit.grade_criteria".*?制度包未规定', html, re.S)


def test_required_parameter_is_highlighted_and_set_by_an_admin(client, admin, reader, pack, required_pack):
    pack(required_pack)
    client.force_login(reader)
    html = client.get(reverse("kernel:packs")).content.decode()
    assert 'id="unset-customers.access_request.max_days"' in html
    assert 'class="table-danger"' in html
    assert 'name="value"' not in html  # readers see it but cannot set it
    assert client.post(reverse("kernel:packs_set"), {"key": "customers.access_request.max_days", "value": "5"}).status_code == 403

    client.force_login(admin)
    html = client.get(reverse("kernel:packs")).content.decode()
    assert 'name="value"' in html
    bad = client.post(reverse("kernel:packs_set"), {"key": "customers.access_request.max_days", "value": "abc"})
    assert bad.status_code == 422
    assert "is-invalid" in bad.content.decode()

    response = client.post(reverse("kernel:packs_set"), {"key": "customers.access_request.max_days", "value": "5"})
    assert response.status_code == 302
    assert policy.value("customers.access_request.max_days") == 5
    html = client.get(reverse("kernel:packs")).content.decode()
    assert 'id="unset-parameters"' not in html
    assert "set by packadmin on" in html and "seed: 002_b1cbc176581d2ce2.txt M5 第19条 L359" in html


def test_history_and_past_version_page(client, reader, pack):
    first = pack("s01-prosthetics")
    second = pack("s07-customer-service")
    client.force_login(reader)
    html = client.get(reverse("kernel:packs")).content.decode()
    assert reverse("kernel:pack_version", args=[first.pk]) in html
    assert reverse("kernel:pack_version", args=[second.pk]) in html
    old = client.get(reverse("kernel:pack_version", args=[first.pk])).content.decode()
    assert 'id="not-current"' in old
    assert "000_097510e39fec2ee7.txt Doc5 五、3.2 L303" in old
    assert client.get(reverse("kernel:pack_version", args=[99999])).status_code == 404

