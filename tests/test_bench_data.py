"""The benchmark data set is what the benchmarks claim: the same for a seed, valid for the product's
own import (no row refused), with unique valid 统一社会信用代码 and the department shares the
department-scope benchmarks rely on."""

import itertools
from collections import Counter

import pytest
from stdnum.cn import uscc

from bench import datagen


def test_same_seed_same_rows_other_seed_other_rows():
    first = list(itertools.islice(datagen.customer_records(5000, seed=7), 50))
    again = list(itertools.islice(datagen.customer_records(5000, seed=7), 50))
    other = list(itertools.islice(datagen.customer_records(5000, seed=8), 50))
    assert first == again
    assert first != other


def test_credit_codes_valid_and_unique_names_distinct():
    records = list(datagen.customer_records(30_000, seed=11))
    codes = [r["统一社会信用代码"] for r in records]
    assert len(set(codes)) == len(codes)
    assert all(uscc.is_valid(code) for code in codes[:2000])
    assert len({r["名称"] for r in records[1000:]}) == len(records) - 1000
    phones = [r["电话"] for r in records]
    assert all(len(p) == 11 and p.startswith("1") for p in phones)


def test_departments_get_a_tenth_each_mostly_at_department_level():
    departments = Counter(r["部门"] for r in datagen.customer_records(20_000, seed=3))
    assert departments["D01"] + departments["D01A"] + departments["D01B"] == 2000
    assert 0.75 < departments["D01"] / 2000 < 0.85


@pytest.mark.django_db
def test_the_data_set_imports_through_the_product_without_a_refused_row(tmp_path, settings, pack):
    from zhidu.customers.models import Customer
    from zhidu.customers.selectors import customer_list

    pack(datagen.PACK)
    datagen.ensure_org(400)
    path = tmp_path / "customers.csv"
    datagen.write_csv(path, 400, seed=5)
    report = datagen.import_file(str(path))
    assert report["status"] == "done"
    assert (report["created"], report["failed"]) == (400, 0)
    users = datagen.bench_users()
    expected = Customer.objects.filter(department__code="D01").count()
    seen = customer_list(users["dept"], limit=200).items
    assert expected > 0 and len(seen) == expected  # department scope: D01 itself, not its sub-groups
    # Credit exposure, through the product's bulk path and its account refresh.
    from django.db.models import F, Sum

    from zhidu.credit.models import CreditAccount, Receivable

    written = datagen.ensure_credit(seed=5)
    assert written == Receivable.objects.count() > 0
    with_receivables = Receivable.objects.values("customer_id").distinct().count()
    assert 0.04 * 400 < with_receivables < 0.2 * 400
    assert Receivable.objects.filter(due_on__lt=F("invoiced_on")).count() == 0
    sums = dict(Receivable.objects.filter(state="open").values("customer_id").annotate(s=Sum(F("amount") - F("paid_amount"))).values_list("customer_id", "s"))
    accounts = {a.customer_id: a for a in CreditAccount.objects.filter(customer_id__in=sums)}
    assert set(accounts) == set(sums)
    assert all(accounts[c].exposure == s == accounts[c].receivables_outstanding for c, s in sums.items())
    assert datagen.ensure_credit(seed=5) == 0  # already there: nothing more
