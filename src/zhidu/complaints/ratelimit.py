"""Rate limits of the public complaint page, kept in the Django cache: a fixed window per client
address (and per tracking number for lookups), so one address cannot flood the register or guess
the phone numbers behind a tracking number."""

from __future__ import annotations

import hashlib
import time

from django.conf import settings
from django.core.cache import cache

from zhidu.kernel.audit import client_ip

WINDOW_SECONDS = 3600
# Per client address and hour; a deployment may change them in settings.
LIMITS = {
    "submit": 5,  # complaints submitted
    "lookup": 30,  # status lookups
    "lookup_failed": 10,  # lookups that did not match, per tracking number
    "api": 20,  # calls of the public API (lookups and submissions)
}


def limit_of(action: str) -> int:
    overrides = getattr(settings, "ZHIDU_COMPLAINTS_PUBLIC_LIMITS", None) or {}
    return int(overrides.get(action, LIMITS[action]))


def _key(action: str, who: str) -> str:
    # `who` may be whatever a visitor typed as a tracking number: hashed, so any cache backend takes it.
    digest = hashlib.sha256(who.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"complaints-public:{action}:{digest}:{int(time.time() // WINDOW_SECONDS)}"


def _count(key: str) -> int:
    value = cache.get(key)
    return int(value or 0)


def exceeded(action: str, who: str) -> bool:
    """Whether `who` has used up `action` in this window (without counting a new use)."""
    return _count(_key(action, who)) >= limit_of(action)


def hit(action: str, who: str) -> int:
    """Counts one use of `action` by `who` in this window; returns the count so far."""
    key = _key(action, who)
    if cache.add(key, 1, WINDOW_SECONDS + 60):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, WINDOW_SECONDS + 60)
        return 1


def address(request) -> str:
    return client_ip(request) or "unknown"
