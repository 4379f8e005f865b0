"""The customer search box: one query string matched, with OR, against the code, the name, its pinyin
and initials, and the end of a contact's phone number."""

import re

from django.db import connection
from django.db.models import Q

from zhidu.kernel.access import user_unmasked_fields

from .models import Contact

MAX_QUERY = 100
MIN_PHONE_DIGITS = 4
_PINYIN = re.compile(r"^[a-z0-9]+$")
_DIGITS = re.compile(r"^\d+$")


def search_q(q: str | None, user=None) -> Q | None:
    """The condition for `q` (None when `q` is empty):
    code equal or starting with `q` (as typed and upper case), name containing `q`, full pinyin or
    initials starting with `q` (lower case, spaces ignored; letters and digits only), and — when `q` is
    at least 4 digits (spaces and dashes ignored) — a contact whose phone ends with them
    (Contact.phone_reversed prefix). All but the name substring are indexed prefix lookups.

    For a `user` whose role does not unmask phones, only exactly the last 4 digits (what the masked
    number shows) or the exact full number match: longer suffixes would reveal the hidden digits one
    search at a time."""
    q = (q or "").strip()[:MAX_QUERY]
    if not q:
        return None
    condition = Q(code=q) | Q(code__startswith=q) | Q(name__icontains=q)
    if q.upper() != q:
        condition |= Q(code__startswith=q.upper())
    lowered = re.sub(r"\s+", "", q.lower())
    if _PINYIN.match(lowered):
        condition |= Q(name_pinyin__startswith=lowered) | Q(name_initials__startswith=lowered)
    digits = re.sub(r"[\s-]", "", q)
    if _DIGITS.match(digits) and MIN_PHONE_DIGITS <= len(digits) <= 20:
        if "phone" in user_unmasked_fields(user) or len(digits) == MIN_PHONE_DIGITS:
            phones = Contact.objects.filter(_reversed_prefix(digits[::-1]))
        else:
            phones = Contact.objects.filter(phone_reversed=digits[::-1])
        condition |= Q(pk__in=phones.values("customer_id"))
    return condition


def _reversed_prefix(reversed_digits: str) -> Q:
    """Contact.phone_reversed starting with `reversed_digits`. SQLite's LIKE is case-insensitive, so it
    cannot use the (binary) index for `startswith` and scanned every contact; phone_reversed holds
    digits only, so the same prefix is the indexed range [digits, digits + ":") (":" follows "9").
    PostgreSQL keeps LIKE, which its varchar_pattern_ops index serves (a range would depend on the
    collation)."""
    condition = Q(phone_reversed__startswith=reversed_digits)
    if connection.vendor == "sqlite":
        condition &= Q(phone_reversed__gte=reversed_digits, phone_reversed__lt=reversed_digits + ":")
    return condition
