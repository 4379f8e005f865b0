"""Complaints at scale: the kernel's deadline sweep over the open cases' timers, and the case list
filtered to overdue cases (first page and a deep keyset page), each against hand-written SQL doing the
same work in the same run. The data set is described in _complaints_data.py (ctx.scale cases on the
customer data set, 90 % open, 1 % of the open ones overdue and not yet swept).

Every measurement that writes runs inside a transaction that is rolled back, so ours and the baseline
start from the same state (and a rerun on the same database measures the same thing)."""

from __future__ import annotations

import time

from django.db import connection, transaction
from django.utils import timezone

from bench.cases import _complaints_data as data
from bench.common import latencies, percentiles, timed

CASE = "complaints"
PAGE = 50
SAMPLES = 30


def run(ctx) -> None:
    ctx.ensure_customers()
    print(f"    complaints: generating {ctx.scale:,} cases …", flush=True)
    made = data.ensure_complaints(ctx.scale, ctx.seed)
    if made.get("created", 1):
        ctx.result(CASE, "generate cases + timers (insert_rows)", made["seconds"], unit="s",
                   note=f"open {made['open']:,}, overdue {made['overdue']:,}, history {made['history']:,}, deadline rows {made['deadlines']:,}")
    _sweep(ctx)
    _overdue_list(ctx)


# ---------------------------------------------------------------------------------------------------
# Sweep


def _rolled_back(fn):
    with transaction.atomic():
        seconds, value = timed(fn)
        transaction.set_rollback(True)
    return seconds, value


def _baseline_sweep(now):
    """The same work as hand-written set-based SQL: the breach UPDATE, the first ladder step's notice to
    each case's owner as one INSERT … SELECT, and one UPDATE moving those timers one step on. (The
    baseline stops there: later ladder steps need the working-day calendar, which SQL does not have.)"""
    cast = "CAST(d.target_id AS INTEGER)" if connection.vendor == "sqlite" else "CAST(d.target_id AS BIGINT)"
    concat = "'已超时：' || d.title"
    with connection.cursor() as cursor:
        cursor.execute("UPDATE kernel_deadline SET state = 'breached', breached_at = %s WHERE state = 'due' AND due_at <= %s",
                       [now, now])
        breached = cursor.rowcount
        cursor.execute(
            f"INSERT INTO kernel_notification (user_id, title, body, link, category, created_at) "
            f"SELECT COALESCE(c.owner_id, c.receiver_id), {concat}, d.source, d.link, 'deadline', %s "
            f"FROM kernel_deadline d JOIN complaints_complaint c ON c.id = {cast} "
            f"WHERE d.state IN ('due', 'breached') AND d.next_escalation_at <= %s AND d.escalation_level = 0 "
            f"AND d.target_type = 'complaints.complaint' AND COALESCE(c.owner_id, c.receiver_id) IS NOT NULL",
            [now, now])
        notified = cursor.rowcount
        cursor.execute(f"UPDATE kernel_deadline SET escalation_level = 1 WHERE state IN ('due', 'breached') "
                       f"AND next_escalation_at <= %s AND escalation_level = 0", [now])
    return breached, notified


def _sweep(ctx) -> None:
    from zhidu.kernel import deadlines
    from zhidu.kernel.models import Deadline

    now = timezone.now()
    Deadline.objects.filter(state="due").count()  # warm the cache the same way for both
    # The breach statement alone, as the sweep issues it, timed inside the sweep.
    statements = []

    def wrap(execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            statements.append((sql, time.perf_counter() - start))

    with connection.execute_wrapper(wrap):
        seconds, result = _rolled_back(lambda: deadlines.sweep(now))
    breach = sum(s for sql, s in statements if sql.lstrip().startswith("UPDATE") and '"breached_at"' in sql)
    base_seconds, (base_breached, base_notified) = _rolled_back(lambda: _baseline_sweep(now))
    with transaction.atomic():
        with connection.cursor() as cursor:
            start = time.perf_counter()
            cursor.execute("UPDATE kernel_deadline SET state = 'breached', breached_at = %s WHERE state = 'due' AND due_at <= %s", [now, now])
            update_only = time.perf_counter() - start
        transaction.set_rollback(True)
    ctx.result(CASE, "deadline sweep (breach + escalation ladders)", seconds * 1000, base_seconds * 1000, target="≤ 2000 ms at 1M",
               note=f"ours: {result.breached:,} breached, {result.escalated:,} ladder steps, {result.notified:,} notices; "
                    f"baseline (breach + first step to the owner only): {base_breached:,} breached, {base_notified:,} notices")
    ctx.result(CASE, "sweep: breach statement", breach * 1000, update_only * 1000,
               note="the sweep's one indexed UPDATE vs the same UPDATE hand-written")


# ---------------------------------------------------------------------------------------------------
# Overdue list


def _baseline_page(now, after):
    sql = (
        "SELECT c.*, o.username, d.name, r.username, cu.name FROM complaints_complaint c "
        "LEFT JOIN org_user o ON o.id = c.owner_id LEFT JOIN org_department d ON d.id = c.department_id "
        "LEFT JOIN org_user r ON r.id = c.receiver_id LEFT JOIN customers_customer cu ON cu.id = c.customer_id "
        "WHERE c.archived = %s AND c.next_due_at <= %s" + (" AND c.id < %s" if after else "") + " ORDER BY c.id DESC LIMIT %s"
    )
    params = [False, now] + ([after] if after else []) + [PAGE + 1]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _overdue_list(ctx) -> None:
    from zhidu.complaints.selectors import complaint_list

    admin = ctx.users["admin"]
    filters = {"overdue": "true"}
    first = complaint_list(admin, filters=filters, limit=PAGE)
    # A deep page: the cursor half-way down the overdue list, found by walking it once.
    cursors, page = [], first
    while page.next_cursor and len(cursors) < 400:
        cursors.append(page.next_cursor)
        page = complaint_list(admin, filters=filters, after=page.next_cursor, limit=PAGE)
    pages = len(cursors) + 1
    deep = cursors[len(cursors) // 2] if cursors else None
    now = timezone.now()
    shown = [("first page", None)] + ([(f"deep page ({pages // 2 + 1} of {pages})", deep)] if deep else [])
    for label, after in shown:
        ours = latencies(lambda _x: complaint_list(admin, filters=filters, after=after, limit=PAGE), range(SAMPLES))
        base = latencies(lambda _x: _baseline_page(now, after), range(SAMPLES))
        mine, theirs = percentiles(ours), percentiles(base)
        for point in ("p50", "p95"):
            ctx.result(CASE, f"overdue list, {label} {point}", mine[point], theirs[point],
                       note="admin (scope all), 50 rows, newest first; baseline: the same SELECT with its joins, raw")
    dept = ctx.users.get("dept")
    if dept is not None:
        ours = latencies(lambda _x: complaint_list(dept, filters=filters, limit=PAGE), range(SAMPLES))
        ctx.result(CASE, "overdue list, department user, first page p95", percentiles(ours)["p95"],
                   note="data scope: one department subtree")
