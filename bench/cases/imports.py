"""Import of the scale's customers from XLSX and from CSV through the product's own import job (reading,
validation, duplicate checks, codes, contacts, timeline, audit; chunked and resumable), against the
same rows inserted raw: values already validated and computed, customers and their contacts written
in one transaction with executemany (SQLite) or COPY (PostgreSQL), nothing else.

Each import runs in a fresh process, so its peak RSS is its own; the process also notes its RSS once a
tenth of the rows are in and at the end, which shows whether memory grows with the rows. The XLSX
import's customers are removed again (their audit entries stay: the log is append-only and chained);
the CSV import leaves the data set loaded for the cases that follow."""

from __future__ import annotations

import time

CASE = "imports"
RAW_BATCH = 10_000
TARGET_RATE = 20_000


def run(ctx) -> None:
    from bench import datagen
    from zhidu.customers.models import Customer

    if Customer.objects.exists():
        print("    customers are already loaded: the import case needs an empty customer table, skipped", flush=True)
        ctx.result(CASE, "skipped (customers already loaded)", 0, unit="", note="run on a fresh database")
        return
    n = ctx.scale
    csv_path, xlsx_path = datagen.csv_file(n, ctx.seed), datagen.xlsx_file(n, ctx.seed)

    print(f"    raw insert of {n} customers and contacts …", flush=True)
    raw_seconds = raw_insert(ctx)
    raw_rate = n / raw_seconds
    ctx.result(CASE, "raw insert (customers + contacts)", raw_rate, unit="rows/s", better="higher",
               note="executemany, one transaction" if ctx.database == "sqlite" else "COPY, one transaction")  # fmt: skip
    remove_customers()

    for kind, path in (("XLSX", xlsx_path), ("CSV", csv_path)):
        print(f"    product import of the {kind} file …", flush=True)
        report, peak = ctx.child("bench.cases.imports:import_measured", str(path))
        if report["status"] != "done" or report["created"] != n:
            raise RuntimeError(f"the {kind} import did not finish cleanly: {report}")
        rate = n / report["seconds"]
        ctx.result(CASE, f"{kind} import", rate, raw_rate, unit="rows/s", better="higher",
                   target=f"≥ {TARGET_RATE} rows/s and ≥ 1/3 of raw (ratio ≥ 0.33)",
                   note=f"{report['seconds']:.1f} s; ratio = ours/raw")  # fmt: skip
        ctx.result(CASE, f"{kind} import peak RSS", peak, unit="MB", note="whole process: Python, Django, the import")
        ctx.result(CASE, f"{kind} import RSS growth 10%→100% of rows", report["rss_end_mb"] - report["rss_tenth_mb"], unit="MB",
                   target="flat (≈ 0, not growing with rows)", note=f"{report['rss_tenth_mb']:.0f} → {report['rss_end_mb']:.0f} MB")  # fmt: skip
        if kind == "XLSX":
            remove_customers()


# ---------------------------------------------------------------------------------------------------
# The import, in a child process (bench.child)


def _rss_mb() -> float:
    import os

    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def import_measured(path: str) -> dict:
    from bench.datagen import ADMIN
    from zhidu.kernel import importing
    from zhidu.org.models import User

    admin = User.objects.get(username=ADMIN)
    job = importing.job_create("customers", path, user=admin)
    marks = {}

    def progress(current):
        if "tenth" not in marks and current.total_rows and current.processed_rows * 10 >= current.total_rows:
            marks["tenth"] = _rss_mb()

    start = time.perf_counter()
    job = importing.run_job(job.pk, progress=progress)
    seconds = time.perf_counter() - start
    end = _rss_mb()
    return {
        "seconds": seconds, "status": job.status, "created": job.ok_rows, "failed": job.failed_rows,
        "message": job.message, "rss_tenth_mb": marks.get("tenth", end), "rss_end_mb": end,
    }  # fmt: skip


# ---------------------------------------------------------------------------------------------------
# The raw baseline


def _raw_batches(ctx):
    """The data set's rows as the values the import would store, RAW_BATCH at a time: (customer rows,
    contact rows keyed by code). Computing them is not timed."""
    import datetime

    from django.db import connection
    from django.utils import timezone

    from bench import datagen
    from zhidu.customers import validation
    from zhidu.customers.importing import NameSearch
    from zhidu.org.models import Department, User

    users = dict(User.objects.values_list("username", "pk"))
    departments = dict(Department.objects.values_list("code", "pk"))
    names = NameSearch()
    # As the database stores them (on SQLite: the text Django writes).
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    review_on = connection.ops.adapt_datefield_value(timezone.localdate() + datetime.timedelta(days=182))
    customers, contacts = [], []
    for index, r in enumerate(datagen.customer_records(ctx.scale, ctx.seed)):
        code = f"RAW{index:09d}"
        pinyin, initials = names(r["名称"])
        customers.append((
            r["客户类型"], code, r["名称"], pinyin, initials, validation.name_key(r["名称"]), r["统一社会信用代码"], "",
            r["法定代表人"], r["地址"], r["地区"], r["行业"], r["规模"], users[r["负责人"]], departments[r["部门"]], r["状态"],
            int(r["密级"]), "{}", review_on, users[datagen.ADMIN], 1, now, now,
        ))  # fmt: skip
        contacts.append((code, r["联系人"], r["职务"], r["电话"], validation.phone_reversed(r["电话"]), r["邮箱"], True, now))
        if len(customers) == RAW_BATCH:
            yield customers, contacts
            customers, contacts = [], []
    if customers:
        yield customers, contacts


CUSTOMER_COLUMNS = (
    "customer_type, code, name, name_pinyin, name_initials, name_key, credit_code, id_number, legal_representative, "
    "address, region, industry, scale, owner_id, department_id, status, secret_level, extra, next_review_on, "
    "created_by_id, version, created_at, updated_at"
)
CONTACT_COLUMNS = "customer_id, name, title, phone, phone_reversed, email, is_primary, created_at"


def raw_insert(ctx) -> float:
    """Seconds spent in the database writing the data set's customers and contacts in one transaction."""
    from django.db import connection, transaction

    postgres = connection.vendor == "postgresql"
    spent = 0.0
    with transaction.atomic():
        cursor = connection.cursor().cursor  # the driver's own cursor: no Django wrapping
        for customers, contacts in _raw_batches(ctx):
            start = time.perf_counter()
            if postgres:
                with cursor.copy(f"COPY customers_customer ({CUSTOMER_COLUMNS}) FROM STDIN") as copy:
                    for row in customers:
                        copy.write_row(row)
                cursor.execute("SELECT code, id FROM customers_customer WHERE code = ANY(%s)", [[c[1] for c in customers]])
                ids = dict(cursor.fetchall())
                with cursor.copy(f"COPY customers_contact ({CONTACT_COLUMNS}) FROM STDIN") as copy:
                    for row in contacts:
                        copy.write_row((ids[row[0]], *row[1:]))
            else:
                cursor.executemany(f"INSERT INTO customers_customer ({CUSTOMER_COLUMNS}) VALUES ({', '.join('?' * 23)})", customers)
                codes = [c[1] for c in customers]
                ids = dict(cursor.execute(f"SELECT code, id FROM customers_customer WHERE code IN ({', '.join('?' * len(codes))})", codes).fetchall())
                cursor.executemany(f"INSERT INTO customers_contact ({CONTACT_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                                   [(ids[r[0]], *r[1:]) for r in contacts])  # fmt: skip
            spent += time.perf_counter() - start
        start = time.perf_counter()
    return spent + (time.perf_counter() - start)  # the commit


def remove_customers() -> None:
    """Removes every customer with its contacts and timeline (the case starts from an empty customer
    table, so these are the ones it wrote). Audit entries stay."""
    from django.db import connection, transaction

    with transaction.atomic(), connection.cursor() as cursor:
        for table in ("customers_timelineevent", "customers_contact", "customers_customer"):
            cursor.execute(f"DELETE FROM {table}")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE customers_customer" if connection.vendor == "postgresql" else "ANALYZE")
