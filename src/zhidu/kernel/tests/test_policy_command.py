"""`zhidu pack list|show|check|apply|diff`."""

import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command

from zhidu.kernel import policy
from zhidu.kernel.models import PackVersion

REAL_PACKS = sorted(str(p) for p in Path(settings.PACKS_DIR).glob("*.yaml"))


def run(*args):
    out, err = StringIO(), StringIO()
    call_command("pack", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_real_packs_include_the_three_delivered():
    names = {Path(p).name for p in REAL_PACKS}
    assert {"base.yaml", "s01-prosthetics.yaml", "s07-customer-service.yaml"} <= names


def test_check_passes_on_the_real_packs():
    out, err = run("check", *REAL_PACKS)
    assert err == ""
    assert out.count("OK ") == len(REAL_PACKS)


def test_check_fails_on_a_bad_file_naming_file_line_and_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: 坏\nparameters:\n  customers.review_cycle_months: {value: 6}\n  customers.bogus: {value: 1, source: s}\n", encoding="utf-8")
    out, err = StringIO(), StringIO()
    with pytest.raises(CommandError) as caught:
        call_command("pack", "check", REAL_PACKS[0], str(bad), stdout=out, stderr=err)
    assert caught.value.returncode == 1
    assert f"OK {REAL_PACKS[0]}" in out.getvalue()
    assert f"{bad}:4: customers.review_cycle_months: " in err.getvalue()
    assert f"{bad}:5: customers.bogus: " in err.getvalue()


def test_check_exit_status_from_the_zhidu_command(tmp_path):
    zhidu = Path(sys.executable).with_name("zhidu")
    ok = subprocess.run([str(zhidu), "pack", "check", *REAL_PACKS], capture_output=True, text=True, timeout=120)
    assert ok.returncode == 0, ok.stderr
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: 坏\nparameters:\n  no.such: {value: 1, source: s}\n", encoding="utf-8")
    failed = subprocess.run([str(zhidu), "pack", "check", str(bad)], capture_output=True, text=True, timeout=120)
    assert failed.returncode != 0
    assert f"{bad}:4: no.such: " in failed.stderr


def test_show_prints_every_parameter_with_value_and_source():
    out, _err = run("show", "s01-prosthetics")
    assert "customers.review_cycle_months = 6" in out
    assert "source: 000_097510e39fec2ee7.txt Doc5 五、3.2 L303" in out
    assert "org.login.max_failures = 5" in out
    assert "source: zhidu base" in out


@pytest.mark.django_db
def test_apply_list_and_diff():
    out, _err = run("apply", "s01-prosthetics", "--effective-from", "2026-01-01")
    version = PackVersion.objects.get()
    assert f"s01-prosthetics @{version.pk} effective 2026-01-01T00:00:00" in out
    policy.clear_cache()
    listed, _err = run("list")
    assert "* s01-prosthetics" in listed and f"@{version.pk}" in listed

    diff, _err = run("diff", "current", "s07-customer-service")
    assert "customers.review_cycle_months\n  - 6" in diff
    assert "  + 3" in diff
    assert "customers.access_request.max_days" in diff
    assert "org.login.max_failures" not in diff  # same value in both

    same, _err = run("diff", f"@{version.pk}", "s01-prosthetics")
    assert same.strip().endswith("0 parameter(s) differ")


@pytest.mark.django_db
def test_apply_a_bad_pack_fails(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\ntitle: 坏\nimplements: [S99]\n", encoding="utf-8")
    with pytest.raises(CommandError):
        run("apply", str(bad))
    assert not PackVersion.objects.exists()
