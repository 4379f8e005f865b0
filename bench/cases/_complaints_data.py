"""Benchmark data for complaints and grading, written through the product's bulk path
(kernel.importing.insert_rows, as the customer import does), with every value the services would have
written: the pack snapshot on the case, the timers' citations and ladders, due times from the
working-day calendar.

Complaints (`ensure_complaints(scale)`, `scale` cases on the existing customers):
- OPEN_SHARE (90 %) are open cases — the deadline sweep's working set. Their registration times lie in
  the last fortnight (an open case with a running 5-working-day timer cannot be older unless overdue):
  status mix among them registered 20 %, accepted 10 %, assigned 25 %, investigated 15 %, plan pending 5 %,
  plan approved 5 % (their timers run), carried out 10 %, informed 5 %, satisfied 5 % (timers met).
  OVERDUE_SHARE (1 %) of the open cases are overdue: a running timer's due time has passed and the sweep
  has not run yet (state still "due"); the others' running timers are all due after the generation time.
- the rest (10 %) are the finished history, registered over the two years before the last fortnight:
  closed 80 % / rejected 20 %, timers met (8 % of them late: breached, then met), archived a year after
  closing as the archive job does.
Each case has the pack's two timers (first response 1 working day, resolution 5 working days; their
ladders notify the owner when due and the manager a working day later) as kernel Deadline rows, and the
denormalised first_response_due / resolution_due / next_due_at the services keep. Due times come from
kernel.calendar.add, computed once per registration date and timer (a working-day deadline keeps the
time of day), not once per row. Timeline events and audit entries of the registration are not written.
"""

from __future__ import annotations

import datetime as dt
import random
import time

CHUNK = 5000
OPEN_SHARE = 0.90
OVERDUE_SHARE = 0.01
OPEN_STATUSES = [  # (status, weight, timers still running)
    ("registered", 20, ("first_response", "resolution")),
    ("accepted", 10, ("resolution",)),
    ("assigned", 25, ("resolution",)),
    ("investigated", 15, ("resolution",)),
    ("plan_pending", 5, ("resolution",)),
    ("plan_approved", 5, ("resolution",)),
    ("carried_out", 10, ()),
    ("informed", 5, ()),
    ("satisfied", 5, ()),
]
SUBJECTS = ["假肢接受腔不适", "矫形器交付延迟", "售后维修响应慢", "发票开具错误", "配件型号不符", "服务态度", "康复训练安排",
            "产品质量问题", "送货破损", "价格争议"]
CONTENTS = ["客户反映{s}，要求尽快处理并给予答复。", "{s}，已多次电话沟通未解决。", "客户来电称{s}，希望公司派人核实。"]
_TRACK = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def log(message: str) -> None:
    print(f"      {message}", flush=True)


def _suffix(index: int) -> str:
    """8 characters of the tracking-number alphabet, distinct for every index (a bijection mod 31^8)."""
    n = (index * 387_420_489 + 12_345) % (31 ** 8)
    chars = []
    for _i in range(8):
        n, r = divmod(n, 31)
        chars.append(_TRACK[r])
    return "".join(chars)


class DueTimes:
    """calendar.add for working-day timers, once per (local registration date, amount): the result keeps
    the time of day, so the due date of one registration date serves every case registered that day."""

    def __init__(self):
        self.cache: dict = {}

    def add(self, start: dt.datetime, amount: int, unit: str) -> dt.datetime:
        from django.utils import timezone

        from zhidu.kernel import calendar

        if unit not in ("working_days", "calendar_days", "trading_days"):
            return calendar.add(start, amount, unit)
        local = timezone.localtime(start)
        key = (local.date(), amount, unit)
        day = self.cache.get(key)
        if day is None:
            noon = local.replace(hour=12, minute=0, second=0, microsecond=0)
            day = self.cache[key] = calendar.add(noon, amount, unit).date()
        return local.replace(year=day.year, month=day.month, day=day.day)


# ---------------------------------------------------------------------------------------------------
# Development fallback: organisation and customers without the harness's CSV import


def dev_customers(n: int, seed: int = 1) -> None:
    """A quick stand-in for the harness's customer dataset: ten departments with managers, an owner per
    1,000 customers, and `n` customers bulk-inserted (kernel.importing.insert_rows)."""
    from django.db import transaction

    from zhidu.customers.importing import CUSTOMER_COLUMNS
    from zhidu.customers.models import Customer
    from zhidu.demo import fake
    from zhidu.kernel.importing import insert_rows
    from zhidu.org.models import Department, Role, User

    have = Customer.objects.count()
    if have >= n:
        return
    rng = random.Random(seed)
    with transaction.atomic():
        root = Department.objects.filter(code="ROOT").first()
        if root is None:
            root = Department.objects.create(name="公司", code="ROOT")
            Department.objects.filter(pk=root.pk).update(path=f"/{root.pk}/")
            root.refresh_from_db()
        departments = []
        for i in range(1, 11):
            dept = Department.objects.filter(code=f"D{i:02d}").first()
            if dept is None:
                dept = Department.objects.create(name=f"销售{i}部", code=f"D{i:02d}", parent=root)
                Department.objects.filter(pk=dept.pk).update(path=f"{root.path}{dept.pk}/")
                dept.refresh_from_db()
            departments.append(dept)
        from zhidu.org.services import roles_ensure_builtin

        roles_ensure_builtin()
        roles = {r.code: r for r in Role.objects.all()}
        if not User.objects.filter(username="bench-admin").exists():
            admin = User(username="bench-admin", role=roles["general_manager"], clearance=3, department=root, display_name="管理员")
            admin.set_unusable_password()
            admin.save()
        for i, dept in enumerate(departments, 1):
            if not User.objects.filter(username=f"mgr{i:02d}").exists():
                user = User(username=f"mgr{i:02d}", role=roles["dept_manager"], department=dept, clearance=3)
                user.set_unusable_password()
                user.save()
        owners_wanted = max(20, n // 1000)
        have_owners = User.objects.filter(username__startswith="owner").count()
        User.objects.bulk_create([
            User(username=f"owner{i:05d}", role=roles["sales"], department=departments[i % 10], clearance=3, password="!")
            for i in range(have_owners, owners_wanted)])
    owners = list(User.objects.filter(username__startswith="owner").values_list("pk", "department_id").order_by("pk"))
    types = ["dealer"] * 5 + ["medical"] * 4 + ["direct"]
    statuses = ["active"] * 85 + ["admitted"] * 8 + ["suspended"] * 3 + ["prospect"] * 2 + ["terminated"] + ["blacklisted"]
    start = time.perf_counter()
    for base in range(have, n, CHUNK):
        rows = []
        for i in range(base, min(n, base + CHUNK)):
            c = fake.company(rng, i + 1000)
            owner, dept = owners[i % len(owners)]
            kind = rng.choice(types)
            code = f"{'JX' if kind == 'dealer' else 'YL' if kind == 'medical' else 'ZY'}B{i:08d}"
            rows.append((kind, code, c["name"], "", "", c["name"], f"B{i:017d}", "", c["legal_representative"], c["address"],
                         c["region"], c["industry"], c["scale"], owner, dept, rng.choice(statuses), 0, {}, None, None))
        with transaction.atomic():
            insert_rows(Customer, CUSTOMER_COLUMNS, rows)
        if (base // CHUNK) % 40 == 0:
            log(f"customers {base + len(rows):,} ({time.perf_counter() - start:.0f} s)")
    _analyze()


def _analyze() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


# ---------------------------------------------------------------------------------------------------
# Complaints


def _weighted(rng, items, weights_total):
    x = rng.random() * weights_total
    for item in items:
        x -= item[1]
        if x < 0:
            return item
    return items[-1]


def ensure_complaints(n: int, seed: int = 1) -> dict:
    """Makes sure `n` benchmark complaints exist (see the module docstring); returns what was made."""
    from django.db import transaction
    from django.utils import timezone

    from zhidu.complaints import services
    from zhidu.complaints.models import Complaint
    from zhidu.customers.models import Customer
    from zhidu.demo import fake
    from zhidu.kernel import deadlines
    from zhidu.kernel.importing import insert_rows
    from zhidu.kernel.models import Deadline

    have = Complaint.objects.count()
    if have >= n:
        return {"created": 0, "existing": have}
    if have:
        raise RuntimeError(f"{have} complaints exist, fewer than the {n} wanted: use a fresh database")
    rng = random.Random(seed * 7919 + n)
    now = timezone.now()
    snapshot, version = services.policy_snapshot()
    version_id = version.pk if version else None
    timers = {t["key"]: t for t in snapshot["deadlines"]}
    citation = services.source(snapshot, "deadlines")[:300]
    ladders = {key: deadlines._clean_ladder(t.get("ladder") or []) for key, t in timers.items()}
    channels = [o["key"] for o in snapshot["channels"]]
    categories = [o["key"] for o in snapshot["categories"]]
    archive = snapshot["archive_after"]
    due_times = DueTimes()

    customers = list(Customer.objects.order_by("pk").values_list("pk", "owner_id", "department_id"))
    if not customers:
        raise RuntimeError("no customers: load the customer dataset first")

    n_open = round(n * OPEN_SHARE)
    n_overdue = round(n_open * OVERDUE_SHARE)
    total_open_weight = sum(w for _s, w, _t in OPEN_STATUSES)
    # Overdue cases are spread evenly through the open ones.
    overdue_every = n_open / n_overdue if n_overdue else None
    overdue_at = set(int(k * overdue_every) for k in range(n_overdue)) if overdue_every else set()

    def due(key, start):
        timer = timers[key]
        return due_times.add(start, timer["amount"], timer["unit"])

    def first_escalation(key, due_at):
        if not ladders[key]:
            return None
        amount, unit = deadlines.parse_after(ladders[key][0]["after"])
        return due_at if amount == 0 else due_times.add(due_at, amount, unit)

    def open_case(i):
        overdue = i in overdue_at
        while True:
            status, _w, running = _weighted(rng, OPEN_STATUSES, total_open_weight)
            if overdue and not running:
                continue
            break
        window = (2 if status == "registered" else 9) if not overdue else (6 if status == "registered" else 14)
        while True:
            created = now - dt.timedelta(seconds=rng.uniform(3600 if overdue else 60, window * 86400))
            dues = {key: due(key, created) for key in timers}
            running_dues = [dues[k] for k in running]
            if not running_dues:
                break
            if overdue == (min(running_dues) <= now):
                break
        return status, created, dues, running

    start_clock = time.perf_counter()
    made = {"open": 0, "overdue": 0, "history": 0, "deadlines": 0}
    complaint_columns = [
        "tracking_no", "access_code", "customer_id", "complainant_name", "complainant_phone", "subject", "content", "channel",
        "category", "validity", "reply_text", "invalid_reason", "receiver_id", "owner_id", "department_id", "status",
        "closed_at", "archive_after", "archived", "archived_at", "first_response_due", "resolution_due", "next_due_at",
        "pack_version_id", "policy", "created_by_id", "created_at",
    ]
    deadline_columns = [
        "target_type", "target_id", "policy_key", "title", "link", "started_at", "amount", "unit", "due_at", "state", "met_at",
        "breached_at", "source", "ladder", "ladder_source", "escalation_level", "next_escalation_at", "pack_version_id",
    ]
    history_span = (730 - 14) * 86400
    for base in range(0, n, CHUNK):
        rows, timer_rows = [], []
        for i in range(base, min(n, base + CHUNK)):
            customer_id, owner_id, department_id = customers[rng.randrange(len(customers))]
            subject = rng.choice(SUBJECTS)
            validity, reply, invalid_reason, closed_at, archive_after, archived, archived_at = "pending", "", "", None, None, False, None
            states = {}
            if i < n_open:
                status, created, dues, running = open_case(i)
                made["open"] += 1
                if status != "registered":
                    validity = "valid"
                for key in timers:
                    if key in running:
                        states[key] = ("due", None, None, 0, first_escalation(key, dues[key]))
                    else:
                        limit = min(dues[key], now)
                        met = created + (limit - created) * rng.uniform(0.1, 0.95)
                        states[key] = ("met", met, None, 0, None)
                next_due = min([dues[k] for k in running], default=None)
                if next_due is not None and next_due <= now:
                    made["overdue"] += 1
                owner = owner_id if status not in ("registered", "accepted") else None
            else:
                created = now - dt.timedelta(days=14) - dt.timedelta(seconds=rng.uniform(0, history_span))
                dues = {key: due(key, created) for key in timers}
                status = "rejected" if rng.random() < 0.2 else "closed"
                late = rng.random() < 0.08
                for key in timers:
                    if status == "rejected":
                        met = created + (dues["first_response"] - created) * rng.uniform(0.1, 0.9)
                    elif late:
                        met = dues[key] + dt.timedelta(hours=rng.uniform(1, 72))
                    else:
                        met = created + (dues[key] - created) * rng.uniform(0.2, 0.95)
                    breached = dues[key] if met > dues[key] else None
                    states[key] = ("met", met, breached, len(ladders[key]) if breached else 0, None)
                last_met = max(s[1] for s in states.values())
                closed_at = last_met + dt.timedelta(days=rng.uniform(0.5, 10)) if status == "closed" else states["first_response"][1]
                validity = "invalid" if status == "rejected" else "valid"
                if status == "rejected":
                    reply, invalid_reason = "经核实，所反映问题不属于本公司责任范围，已向客户说明。", ""
                months = archive["amount"] if archive["unit"] == "months" else 12
                archive_after = closed_at + dt.timedelta(days=round(months * 30.44))
                archived = archive_after <= now
                archived_at = archive_after if archived else None
                next_due = None
                owner = owner_id
                made["history"] += 1
            rows.append((
                f"TS{created.astimezone(dt.timezone(dt.timedelta(hours=8))):%Y%m%d}{_suffix(i)}",
                "".join(rng.choice(_TRACK) for _k in range(8)), customer_id, fake.person_name(rng), fake.mobile(rng), subject,
                rng.choice(CONTENTS).format(s=subject), rng.choice(channels), rng.choice(categories), validity, reply, invalid_reason,
                owner_id, owner, department_id, status, closed_at, archive_after, archived, archived_at,
                dues.get("first_response"), dues.get("resolution"), next_due, version_id, snapshot, owner_id, created,
            ))
            timer_rows.append((i, created, dues, states))
        with transaction.atomic():
            insert_rows(Complaint, complaint_columns, rows)
            ids = dict(Complaint.objects.filter(tracking_no__in=[r[0] for r in rows]).values_list("tracking_no", "pk"))
            drows = []
            for row, (_i, created, dues, states) in zip(rows, timer_rows, strict=True):
                pk = ids[row[0]]
                for key, timer in timers.items():
                    state, met, breached, level, next_escalation = states[key]
                    if met is not None and breached is not None:
                        state_value = "met"
                    else:
                        state_value = state
                    drows.append((
                        services.TARGET_TYPE, str(pk), services._policy_key(key), f"{row[0]} {timer['label']}"[:200],
                        services.LINK.format(id=pk), created, timer["amount"], timer["unit"], dues[key], state_value, met, breached,
                        citation, ladders[key], citation, level, next_escalation, version_id,
                    ))
            insert_rows(Deadline, deadline_columns, drows)
            made["deadlines"] += len(drows)
        if (base // CHUNK) % 20 == 0:
            log(f"complaints {base + len(rows):,} ({time.perf_counter() - start_clock:.0f} s)")
    _analyze()
    made["seconds"] = round(time.perf_counter() - start_clock, 1)
    made["now"] = now.isoformat()
    return made
