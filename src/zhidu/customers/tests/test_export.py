"""Customer export: scoped like the list, masked for the viewer, streamed, always audited."""

import io

import openpyxl
import pytest
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

from zhidu.customers.exporting import HEADER, export_customers
from zhidu.customers.tests.test_import import credit_code, id_number
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.models import AuditEntry
from zhidu.org.tokens import token_create


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def customers(org):
    from zhidu.customers import services

    a = services.customer_create(
        org.sales_a,
        {"name": "甲科技有限公司", "customer_type": "enterprise", "credit_code": credit_code(1), "region": "北京"},
        contacts=[{"name": "张三", "phone": "13812345678", "is_primary": True}, {"name": "李四", "phone": "13900001111"}],
    )
    b = services.customer_create(org.sales_a, {"name": "王小明", "customer_type": "individual", "id_number": id_number(2)}, contacts=[{"name": "王小明", "phone": "13700002222"}])
    c = services.customer_create(org.sales_b, {"name": "乙贸易有限公司", "customer_type": "enterprise", "credit_code": credit_code(3), "status": "prospect"}, contacts=[{"name": "赵六", "phone": "13600003333"}])
    return a, b, c


def sheet_rows(path_or_bytes):
    source = io.BytesIO(path_or_bytes) if isinstance(path_or_bytes, bytes) else path_or_bytes
    rows = list(openpyxl.load_workbook(source, read_only=True).worksheets[0].iter_rows(values_only=True))
    return [dict(zip(rows[0], r, strict=True)) for r in rows[1:]], list(rows[0])


@pytest.mark.django_db
def test_export_masks_phones_and_id_numbers_for_a_sales_user(org, customers, tmp_path):
    path, name, count = export_customers(org.sales_a, {}, path=tmp_path / "out.xlsx")

    rows, header = sheet_rows(path)
    assert header == HEADER and name.endswith(".xlsx") and count == 2
    assert [r["名称"] for r in rows] == ["王小明", "甲科技有限公司"]  # newest first, only her own
    company = rows[1]
    assert (company["联系人"], company["电话"]) == ("张三", "138****5678")  # the primary contact
    assert company["统一社会信用代码"] == credit_code(1) and company["客户类型"] == "企业" and company["负责人"] == "sales_a"
    assert rows[0]["身份证号"] == id_number(2)[:3] + "*" * 11 + id_number(2)[-4:]
    assert "13812345678" not in str(rows) and id_number(2) not in str(rows)


@pytest.mark.django_db
def test_a_role_with_unmasked_phones_sees_them_but_not_id_numbers(org, customers, tmp_path):
    path, _name, count = export_customers(org.gm, {}, path=tmp_path / "out.xlsx")  # general manager: phone unmasked
    rows, _header = sheet_rows(path)
    assert count == 3
    phones = {r["名称"]: r["电话"] for r in rows}
    assert phones == {"甲科技有限公司": "13812345678", "王小明": "13700002222", "乙贸易有限公司": "13600003333"}
    assert "*" in next(r["身份证号"] for r in rows if r["名称"] == "王小明")


@pytest.mark.django_db
def test_export_respects_scope_clearance_and_filters(org, customers, tmp_path):
    from zhidu.customers import services

    services.customer_create(org.gm, {"name": "机密客户有限公司", "customer_type": "enterprise", "credit_code": credit_code(4), "secret_level": 2, "owner": org.sales_a.pk, "department": org.dept_a.pk})
    mine, _, _ = export_customers(org.sales_a, {}, path=tmp_path / "a.xlsx")  # clearance 秘密
    assert "机密客户有限公司" not in {r["名称"] for r in sheet_rows(mine)[0]}
    b_rows = sheet_rows(export_customers(org.manager_b, {}, path=tmp_path / "b.xlsx")[0])[0]
    assert [r["名称"] for r in b_rows] == ["乙贸易有限公司"]
    _path, _n, count = export_customers(org.gm, {"customer_type": "individual"}, path=tmp_path / "c.xlsx")
    assert count == 1
    _path, _n, count = export_customers(org.gm, {"q": "甲科技", "department": org.dept_a.pk}, path=tmp_path / "d.xlsx")
    assert count == 1


@pytest.mark.django_db
def test_every_export_is_audited_with_who_filters_and_row_count(org, customers, tmp_path):
    export_customers(org.sales_a, {"status": "prospect", "q": "甲"}, path=tmp_path / "a.xlsx")
    export_customers(org.manager_b, {"region": "无此地区"}, path=tmp_path / "b.xlsx")

    entries = list(AuditEntry.objects.filter(action="customers.export").order_by("seq"))
    assert [(e.actor_username, e.details["rows"]) for e in entries] == [("sales_a", 1), ("manager_b", 0)]
    assert entries[0].details["filters"] == {"status": "prospect"} and entries[0].details["q"] == "甲"


@pytest.mark.django_db
def test_export_needs_the_permission(org, customers, tmp_path):
    with pytest.raises(Forbidden):
        export_customers(org.auditor, {}, path=tmp_path / "a.xlsx")
    assert not AuditEntry.objects.filter(action="customers.export").exists()
    client = Client()
    client.force_login(org.auditor)
    assert client.get(reverse("customers:export")).status_code == 403


@pytest.mark.django_db
def test_export_page_and_api_stream_the_file_and_leave_no_temporary_file(org, customers, settings):
    client = Client()
    client.force_login(org.sales_a)
    temporary = settings.VAR_DIR / "tmp"
    temporary.mkdir(parents=True, exist_ok=True)
    before = set(temporary.iterdir())
    response = client.get(reverse("customers:export"), {"status": "prospect"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment")
    rows, _ = sheet_rows(b"".join(response.streaming_content))
    assert len(rows) == 2 and rows[1]["电话"] == "138****5678"
    assert set(temporary.iterdir()) == before

    api = Client(headers={"Authorization": f"Bearer {token_create(org.gm)}"})
    response = api.get("/api/v1/customers/export.xlsx", {"customer_type": "enterprise"})
    assert response.status_code == 200, response.content
    rows, _ = sheet_rows(b"".join(response.streaming_content))
    assert {r["名称"] for r in rows} == {"甲科技有限公司", "乙贸易有限公司"}
    assert api.get("/api/v1/customers/export.xlsx", {"department": "x"}).status_code == 422
    assert AuditEntry.objects.filter(action="customers.export").count() == 2


@pytest.mark.django_db
def test_cli_export(org, customers, tmp_path):
    out = io.StringIO()
    call_command("export", "customers", str(tmp_path / "out.xlsx"), "--user", "manager_a", "--department", "sales-a", stdout=out)
    rows, _ = sheet_rows(tmp_path / "out.xlsx")
    assert "已导出 2 行" in out.getvalue() and len(rows) == 2
    assert AuditEntry.objects.get(action="customers.export").actor_username == "manager_a"


@pytest.mark.django_db
def test_an_export_imports_again(org, customers, tmp_path):
    """The export's columns are the import's: a sheet exported by a role that sees phones unmasked
    re-imports as duplicates (nothing created), and into an empty archive as the same customers."""
    from zhidu.customers.models import Customer
    from zhidu.kernel import importing

    org.roles["general_manager"].unmasked_fields = ["phone", "id_number"]
    org.roles["general_manager"].save()
    org.gm.refresh_from_db()
    path, _n, _count = export_customers(org.gm, {}, path=tmp_path / "all.xlsx")
    job = importing.run_job(importing.job_create("customers", path, user=org.gm).pk)
    assert (job.ok_rows, job.failed_rows) == (0, 3)
    Customer.objects.all().delete()
    job = importing.run_job(importing.job_create("customers", path, user=org.gm).pk)
    assert (job.ok_rows, job.failed_rows) == (3, 0)
    assert Customer.objects.get(credit_code=credit_code(1)).contacts.get().phone == "13812345678"
