"""The customer search box: one query string matched, with OR, against the code, the name, its pinyin
and initials, and the end of a contact's phone number.

`search_q` is the whole condition (the export filters with it). The list (`selectors.customer_list`)
pages through `search_parts` instead: one indexed query per part, each newest first and limited, then
the union's newest rows — an OR of all parts would read every row whenever one part has no index to
offer (PostgreSQL cannot combine a subquery with index bitmaps; SQLite's LIKE never uses an index)."""

import re
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from django.db.models.expressions import RawSQL

from zhidu.kernel.access import user_unmasked_fields

from .models import Contact

MAX_QUERY = 100
MIN_PHONE_DIGITS = 4
_PINYIN = re.compile(r"^[a-z0-9]+$")
_DIGITS = re.compile(r"^\d+$")
# SQLite: the FTS5 trigram index of Customer.name (migration 0007), used for 3 or more characters.
NAME_INDEX = "customers_customer_name_fts"
NAME_INDEX_OBJECTS = (NAME_INDEX, f"{NAME_INDEX}_insert", f"{NAME_INDEX}_delete", f"{NAME_INDEX}_update")
MIN_TRIGRAM = 3


@dataclass
class SearchParts:
    """The search split into its parts: `conditions` (each served by an index of its own) and, on
    SQLite with the name index, `indexed_name` (the text to look up there instead of a condition)."""

    conditions: list
    indexed_name: str | None = None


def search_q(q: str | None, user=None) -> Q | None:
    """The condition for `q` (None when `q` is empty):
    code equal or starting with `q` (as typed and upper case), name containing `q`, full pinyin or
    initials starting with `q` (lower case, spaces ignored; letters and digits only), and — when `q` is
    at least 4 digits (spaces and dashes ignored) — a contact whose phone ends with them
    (Contact.phone_reversed prefix). Every part has an index: the prefixes their b-trees, the name
    substring PostgreSQL's trigram GIN index (0004) and, from 3 characters, SQLite's FTS5 trigram
    index (0007; its match is case-insensitive beyond ASCII too); shorter names scan.

    For a `user` whose role does not unmask phones, only exactly the last 4 digits (what the masked
    number shows) or the exact full number match: longer suffixes would reveal the hidden digits one
    search at a time."""
    parts = search_parts(q, user)
    if parts is None:
        return None
    condition = Q()
    for part in parts.conditions:
        condition |= part
    if parts.indexed_name is not None:
        condition |= Q(pk__in=RawSQL(f"SELECT rowid FROM {NAME_INDEX} WHERE {NAME_INDEX} MATCH %s", [_phrase(parts.indexed_name)]))
    return condition


def search_parts(q: str | None, user=None) -> SearchParts | None:
    """search_q's condition as separate parts (None when `q` is empty): code, name, pinyin and
    initials, phone suffix. Each part is an indexed lookup on both databases."""
    q = (q or "").strip()[:MAX_QUERY]
    if not q:
        return None
    codes = Q(code=q) | _prefix("code", q)
    if q.upper() != q:
        codes |= _prefix("code", q.upper())
    parts = SearchParts([codes])
    if connection.vendor == "sqlite" and len(q) >= MIN_TRIGRAM and name_index_ready():
        parts.indexed_name = q
    else:
        parts.conditions.append(Q(name__icontains=q))
    lowered = re.sub(r"\s+", "", q.lower())
    if _PINYIN.match(lowered):
        parts.conditions.append(_prefix("name_pinyin", lowered) | _prefix("name_initials", lowered))
    digits = re.sub(r"[\s-]", "", q)
    phone_part = bool(_DIGITS.match(digits) and MIN_PHONE_DIGITS <= len(digits) <= 20)
    if phone_part:
        if "phone" in user_unmasked_fields(user) or len(digits) == MIN_PHONE_DIGITS:
            phones = Contact.objects.filter(_reversed_prefix(digits[::-1]))
        else:
            phones = Contact.objects.filter(phone_reversed=digits[::-1])
        parts.conditions.append(Q(pk__in=phones.values("customer_id")))
    if connection.vendor == "postgresql":
        # PostgreSQL combines the column conditions' indexes itself (BitmapOr) or walks the primary key
        # when they match many rows, choosing by cost: one query for them; only the phone subquery,
        # which no index bitmap can take, stays apart.
        phone = [parts.conditions.pop()] if phone_part else []
        merged = Q()
        for condition in parts.conditions:
            merged |= condition
        parts.conditions = [merged, *phone]
    return parts


def name_index_ready() -> bool:
    """SQLite: whether the name index and all the triggers that keep it in step exist."""
    with connection.cursor() as cursor:
        marks = ", ".join(["%s"] * len(NAME_INDEX_OBJECTS))
        cursor.execute(f"SELECT COUNT(*) FROM sqlite_master WHERE name IN ({marks})", list(NAME_INDEX_OBJECTS))
        return cursor.fetchone()[0] == len(NAME_INDEX_OBJECTS)


def indexed_name_ids(text: str, before: int | None, limit: int) -> list[int]:
    """SQLite: ids of customers whose name contains `text` (case-insensitive; 3 or more characters),
    below `before`, newest first, at most `limit` — read from the name index in id order, so a
    frequent text costs no more than a rare one."""
    sql = f"SELECT rowid FROM {NAME_INDEX} WHERE {NAME_INDEX} MATCH %s"
    params = [_phrase(text)]
    if before is not None:
        sql += " AND rowid < %s"
        params.append(before)
    with connection.cursor() as cursor:
        cursor.execute(sql + " ORDER BY rowid DESC LIMIT %s", [*params, limit])
        return [row[0] for row in cursor.fetchall()]


def _phrase(text: str) -> str:
    """An FTS5 phrase: with the trigram tokenizer, exactly "contains `text`" (its trigrams, adjacent and
    in order)."""
    return '"' + text.replace('"', '""') + '"'


def _prefix(field: str, text: str) -> Q:
    """`field` starting with `text`. SQLite's LIKE is case-insensitive and never uses the (binary) index,
    so there it is the indexed range [text, text + U+10FFFF): the strings that start with `text` (in
    code point order, which is also UTF-8 byte order). PostgreSQL keeps LIKE, served by
    varchar_pattern_ops indexes."""
    if connection.vendor == "sqlite":
        return Q(**{f"{field}__gte": text, f"{field}__lt": text + "\U0010ffff"})
    return Q(**{f"{field}__startswith": text})


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
