"""API tokens: `zhidu token USERNAME` creates one; only its hash is stored."""

import hashlib
import secrets

from django.utils import timezone

from .models import ApiToken, User


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def token_create(user: User, name: str = "") -> str:
    key = "zd_" + secrets.token_urlsafe(32)
    ApiToken.objects.create(user=user, key_hash=_hash(key), prefix=key[:8], name=name)
    return key


def token_user(key: str) -> User | None:
    """The active user a token belongs to, or None for an unknown, revoked or disabled one."""
    if not key:
        return None
    token = (
        ApiToken.objects.select_related("user", "user__role", "user__department")
        .filter(key_hash=_hash(key), revoked_at__isnull=True, user__is_active=True)
        .first()
    )
    if token is None:
        return None
    now = timezone.now()
    if token.last_used_at is None or (now - token.last_used_at).total_seconds() > 60:
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token.user


def tokens_revoke_all(user: User) -> int:
    return ApiToken.objects.filter(user=user, revoked_at__isnull=True).update(revoked_at=timezone.now())
