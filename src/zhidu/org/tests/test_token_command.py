"""`zhidu token USERNAME [--name NAME]`."""

import io

import pytest
from django.core.management import CommandError, call_command

from zhidu.kernel.models import AuditEntry
from zhidu.org import services
from zhidu.org.models import ApiToken
from zhidu.org.tokens import token_user


def run(*args):
    out = io.StringIO()
    call_command("token", *args, stdout=out)
    return out.getvalue().strip()


def test_prints_a_working_token(staff):
    key = run("sales", "--name", "ERP 接口")
    assert key.startswith("zd_") and "\n" not in key
    assert token_user(key) == staff["sales"]
    token = ApiToken.objects.get(user=staff["sales"])
    assert token.name == "ERP 接口" and token.key_hash != key
    assert AuditEntry.objects.filter(action="org.token.create", target_id=str(staff["sales"].pk)).exists()
    assert run("sales") != key


def test_unknown_user(db):
    with pytest.raises(CommandError, match="nobody"):
        run("nobody")


def test_disabled_user(staff):
    services.user_disable(staff["sysadmin"], staff["sales"])
    with pytest.raises(CommandError, match="停用"):
        run("sales")
    assert not ApiToken.objects.filter(user=staff["sales"]).exists()


def test_exit_status_through_the_cli(staff, capsys):
    """`zhidu token …` exits non-zero with the message on stderr, and prints only the key on success."""
    from unittest import mock

    from zhidu.cli import main

    # run_from_argv closes the database connections when it ends; the test transaction needs them open.
    with mock.patch("django.db.connections.close_all"):
        with pytest.raises(SystemExit) as info:
            main(["token", "nobody-at-all"])
        assert info.value.code != 0
        assert "nobody-at-all" in capsys.readouterr().err
        main(["token", "gm"])
    key = capsys.readouterr().out.strip()
    assert token_user(key) == staff["gm"]
