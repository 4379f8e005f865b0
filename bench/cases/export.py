"""Export to XLSX at scale: `customers.exporting.export_customers` of every customer as the benchmark
administrator, in a child process (rows/s and the process's peak RSS), and of one department's
customers (about a tenth of the rows): a streamed export keeps the same peak memory for ten times the
rows.

Baseline: the same columns (customer, owner, department, primary contact) read from a raw streaming
cursor (server-side on PostgreSQL) and written with a plain openpyxl write-only loop, also in a child
process — no masking, labels or audit."""

from __future__ import annotations

import time
from pathlib import Path

CASE = "export"

_PLAIN = """
SELECT c.code, c.name, c.customer_type, c.credit_code, c.id_number, c.legal_representative, c.address, c.region,
       c.industry, c.scale, c.status, u.username, d.code, p.name, p.title, p.phone, p.email, c.secret_level, c.created_at
FROM customers_customer c
JOIN org_user u ON u.id = c.owner_id
JOIN org_department d ON d.id = c.department_id
LEFT JOIN customers_contact p ON p.customer_id = c.id AND p.is_primary = %s
ORDER BY c.id DESC
"""


def _target(name: str) -> Path:
    from django.conf import settings

    directory = Path(settings.VAR_DIR) / "tmp"
    directory.mkdir(parents=True, exist_ok=True)
    return directory / name


def export_ours(username: str, department_id: int | None = None) -> dict:
    """Child: the product's export as `username` (optionally one department); seconds, rows, bytes."""
    from zhidu.customers.exporting import export_customers
    from zhidu.org.models import User

    user = User.objects.select_related("role", "department").get(username=username)
    path = _target("bench-export-ours.xlsx")
    start = time.perf_counter()
    _path, _name, rows = export_customers(user, {"department": department_id} if department_id else {}, path=path)
    seconds = time.perf_counter() - start
    size = path.stat().st_size
    path.unlink()
    return {"seconds": seconds, "rows": rows, "bytes": size}


def export_plain() -> dict:
    """Child: the baseline — raw streaming cursor into an openpyxl write-only sheet."""
    from django.db import connection
    from openpyxl import Workbook

    path = _target("bench-export-plain.xlsx")
    start = time.perf_counter()
    book = Workbook(write_only=True)
    sheet = book.create_sheet("customers")
    sheet.append(["code", "name", "type", "credit_code", "id_number", "legal", "address", "region", "industry", "scale",
                  "status", "owner", "department", "contact", "title", "phone", "email", "secret_level", "created_at"])  # fmt: skip
    rows = 0
    with connection.chunked_cursor() as cursor:
        cursor.execute(_PLAIN, [True])
        while batch := cursor.fetchmany(2000):
            for row in batch:
                row = list(row)
                row[18] = row[18].strftime("%Y-%m-%d %H:%M") if hasattr(row[18], "strftime") else row[18]
                sheet.append(row)
            rows += len(batch)
    book.save(path)
    seconds = time.perf_counter() - start
    size = path.stat().st_size
    path.unlink()
    return {"seconds": seconds, "rows": rows, "bytes": size}


def run(ctx) -> None:
    ctx.ensure_customers()
    admin = ctx.users["admin"]
    department = ctx.users["dept"].department
    print(f"    {CASE}: one department as admin …", flush=True)
    part, part_rss = ctx.child("bench.cases.export:export_ours", admin.username, department.pk)
    print(f"    {CASE}: all customers as admin …", flush=True)
    ours, ours_rss = ctx.child("bench.cases.export:export_ours", admin.username)
    print(f"    {CASE}: plain openpyxl baseline …", flush=True)
    plain, plain_rss = ctx.child("bench.cases.export:export_plain")
    note = f"{ours['rows']} rows, {ours['bytes'] / 1e6:.0f} MB file; baseline: raw cursor + openpyxl write-only loop ({plain['rows']} rows)"
    ctx.result(CASE, "all customers: rows/s", ours["rows"] / ours["seconds"], plain["rows"] / plain["seconds"], unit="rows/s", better="higher", note=note)
    ctx.result(CASE, "all customers: seconds", ours["seconds"], plain["seconds"], unit="s", note=note)
    ctx.result(CASE, "all customers: peak RSS", ours_rss, plain_rss, unit="MB", target="flat as rows grow", note=note)
    ctx.result(
        CASE, f"one department ({part['rows']} rows): peak RSS", part_rss, ours_rss, unit="MB", target="≈ all customers' peak",
        note="baseline column: the all-customers export's peak (same process kind, ~10× the rows)",
    )  # fmt: skip
    ctx.result(CASE, f"one department ({part['rows']} rows): rows/s", part["rows"] / part["seconds"], unit="rows/s", better="higher")
