"""`zhidu token USERNAME [--name NAME]`: prints a new API token for an active user."""

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from zhidu.kernel import audit
from zhidu.org.models import User
from zhidu.org.tokens import token_create


class Command(BaseCommand):
    help = "为用户生成 API 令牌并打印 / Print a new API token for a user (only its hash is stored)"

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default="", help="令牌名称 / a label for the token, e.g. the integration using it")

    def handle(self, *args, username, name, **options):
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"用户不存在 No such user: {username}")
        if not user.is_active:
            raise CommandError(f"账号已停用，不能生成令牌 The account is disabled; no token issued: {username}")
        if len(name) > 60:
            raise CommandError("令牌名称最多 60 个字符 The token name is at most 60 characters")
        with transaction.atomic():
            key = token_create(user, name=name)
            audit.record(None, "org.token.create", target=user, details={"name": name, "prefix": key[:8], "via": "command"})
        self.stdout.write(key)
