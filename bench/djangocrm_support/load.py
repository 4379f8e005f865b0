"""Loads the benchmark's companies and contacts into DjangoCRM with bulk_create, in DjangoCRM's own
process (its venv, its settings: djangocrm_settings.py).

    python load.py CSV USERNAME PASSWORD

CSV is the file zhidu's benchmark imports (bench/datagen.py: one company and its contact per row, the
importer's Chinese headers). Creates the superuser USERNAME if missing. Loads nothing when companies are
already there. Prints one JSON line: companies, contacts, seconds."""

import csv
import json
import os
import sys
import time

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangocrm_settings")

import django  # noqa: E402

django.setup()

from django.contrib.auth import get_user_model  # noqa: E402
from django.db import transaction  # noqa: E402

from common.models import Department  # noqa: E402
from crm.models import ClientType, Company, Contact  # noqa: E402

BATCH = 5000
# zhidu's customer types → DjangoCRM's client types of its "Global sales" department.
TYPES = {"dealer": "dealer", "medical": "end customer", "direct": "distributor"}


def main(path: str, username: str, password: str) -> None:
    users = get_user_model()
    user = users.objects.filter(username=username).first()
    if user is None:
        user = users.objects.create_superuser(username, f"{username}@example.com", password)
    department = Department.objects.get(name="Global sales")
    types = {t.name: t for t in ClientType.objects.filter(department=department)}
    start = time.perf_counter()
    if Company.objects.exists():
        print(json.dumps({"companies": Company.objects.count(), "contacts": Contact.objects.count(), "seconds": 0, "loaded": False}))
        return
    companies = contacts = 0
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        batch = []
        for row in rows:
            batch.append(row)
            if len(batch) == BATCH:
                companies, contacts = _load(batch, user, department, types, companies, contacts)
                batch = []
        if batch:
            companies, contacts = _load(batch, user, department, types, companies, contacts)
    print(json.dumps({"companies": companies, "contacts": contacts, "seconds": round(time.perf_counter() - start, 1), "loaded": True}))


def _load(rows, user, department, types, companies, contacts):
    with transaction.atomic():
        made = Company.objects.bulk_create(
            [
                Company(
                    full_name=r["名称"],
                    registration_number=r["统一社会信用代码"],
                    type=types.get(TYPES.get(r["客户类型"], "")),
                    address=r["地址"],
                    region=r["地区"],
                    phone=r["电话"],
                    email=r["邮箱"],
                    owner=user,
                    department=department,
                )
                for r in rows
            ]
        )
        people = [
            Contact(
                company=company,
                first_name=r["联系人"],
                title=r["职务"],
                phone=r["电话"],
                email=r["邮箱"],
                owner=user,
                department=department,
            )
            for company, r in zip(made, rows, strict=True)
            if r["联系人"]
        ]
        Contact.objects.bulk_create(people)
    return companies + len(made), contacts + len(people)


if __name__ == "__main__":
    main(*sys.argv[1:4])
