"""The customer list at scale, as the department-scope user ("dept": role 主管, scope 本部门): 50 rows
filtered by their department and status 合作中, newest first.

- HTML page `/customers/?department=…&status=active` and API `/api/v1/customers?department=…&status=active`
  through django.test.Client (session login), so URL routing, middleware, the selector, the template or the
  schema are all counted.
- First page, and deep pages: `after`/`cursor` ids taken from the department's rows at page 100 and
  beyond (keyset pagination: a deep page must cost what the first one does).
- Baseline: the raw SQL for the same rows (customer + owner + department, the same keyset condition)
  plus, for the HTML page, the page's primary contacts — what any hand-written list would query."""

from __future__ import annotations

import random

from django.db import connection

from bench.common import latencies, latency_results

CASE = "listing"
PAGE = 50
STATUS = "active"
FIRST_PAGE_RUNS = 60
DEEP_PAGES = 60
TARGET_P95 = 100.0

_ROWS = """
SELECT c.id, c.code, c.name, c.customer_type, c.status, c.region, c.secret_level, c.next_review_on,
       c.credit_code, c.id_number, c.industry, c.version, c.updated_at, u.username, u.display_name, d.name
FROM customers_customer c
JOIN org_user u ON u.id = c.owner_id
JOIN org_department d ON d.id = c.department_id
WHERE (c.department_id = %s OR c.owner_id = %s) AND c.department_id IN ({departments}) AND c.status = %s AND c.secret_level <= %s {keyset}
ORDER BY c.id DESC LIMIT {limit}
"""
_CONTACTS = "SELECT customer_id, name, phone FROM customers_contact WHERE customer_id IN ({ids}) ORDER BY customer_id, is_primary DESC, id"


def _subtree_ids(department) -> list[int]:
    from zhidu.org.models import Department

    return list(Department.objects.filter(path__startswith=department.path).values_list("pk", flat=True))


def deep_cursors(scope: list[int], department_ids: list[int], clearance: int, count: int, seed: int) -> list[int]:
    """`count` cursors at page 100 or deeper of the filtered rows (all of them at small scales: the
    deepest pages there are)."""
    marks = ", ".join(["%s"] * len(department_ids))
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COUNT(*) FROM customers_customer WHERE (department_id = %s OR owner_id = %s) AND department_id IN ({marks}) "
            "AND status = %s AND secret_level <= %s",
            [*scope, *department_ids, STATUS, clearance],
        )
        total = cursor.fetchone()[0]
        first = min(100 * PAGE, max(0, total - PAGE))
        rng = random.Random(seed)
        offsets = sorted(rng.randrange(first, max(first + 1, total - PAGE)) for _ in range(count))
        cursors = []
        for offset in offsets:
            cursor.execute(
                f"SELECT id FROM customers_customer WHERE (department_id = %s OR owner_id = %s) AND department_id IN ({marks}) "
                "AND status = %s AND secret_level <= %s ORDER BY id DESC LIMIT 1 OFFSET %s",
                [*scope, *department_ids, STATUS, clearance, offset],
            )
            row = cursor.fetchone()
            if row:
                cursors.append(row[0] + 1)  # `after` = this id + 1: the page starts at this row
    return cursors, total


def raw_page(scope, department_ids, clearance, after, with_contacts):
    marks = ", ".join(["%s"] * len(department_ids))
    keyset = "AND c.id < %s" if after else ""
    params = [*scope, *department_ids, STATUS, clearance, *([after] if after else [])]
    with connection.cursor() as cursor:
        cursor.execute(_ROWS.format(departments=marks, keyset=keyset, limit=PAGE + 1), params)
        rows = cursor.fetchall()
        if with_contacts and rows:
            ids = [r[0] for r in rows[:PAGE]]
            cursor.execute(_CONTACTS.format(ids=", ".join(["%s"] * len(ids))), ids)
            cursor.fetchall()
    return rows


def run(ctx) -> None:
    from django.conf import settings
    from django.test import Client

    ctx.ensure_customers()
    if "testserver" not in settings.ALLOWED_HOSTS and "*" not in settings.ALLOWED_HOSTS:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # django.test.Client's host
    user = ctx.users["dept"]
    department = user.department
    departments = _subtree_ids(department)
    clearance = user.clearance
    client = Client()
    client.force_login(user)
    scope = [department.pk, user.pk]  # the role's scope 本部门: the user's department, or files they own
    cursors, total = deep_cursors(scope, departments, clearance, DEEP_PAGES, ctx.seed)
    print(f"    {CASE}: {total} rows in the filter, {len(cursors)} deep cursors (page ≥ {min(100, total // PAGE)})", flush=True)
    query = f"department={department.pk}&status={STATUS}"

    def html(after):
        response = client.get(f"/customers/?{query}" + (f"&after={after}" if after else ""))
        assert response.status_code == 200, response.status_code
        return response.content

    def api(after):
        response = client.get(f"/api/v1/customers?{query}&limit={PAGE}" + (f"&cursor={after}" if after else ""))
        assert response.status_code == 200, response.status_code
        return response.content

    # The selector must return what the raw SQL returns: the same ids, first and deep.
    from zhidu.customers import selectors

    for after in [None, *cursors[:3]]:
        mine = [c.pk for c in selectors.customer_list(user, filters={"department": department.pk, "status": STATUS}, after=after, limit=PAGE).items]
        theirs = [r[0] for r in raw_page(scope, departments, clearance, after, False)[:PAGE]]
        assert mine == theirs, f"list differs from the raw SQL at after={after}"

    first = [None] * FIRST_PAGE_RUNS
    note = f"dept user (scope 本部门), {total} rows match; baseline: raw SQL of the rows (scope, clearance, filter, keyset)"
    latency_results(ctx, CASE, "HTML first page", latencies(html, first), latencies(lambda a: raw_page(scope, departments, clearance, a, True), first),
                    target_p95=TARGET_P95, note=note + " + their contacts", points=("p50", "p95"))  # fmt: skip
    latency_results(ctx, CASE, "HTML deep page (≥ page 100)", latencies(html, cursors), latencies(lambda a: raw_page(scope, departments, clearance, a, True), cursors),
                    target_p95=TARGET_P95, note=note + " + their contacts", points=("p50", "p95"))  # fmt: skip
    latency_results(ctx, CASE, "API first page", latencies(api, first), latencies(lambda a: raw_page(scope, departments, clearance, a, False), first),
                    target_p95=TARGET_P95, note=note, points=("p50", "p95"))  # fmt: skip
    latency_results(ctx, CASE, "API deep page (≥ page 100)", latencies(api, cursors), latencies(lambda a: raw_page(scope, departments, clearance, a, False), cursors),
                    target_p95=TARGET_P95, note=note, points=("p50", "p95"))  # fmt: skip
