"""Search at scale: the customer search box (name substring, pinyin initials, phone suffix, code) through
the product's selector `customers.selectors.customer_list(user, q=…)` as the benchmark administrator,
first page (50 rows, newest first), against hand-written SQL that knows which kind of query it was
given and reads the same rows through the same indexes.

The queries are drawn deterministically (the run's seed) from the data set itself: substrings of real
names (2 to 4 characters), initials prefixes (3 to 6 letters), the last 4 digits of real phones and
whole customer codes."""

from __future__ import annotations

import random

from django.db import connection

from bench.common import latency_results, latencies

CASE = "search"
PER_KIND = 200
LIMIT = 50
TARGET_P95 = 50.0
KINDS = ("name substring", "initials prefix", "phone suffix", "code")

# The rows the list page shows: the customer, its owner and its department (select_related).
_SELECT = """
SELECT c.id, c.code, c.name, c.customer_type, c.status, c.region, c.secret_level, c.next_review_on,
       u.username, u.display_name, d.name
FROM customers_customer c
JOIN org_user u ON u.id = c.owner_id
JOIN org_department d ON d.id = c.department_id
"""


def draw_queries(seed: int, per_kind: int = PER_KIND) -> dict[str, list[str]]:
    """`per_kind` queries of each kind, drawn from customers picked by id with the run's seed."""
    from zhidu.customers.models import Contact, Customer

    rng = random.Random(seed)
    with connection.cursor() as cursor:
        cursor.execute("SELECT MIN(id), MAX(id) FROM customers_customer")
        low, high = cursor.fetchone()
    wanted = sorted(set(rng.randrange(low, high + 1) for _ in range(per_kind * 3)))
    found = {c["id"]: c for c in Customer.objects.filter(pk__in=wanted).values("id", "name", "name_initials", "code")}
    phones = dict(Contact.objects.filter(customer_id__in=list(found), is_primary=True).exclude(phone="").values_list("customer_id", "phone"))
    picked = [found[i] for i in wanted if i in found]
    rng.shuffle(picked)
    queries: dict[str, list[str]] = {kind: [] for kind in KINDS}
    for c in picked:
        name = c["name"]
        size = rng.choice((2, 3, 4))
        start = rng.randrange(0, max(1, len(name) - size + 1))
        queries["name substring"].append(name[start : start + size])
        initials = c["name_initials"]
        if len(initials) >= 3:
            queries["initials prefix"].append(initials[: rng.randint(3, min(6, len(initials)))])
        if c["id"] in phones:
            queries["phone suffix"].append(phones[c["id"]][-4:])
        if c["code"]:
            queries["code"].append(c["code"])
    return {kind: values[:per_kind] for kind, values in queries.items()}


def _sqlite_name_index() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM sqlite_master WHERE name = 'customers_customer_name_fts'")
        return cursor.fetchone() is not None


def baseline_sql(kind: str, q: str) -> tuple[str, list]:
    """The hand-written query for one kind of search, on the indexes the product has."""
    vendor = connection.vendor
    if kind == "name substring":
        if vendor == "postgresql":  # the trigram GIN index is on UPPER(name)
            where, params = "UPPER(c.name) LIKE UPPER(%s)", [f"%{q}%"]
        elif len(q) >= 3 and _sqlite_name_index():  # the FTS5 trigram index, read newest first
            sql = (f"{_SELECT.replace('FROM customers_customer c', 'FROM customers_customer_name_fts f JOIN customers_customer c ON c.id = f.rowid')}"
                   f" WHERE customers_customer_name_fts MATCH %s ORDER BY f.rowid DESC LIMIT {LIMIT + 1}")  # fmt: skip
            return sql, ['"' + q.replace('"', '""') + '"']
        else:
            where, params = "c.name LIKE %s", [f"%{q}%"]
    elif kind == "initials prefix":
        if vendor == "postgresql":
            where, params = "c.name_initials LIKE %s", [f"{q}%"]
        else:  # SQLite's LIKE cannot use the binary index: the equivalent range
            where, params = "c.name_initials >= %s AND c.name_initials < %s", [q, q + "\U0010ffff"]
    elif kind == "phone suffix":
        reversed_digits = q[::-1]
        if vendor == "postgresql":
            inner, params = "phone_reversed LIKE %s", [f"{reversed_digits}%"]
        else:
            inner, params = "phone_reversed >= %s AND phone_reversed < %s", [reversed_digits, reversed_digits + ":"]
        where = f"c.id IN (SELECT customer_id FROM customers_contact WHERE {inner})"
    else:
        where, params = "c.code = %s", [q]
    return f"{_SELECT} WHERE {where} ORDER BY c.id DESC LIMIT {LIMIT + 1}", params


def run(ctx) -> None:
    from zhidu.customers import selectors

    ctx.ensure_customers()
    admin = ctx.users["admin"]
    queries = draw_queries(ctx.seed)

    def ours(q):
        return selectors.customer_list(admin, q=q, limit=LIMIT).items

    for kind in KINDS:
        inputs = queries[kind]
        print(f"    {CASE}: {len(inputs)} {kind} queries", flush=True)

        def baseline(q, kind=kind):
            sql, params = baseline_sql(kind, q)
            with connection.cursor() as cursor:
                cursor.execute(sql, params)
                return cursor.fetchall()

        base = latencies(baseline, inputs)
        mine = latencies(ours, inputs)
        latency_results(
            ctx, CASE, f"{kind} (customer_list, admin)", mine, base, target_p95=TARGET_P95,
            note=f"{len(inputs)} queries; baseline: hand-written SQL for this kind only",
        )  # fmt: skip
