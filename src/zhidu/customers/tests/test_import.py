"""Customer import: good rows go in, every bad row is reported with its row number and reason, re-runs
create no duplicates, interrupted jobs resume, CSV (UTF-8, GB18030) and XLSX all work."""

import csv
import io

import openpyxl
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from stdnum.cn import ric, uscc

from zhidu.customers.models import Contact, Customer, TimelineEvent
from zhidu.kernel import importing
from zhidu.kernel.models import AuditEntry, ImportJob, ImportRowError

@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    # The org fixture creates a dozen users; hashing their passwords properly is not what is tested here.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


HEADER = ["名称", "客户类型", "统一社会信用代码", "身份证号", "负责人", "部门", "联系人", "电话", "邮箱", "地区"]


def credit_code(n: int) -> str:
    body = f"91110000{n:09d}"
    return body + uscc.calc_check_digit(body)


def id_number(n: int) -> str:
    body = f"11010119900101{n:03d}"
    return body + ric.calc_check_digit(body + "0")  # stdnum takes the number with a check-digit slot


def write_csv(path, header, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def write_xlsx(path, header, rows):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(header)
    for row in rows:
        sheet.append(row)
    book.save(path)
    return path


def mixed_rows(existing_code):
    """Data rows 2..12 of the sheet (row 1 is the header): four good, seven bad."""
    return [
        ["北京甲科技有限公司", "企业", credit_code(1), "", "sales_a", "sales-a", "张三", "13812345678", "zhang@example.com", "北京"],  # 2 good
        ["北京乙贸易有限公司", "企业", "91110000XXXXXXXXXX", "", "sales_a", "", "", "", "", ""],  # 3 bad credit code
        ["", "企业", credit_code(3), "", "sales_a", "", "", "", "", ""],  # 4 missing name
        ["北京丙物流有限公司", "企业", credit_code(4), "", "sales_a2", "", "李四", "010-62345678", "", "北京"],  # 5 good (landline)
        ["北京丙物流（重复）", "企业", credit_code(4), "", "sales_a", "", "", "", "", ""],  # 6 duplicate of row 5
        ["已有客户公司", "企业", existing_code, "", "sales_a", "", "", "", "", ""],  # 7 duplicate of an existing customer
        ["北京丁建材有限公司", "企业", credit_code(7), "", "nobody", "", "", "", "", ""],  # 8 unknown owner
        ["北京戊食品有限公司", "企业", credit_code(8), "", "sales_a", "", "王五", "12345", "", ""],  # 9 invalid phone
        ["王小明", "个人", "", id_number(9), "sales_a1", "team-a1", "", "13912345678", "", "海淀"],  # 10 good, individual
        ["北京己五金有限公司", "企业", credit_code(10), "", "", "", "", "", "", ""],  # 11 good, owner = the importing user
        ["上海庚服饰有限公司", "企业", credit_code(11), "", "sales_b", "sales-b", "", "", "", ""],  # 12 outside manager_a's scope
    ]


@pytest.fixture
def existing(org):
    from zhidu.customers import services

    code = credit_code(900)
    services.customer_create(org.sales_a, {"name": "已有客户有限公司", "customer_type": "enterprise", "credit_code": code})
    return code


def run_import(path, user, **options):
    job = importing.job_create("customers", path, user=user, options=options)
    return importing.run_job(job.pk)


def errors_by_row(job):
    found = {}
    for e in ImportRowError.objects.filter(job=job).order_by("row_number", "id"):
        found.setdefault(e.row_number, []).append((e.field, e.message))
    return found


@pytest.mark.django_db
@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gb18030"])
def test_good_rows_go_in_and_every_bad_row_is_reported(org, existing, tmp_path, fmt):
    rows = mixed_rows(existing)
    if fmt == "xlsx":
        path = write_xlsx(tmp_path / "customers.xlsx", HEADER, rows)
    else:
        path = write_csv(tmp_path / "customers.csv", HEADER, rows, encoding="gb18030" if fmt == "gb18030" else "utf-8")

    job = run_import(path, org.manager_a)

    assert job.status == ImportJob.Status.DONE
    assert (job.total_rows, job.processed_rows, job.ok_rows, job.failed_rows) == (11, 11, 4, 7)
    names = set(Customer.objects.exclude(credit_code=existing).values_list("name", flat=True))
    assert names == {"北京甲科技有限公司", "北京丙物流有限公司", "王小明", "北京己五金有限公司"}
    errors = errors_by_row(job)
    assert sorted(errors) == [3, 4, 6, 7, 8, 9, 12]
    assert errors[3][0][0] == "credit_code" and "统一社会信用代码无效" in errors[3][0][1]
    assert errors[4][0] == ("name", "客户名称不能为空")
    assert errors[6][0][0] == "credit_code" and "第 5 行" in errors[6][0][1]
    assert errors[7][0][0] == "credit_code" and "已存在" in errors[7][0][1]
    assert errors[8][0] == ("owner", "负责人不存在：nobody")
    assert errors[9][0][0] == "phone" and "12345" in errors[9][0][1]
    assert errors[12][0][0] == "owner" and "数据范围" in errors[12][0][1]


@pytest.mark.django_db
def test_imported_customers_are_complete(org, existing, tmp_path):
    job = run_import(write_csv(tmp_path / "c.csv", HEADER, mixed_rows(existing)), org.manager_a)

    a = Customer.objects.get(credit_code=credit_code(1))
    assert (a.customer_type, a.owner, a.department, a.region) == ("enterprise", org.sales_a, org.dept_a, "北京")
    assert a.code.startswith("QY") and a.name_initials == "bjjkjyxgs" and a.name_pinyin.startswith("beijing")
    assert a.name_key == "北京甲科技"
    contact = Contact.objects.get(customer=a)
    assert (contact.name, contact.phone, contact.phone_reversed, contact.email, contact.is_primary) == ("张三", "13812345678", "87654321831", "zhang@example.com", True)
    landline = Contact.objects.get(customer__credit_code=credit_code(4))
    assert landline.phone == "01062345678"
    person = Customer.objects.get(id_number=id_number(9))
    assert (person.customer_type, person.department, person.code[:2]) == ("individual", org.team_a1, "GR")
    assert person.contacts.get().name == "王小明"  # no contact column: the contact is the customer
    default_owner = Customer.objects.get(credit_code=credit_code(10))
    assert (default_owner.owner, default_owner.department) == (org.manager_a, org.dept_a)
    assert default_owner.created_by == org.manager_a

    created = Customer.objects.filter(timeline__kind=TimelineEvent.Kind.IMPORTED)
    assert created.count() == job.ok_rows
    event = TimelineEvent.objects.get(customer=a, kind=TimelineEvent.Kind.IMPORTED)
    assert event.changes == {"job": job.pk, "row": 2}
    codes = list(Customer.objects.filter(customer_type="enterprise").exclude(credit_code=existing).values_list("code", flat=True))
    assert len(set(codes)) == len(codes) == 3

    entries = AuditEntry.objects.filter(action="customers.import")
    assert entries.count() == 1  # one chunk, one entry
    assert sorted(entries.get().details["created"]) == sorted(created.values_list("pk", flat=True))
    assert entries.get().actor_username == "manager_a"


@pytest.mark.django_db
def test_rerunning_the_same_file_creates_no_duplicates(org, existing, tmp_path):
    path = write_xlsx(tmp_path / "c.xlsx", HEADER, mixed_rows(existing))
    first = run_import(path, org.manager_a)
    count = Customer.objects.count()

    second = run_import(path, org.manager_a)

    assert Customer.objects.count() == count
    assert Contact.objects.filter(customer__credit_code=credit_code(1)).count() == 1
    assert (second.ok_rows, second.failed_rows) == (0, 11)
    assert "已存在" in errors_by_row(second)[2][0][1]
    assert first.ok_rows == 4


@pytest.mark.django_db
def test_update_existing_changes_the_file_instead_of_refusing(org, existing, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["名称", "客户类型", "统一社会信用代码", "地址", "地区"], [["已有客户有限公司", "企业", existing, "新地址 8 号", "上海"]])
    refused = run_import(path, org.manager_a)
    assert refused.failed_rows == 1

    job = run_import(path, org.manager_a, update_existing=True)

    customer = Customer.objects.get(credit_code=existing)
    assert (job.ok_rows, job.updated_rows, job.failed_rows) == (1, 1, 0)
    assert (customer.address, customer.region, customer.version) == ("新地址 8 号", "上海", 2)
    event = customer.timeline.get(kind=TimelineEvent.Kind.UPDATED)
    assert event.changes["region"] == ["", "上海"]
    assert Customer.objects.count() == 1


@pytest.mark.django_db
def test_update_existing_outside_scope_is_refused(org, tmp_path):
    from zhidu.customers import services

    code = credit_code(901)
    services.customer_create(org.sales_b, {"name": "二部客户有限公司", "customer_type": "enterprise", "credit_code": code})
    path = write_csv(tmp_path / "c.csv", ["名称", "客户类型", "统一社会信用代码", "地区"], [["二部客户有限公司", "企业", code, "上海"]])

    job = run_import(path, org.manager_a, update_existing=True)

    assert job.failed_rows == 1 and "数据范围" in errors_by_row(job)[2][0][1]
    assert Customer.objects.get(credit_code=code).region == ""


def many_rows(n, start=0):
    return [[f"批量客户{i}有限公司", "企业", credit_code(start + i), "", "sales_a", "", f"联系人{i}", f"1381234{i:04d}", "", ""] for i in range(n)]


@pytest.mark.django_db
def test_interrupted_job_resumes_after_the_last_committed_chunk(org, tmp_path):
    rows = many_rows(7)
    rows[4][2] = "BAD"  # row 6
    path = write_csv(tmp_path / "c.csv", HEADER, rows)
    job = importing.job_create("customers", path, user=org.gm)

    importing.run_job(job.pk, chunk_size=3, stop_after_chunks=1)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.ok_rows) == (ImportJob.Status.RUNNING, 3, 3)
    assert Customer.objects.count() == 3

    # A live runner holds the job; once its heartbeat is old it counts as interrupted.
    with pytest.raises(importing.Conflict):
        importing.run_job(job.pk, chunk_size=3)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at - importing.STALE_AFTER * 2)
    job = importing.run_job(job.pk, chunk_size=3)

    assert (job.status, job.processed_rows, job.ok_rows, job.failed_rows) == (ImportJob.Status.DONE, 7, 6, 1)
    assert Customer.objects.count() == 6
    assert Contact.objects.count() == 6
    assert TimelineEvent.objects.filter(kind=TimelineEvent.Kind.IMPORTED).count() == 6
    assert list(ImportRowError.objects.filter(job=job).values_list("row_number", flat=True)) == [6]


@pytest.mark.django_db
def test_a_failing_chunk_changes_nothing_and_the_job_resumes(org, tmp_path, monkeypatch):
    from zhidu.customers.importing import CustomerImporter

    path = write_csv(tmp_path / "c.csv", HEADER, many_rows(6))
    job = importing.job_create("customers", path, user=org.gm)
    original = CustomerImporter.process_chunk
    calls = {"n": 0}

    def flaky(self, rows):
        calls["n"] += 1
        result = original(self, rows)
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return result

    monkeypatch.setattr(CustomerImporter, "process_chunk", flaky)
    with pytest.raises(RuntimeError):
        importing.run_job(job.pk, chunk_size=2)
    job.refresh_from_db()
    assert (job.status, job.processed_rows, job.message) == (ImportJob.Status.FAILED, 2, "disk full")
    assert Customer.objects.count() == 2  # the second chunk was rolled back whole

    job = importing.run_job(job.pk, chunk_size=2)
    assert (job.status, job.ok_rows, Customer.objects.count()) == (ImportJob.Status.DONE, 6, 6)


@pytest.mark.django_db
def test_codes_come_from_one_block_per_prefix_per_chunk(org, tmp_path):
    from zhidu.customers.models import CodeSequence

    path = write_csv(tmp_path / "c.csv", HEADER, many_rows(5))
    run_import(path, org.gm)
    codes = sorted(Customer.objects.values_list("code", flat=True))
    sequence = CodeSequence.objects.get()
    assert sequence.last_value == 5
    assert [c[-5:] for c in codes] == ["00001", "00002", "00003", "00004", "00005"]


@pytest.mark.django_db
def test_error_file_has_the_original_columns_and_the_reasons(org, existing, tmp_path):
    job = run_import(write_csv(tmp_path / "c.csv", HEADER, mixed_rows(existing)), org.manager_a)

    book = openpyxl.load_workbook(job.error_file, read_only=True)
    rows = list(book.worksheets[0].iter_rows(values_only=True))
    assert list(rows[0]) == [*HEADER, "原行号", "错误原因"]
    assert [r[-2] for r in rows[1:]] == [3, 4, 6, 7, 8, 9, 12]
    assert rows[1][0] == "北京乙贸易有限公司" and "统一社会信用代码无效" in rows[1][-1]
    assert rows[5][4] == "nobody" and rows[5][-1] == "负责人不存在：nobody"


@pytest.mark.django_db
def test_several_reasons_of_one_row_are_all_given(org, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER, [["", "企业", "BAD", "", "nobody", "", "x", "123", "not-an-email", ""]])
    job = run_import(path, org.gm)
    fields = [f for f, _ in errors_by_row(job)[2]]
    assert {"name", "credit_code", "owner", "phone", "email"} <= set(fields)
    assert job.failed_rows == 1


@pytest.mark.django_db
def test_missing_required_column_fails_the_job_with_a_clear_message(org, tmp_path):
    job = run_import(write_csv(tmp_path / "c.csv", ["客户类型", "电话"], [["企业", "13812345678"]]), org.gm)
    assert job.status == ImportJob.Status.FAILED
    assert job.message == "文件缺少必需的列：名称"
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_english_headers_blank_rows_and_unknown_columns(org, tmp_path):
    header = ["Name", "type", "credit_code", "owner", "phone", "Remark"]
    rows = [["Acme 有限公司", "enterprise", credit_code(1), "sales_a", "13812345678", "x"], ["", "", "", "", "", ""], ["Beta 有限公司", "企业", credit_code(2), "sales_a", "", ""]]
    job = run_import(write_csv(tmp_path / "c.csv", header, rows), org.gm)
    assert (job.ok_rows, job.failed_rows, job.processed_rows) == (2, 0, 3)
    assert "Remark" in job.message
    assert Customer.objects.get(credit_code=credit_code(2)).name == "Beta 有限公司"


@pytest.mark.django_db
def test_secret_level_above_the_importers_clearance_is_refused(org, tmp_path):
    path = write_csv(tmp_path / "c.csv", ["名称", "客户类型", "统一社会信用代码", "密级"], [["机密客户有限公司", "企业", credit_code(1), "绝密"], ["秘密客户有限公司", "企业", credit_code(2), "机密"]])
    job = run_import(path, org.manager_a)  # clearance 机密
    assert (job.ok_rows, job.failed_rows) == (1, 1)
    assert errors_by_row(job)[2][0][0] == "secret_level"


@pytest.mark.django_db
def test_a_user_without_the_import_permission_cannot_import(org, tmp_path):
    job = run_import(write_csv(tmp_path / "c.csv", HEADER, many_rows(1)), org.sales_a)
    assert job.status == ImportJob.Status.FAILED and "权限" in job.message
    assert Customer.objects.count() == 0


@pytest.mark.django_db
def test_cli_imports_with_progress_and_resumes(org, tmp_path):
    path = write_csv(tmp_path / "c.csv", HEADER, many_rows(5))
    job = importing.job_create("customers", path, user=org.gm)
    importing.run_job(job.pk, chunk_size=2, stop_after_chunks=1)
    ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.FAILED)  # e.g. Ctrl-C

    out = io.StringIO()
    call_command("import", "customers", str(path), "--user", "gm", "--chunk-size", "2", stdout=out)

    assert f"继续未完成的导入任务 #{job.pk}" in out.getvalue()
    assert "导入完成" in out.getvalue()
    assert Customer.objects.count() == 5
    assert ImportJob.objects.count() == 1


@pytest.mark.django_db
def test_cli_without_user_needs_owners_in_the_file_and_reports_errors(org, tmp_path, capsys):
    rows = many_rows(2)
    rows[1][4] = ""
    out = io.StringIO()
    call_command("import", "customers", str(write_csv(tmp_path / "c.csv", HEADER, rows)), stdout=out)
    assert "失败 failed 1" in out.getvalue()
    assert "第 3 行" in out.getvalue() and "负责人不能为空" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("import", "customers", str(tmp_path / "c.csv"), "--user", "sales_a", stdout=io.StringIO())


def test_name_search_gives_what_the_validation_functions_give():
    import random

    from zhidu.customers import validation
    from zhidu.customers.importing import NameSearch

    rnd = random.Random(7)
    chars = "重庆长沙银行和乐都会地得大不中国北京上海华信科技贸易有限公司股份集团医疗器械发展行业单于曾解查朴仇区覃翟乐"
    names = ["重庆银行股份有限公司", "长沙市长江行", "（北京）Acme 科技 Co.,Ltd", "ＡＢＣ１２３有限公司", "吕绿律", "单县曾家查氏", ""]
    names += ["".join(rnd.choice(chars) for _ in range(rnd.randint(2, 14))) + rnd.choice(["", "123", " 分公司", "·"]) for _ in range(3000)]
    search = NameSearch()
    for name in names:
        assert search(name) == (validation.name_pinyin(name), validation.name_initials(name)), name


@pytest.mark.django_db
def test_numbers_typed_in_excel_and_the_packs_types_and_default_secret_level(org, tmp_path, pack):
    pack("s07-customer-service")  # types 经销单位 …, new files 秘密, review every 3 months
    header = ["名称", "客户类型", "统一社会信用代码", "法定代表人", "地址", "负责人", "联系人", "电话"]
    rows = [
        ["数字电话有限公司", "经销单位", credit_code(1), "张三", "北京路 1 号", "sales_a", "李四", 13812345678],
        ["缺地址有限公司", "经销单位", credit_code(2), "张三", "", "sales_a", "李四", 13812345679],
        ["无联系人有限公司", "经销单位", credit_code(3), "张三", "北京路 3 号", "sales_a", "", ""],
    ]
    job = run_import(write_xlsx(tmp_path / "c.xlsx", header, rows), org.gm)
    customer = Customer.objects.get()
    assert (job.ok_rows, job.failed_rows) == (1, 2)
    assert customer.contacts.get().phone == "13812345678"
    assert (customer.customer_type, customer.code[:2], customer.secret_level) == ("dealer", "JX", 1)
    assert customer.next_review_on is not None
    errors = errors_by_row(job)
    assert errors[3] == [("address", "地址：经销单位类客户必须填写此项")]
    assert errors[4] == [("contacts", "联系人/电话：经销单位类客户必须填写此项")]
