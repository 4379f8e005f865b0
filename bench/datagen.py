"""The benchmark data set, deterministic for a seed: a department tree, owners, and customers with
realistic Chinese company and person names, valid 统一社会信用代码 (unique within a data set), mobile
numbers, regions, statuses and secret levels, written as the CSV and XLSX files a customer would
import. The customers reach the database through the product's own import (see ensure_customers),
so every row passes the same validation, duplicate checks, codes and audit as a real import."""

from __future__ import annotations

import csv
import os
import random
from collections.abc import Iterator
from pathlib import Path

from stdnum.cn import uscc

from bench.common import DATA_DIR, SEED
from zhidu.demo import fake

HEADERS = ["名称", "客户类型", "统一社会信用代码", "法定代表人", "地址", "地区", "行业", "规模", "状态", "密级",
           "负责人", "部门", "联系人", "职务", "电话", "邮箱"]  # fmt: skip
DEPARTMENT_COUNT = 10
SUBDEPARTMENTS = ("A", "B")
# Share of a department's customers kept by the department itself; the rest go to its two sub-departments.
DEPARTMENT_SHARE = 0.8
CUSTOMER_TYPES = ["dealer", "medical", "direct"]  # the S01 pack's types identified by 统一社会信用代码
STATUSES = [("active", 60), ("admitted", 20), ("prospect", 10), ("suspended", 7), ("terminated", 3)]
SECRET_LEVELS = [("0", 85), ("1", 10), ("2", 5)]
BENCH_PASSWORD = "Bench-2026-zhidu!"
ADMIN, DEPT_USER = "bench_admin", "bench_dept"
PACK = "s01-prosthetics"


def owners_per_department(scale: int) -> int:
    """About one owner per 5,000 customers, at least two per department."""
    return max(2, scale // 5000 // DEPARTMENT_COUNT)


def department_codes() -> list[str]:
    return [f"D{d:02d}" for d in range(1, DEPARTMENT_COUNT + 1)]


def owner_username(department: str, index: int) -> str:
    return f"{department.lower()}_{index:03d}"


def _credit_code(index: int, seed: int, region_code: str) -> str:
    """A valid 18-character code whose organisation part is a bijection of `index` (unique for up to
    10^8 customers), with the GB 11714 and GB 32100 check characters."""
    body = f"{(index * 7919 + seed) % 100_000_000:08d}"
    total = sum(int(c) * w for c, w in zip(body, fake._ORG_WEIGHTS, strict=False))
    check = 11 - total % 11
    organisation = body + {10: "X", 11: "0"}.get(check, str(check))
    partial = "91" + region_code + organisation
    return partial + uscc.calc_check_digit(partial + "0")


def customer_records(n: int, seed: int = SEED) -> Iterator[dict]:
    """`n` import rows keyed by the importer's Chinese column headers. Department d gets 1/10 of the
    rows; within it, 80% stay with the department and 10% go to each sub-department."""
    rng = random.Random(seed)
    owners = owners_per_department(n)
    departments = department_codes()
    statuses, status_weights = zip(*STATUSES, strict=True)
    levels, level_weights = zip(*SECRET_LEVELS, strict=True)
    for index in range(n):
        department = departments[index % DEPARTMENT_COUNT]
        roll = rng.random()
        if roll >= DEPARTMENT_SHARE:
            department += SUBDEPARTMENTS[0] if roll < DEPARTMENT_SHARE + (1 - DEPARTMENT_SHARE) / 2 else SUBDEPARTMENTS[1]
        region_code, province, city = rng.choice(fake.REGIONS)
        trade = rng.choice(fake.TRADE_WORDS) + rng.choice(fake.TRADE_WORDS)
        industry_word, industry = rng.choice(fake.INDUSTRIES)
        place = city.removesuffix("市").removesuffix("区")
        # A number keeps names distinct at any scale, as branch numbers do in real registers.
        name = f"{place}{trade}{industry_word}{rng.choice(fake.LEGAL_FORMS)}"
        if index >= 1000:
            name = f"{place}{trade}{industry_word}{index}{rng.choice(fake.LEGAL_FORMS)}"
        person = fake.person_name(rng)
        phone = fake.mobile(rng)
        yield {
            "名称": name,
            "客户类型": CUSTOMER_TYPES[index % len(CUSTOMER_TYPES)],
            "统一社会信用代码": _credit_code(index, seed, region_code),
            "法定代表人": fake.person_name(rng),
            "地址": f"{province}{city}{rng.choice(fake.STREETS)}{rng.randint(1, 999)}号",
            "地区": f"{province}{city}" if province != city else city,
            "行业": industry,
            "规模": rng.choice(fake.SCALES),
            "状态": rng.choices(statuses, status_weights)[0],
            "密级": rng.choices(levels, level_weights)[0],
            "负责人": owner_username(department[:3], rng.randrange(owners)),
            "部门": department,
            "联系人": person,
            "职务": rng.choice(fake.TITLES),
            "电话": phone,
            "邮箱": f"c{index}@example.com" if rng.random() < 0.5 else "",
        }


def scale_label(n: int) -> str:
    return f"{n // 1_000_000}m" if n % 1_000_000 == 0 else f"{n // 1000}k" if n % 1000 == 0 else str(n)


def csv_file(n: int, seed: int = SEED) -> Path:
    path = DATA_DIR / f"customers-{scale_label(n)}-{seed}.csv"
    if not path.exists():
        DATA_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        write_csv(partial, n, seed)
        os.replace(partial, path)
    return path


def write_csv(path: Path, n: int, seed: int = SEED) -> None:
    with open(path, "w", newline="", encoding="utf-8-sig") as f:
        writer = csv.DictWriter(f, fieldnames=HEADERS)
        writer.writeheader()
        writer.writerows(customer_records(n, seed))


def xlsx_file(n: int, seed: int = SEED) -> Path:
    path = DATA_DIR / f"customers-{scale_label(n)}-{seed}.xlsx"
    if not path.exists():
        from openpyxl import Workbook

        DATA_DIR.mkdir(parents=True, exist_ok=True)
        partial = path.with_suffix(".partial")
        book = Workbook(write_only=True)
        sheet = book.create_sheet("客户")
        sheet.append(HEADERS)
        for record in customer_records(n, seed):
            sheet.append([record[h] for h in HEADERS])
        book.save(partial)
        os.replace(partial, path)
    return path


# ---------------------------------------------------------------------------------------------------
# The organisation (created through the product's services) and the data set in the database.


def ensure_org(scale: int) -> None:
    """The department tree, the owners of every department and the two benchmark users, created once
    per database through the org services (as an administrator would)."""
    from zhidu.org import services as org
    from zhidu.org.models import Department, Role, User

    if User.objects.filter(username=ADMIN).exists():
        return
    org.roles_ensure_builtin()
    roles = {r.code: r for r in Role.objects.all()}
    root = org.department_create(None, name="总公司", code="HQ")
    departments = {}
    for number, code in enumerate(department_codes(), start=1):
        departments[code] = org.department_create(None, name=f"销售{number}部", code=code, parent=root)
        for sub in SUBDEPARTMENTS:
            departments[code + sub] = org.department_create(None, name=f"销售{number}部{sub}组", code=code + sub, parent=departments[code])
    org.user_create(None, username=ADMIN, password=BENCH_PASSWORD, display_name="基准管理员", department=root,
                    role=roles["general_manager"], clearance=3)  # fmt: skip
    org.user_create(None, username=DEPT_USER, password=BENCH_PASSWORD, display_name="基准主管", department=departments["D01"],
                    role=roles["supervisor"], clearance=3)  # fmt: skip
    for code in department_codes():
        for index in range(owners_per_department(scale)):
            org.user_create(None, username=owner_username(code, index), password=BENCH_PASSWORD, display_name=f"{code}业务{index}",
                            department=departments[code], role=roles["sales"], clearance=3)  # fmt: skip
    assert Department.objects.count() == 1 + DEPARTMENT_COUNT * (1 + len(SUBDEPARTMENTS))


def bench_users() -> dict:
    from zhidu.org.models import User

    users = {u.username: u for u in User.objects.select_related("role", "department").filter(username__in=[ADMIN, DEPT_USER, owner_username("D01", 0)])}
    return {"admin": users[ADMIN], "dept": users[DEPT_USER], "owner": users[owner_username("D01", 0)]}


def import_file(path: str) -> dict:
    """Imports `path` through the product's import job as the benchmark administrator (run in a child
    process by the import benchmark and by ensure_customers). Returns the job's figures."""
    import time

    from zhidu.kernel import importing
    from zhidu.org.models import User

    admin = User.objects.get(username=ADMIN)
    job = importing.job_create("customers", path, user=admin)
    start = time.perf_counter()
    job = importing.run_job(job.pk)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "status": job.status, "created": job.ok_rows, "failed": job.failed_rows,
            "processed": job.processed_rows, "message": job.message}  # fmt: skip


def ensure_customers(ctx) -> None:
    from zhidu.customers.models import Customer

    have = Customer.objects.count()
    if have >= ctx.scale:
        ensure_credit(ctx.seed)
        return
    if have:
        raise RuntimeError(f"the database holds {have} customers, fewer than the scale {ctx.scale}: start from a fresh database")
    print(f"    loading {ctx.scale} customers through the CSV import …", flush=True)
    report, _rss = ctx.child("bench.datagen:import_file", str(csv_file(ctx.scale, ctx.seed)))
    if report["failed"] or report["created"] != ctx.scale:
        raise RuntimeError(f"the data set did not import cleanly: {report}")
    ensure_credit(ctx.seed)


RECEIVABLE_SHARE = 0.1  # customers with open receivables
CREDIT_CHUNK = 2000


def ensure_credit(seed: int = SEED) -> int:
    """Credit exposure: open receivables (one to three, a fifth of them past due, some part-paid) for
    about a tenth of the customers, written with the product's bulk path, then their credit accounts'
    exposure summaries computed by `credit.services.accounts_refresh`, chunk by chunk as the credit
    import does. Does nothing when receivables exist. Returns the receivables written."""
    import datetime as dt
    from decimal import Decimal

    from django.db import transaction
    from django.utils import timezone

    from zhidu.credit.models import Receivable
    from zhidu.credit.services import accounts_refresh
    from zhidu.customers.models import Customer
    from zhidu.kernel.importing import insert_rows

    if Receivable.objects.exists():
        return 0
    rng = random.Random(seed * 17 + 3)
    today = timezone.localdate()
    columns = ["customer_id", "reference", "amount", "paid_amount", "invoiced_on", "due_on", "state", "source"]
    ids = list(Customer.objects.order_by("pk").values_list("pk", flat=True))
    written = 0
    for start in range(0, len(ids), CREDIT_CHUNK):
        rows, customers = [], []
        for pk in ids[start : start + CREDIT_CHUNK]:
            if rng.random() >= RECEIVABLE_SHARE:
                continue
            customers.append(pk)
            for n in range(rng.randint(1, 3)):
                amount = Decimal(rng.randint(2_000, 500_000))
                paid = Decimal(0) if rng.random() < 0.7 else (amount * Decimal(rng.randint(10, 90)) / 100).quantize(Decimal("0.01"))
                invoiced = today - dt.timedelta(days=rng.randint(5, 150))
                due = invoiced + dt.timedelta(days=rng.choice([30, 60, 90])) if rng.random() < 0.8 else today - dt.timedelta(days=rng.randint(1, 60))
                rows.append((pk, f"AR{pk:08d}-{n + 1}", amount, paid, invoiced, max(due, invoiced), "open", "imported"))
        with transaction.atomic():
            insert_rows(Receivable, columns, rows)
            accounts_refresh(customers)
        written += len(rows)
    return written
