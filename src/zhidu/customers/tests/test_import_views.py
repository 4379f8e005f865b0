"""The import page and the import API: upload → job → progress → errors → error file."""

import io
from pathlib import Path

import openpyxl
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from zhidu.customers.models import Customer
from zhidu.customers.tests.test_import import HEADER, credit_code, mixed_rows, write_csv
from zhidu.kernel.models import ImportJob
from zhidu.org.tokens import token_create


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.ZHIDU_IMPORT_RUNNER = "inline"


def login(user):
    client = Client()
    client.force_login(user)
    return client


def upload(path, name=None):
    return SimpleUploadedFile(name or path.name, path.read_bytes())


@pytest.fixture
def mixed_file(org, tmp_path):
    from zhidu.customers import services

    code = credit_code(900)
    services.customer_create(org.sales_a, {"name": "已有客户有限公司", "customer_type": "enterprise", "credit_code": code})
    return write_csv(tmp_path / "客户.csv", HEADER, mixed_rows(code))


@pytest.mark.django_db
def test_upload_page_runs_the_job_and_shows_progress_errors_and_error_file(org, mixed_file):
    client = login(org.manager_a)
    assert client.get(reverse("customers:import")).status_code == 200

    response = client.post(reverse("customers:import"), {"file": upload(mixed_file)})

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse("customers:import_detail", args=[job.pk])
    assert (job.status, job.original_name, job.ok_rows, job.failed_rows) == ("done", "客户.csv", 4, 7)
    assert not Path(job.file_path).exists()  # the uploaded copy goes once the job is done
    assert mixed_file.exists()
    page = client.get(response["Location"]).content.decode()
    assert "负责人不存在：nobody" in page and 'id="import-error-file"' in page
    progress = client.get(reverse("customers:import_progress", args=[job.pk])).content.decode()
    assert 'id="import-ok">4<' in progress and "hx-trigger" not in progress  # finished: polling stops
    listing = client.get(reverse("customers:import")).content.decode()
    assert "客户.csv" in listing

    download = client.get(reverse("customers:import_error_file", args=[job.pk]))
    assert download.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(b"".join(download.streaming_content))).active
    assert [c.value for c in sheet[1]][-1] == "错误原因"
    assert sheet.max_row == 8


@pytest.mark.django_db
def test_a_running_job_is_polled_every_second(org, mixed_file, settings):
    settings.ZHIDU_IMPORT_RUNNER = "thread"
    client = login(org.gm)
    job = ImportJob.objects.create(kind="customers", file_path=str(mixed_file), original_name="x.csv", file_sha256="0", uploaded_by=org.gm, status="running", total_rows=10, processed_rows=4)
    job.heartbeat_at = job.created_at
    job.save()
    progress = client.get(reverse("customers:import_progress", args=[job.pk])).content.decode()
    assert 'hx-trigger="every 1s"' in progress and "4</strong> / 10" in progress


@pytest.mark.django_db
def test_upload_refuses_wrong_extension_oversized_files_and_users_without_permission(org, tmp_path, settings):
    client = login(org.gm)
    response = client.post(reverse("customers:import"), {"file": SimpleUploadedFile("a.txt", b"x")}, follow=True)
    assert "只支持 .xlsx 和 .csv 文件" in response.content.decode()
    settings.ZHIDU_IMPORT_MAX_BYTES = 10
    response = client.post(reverse("customers:import"), {"file": SimpleUploadedFile("a.csv", b"x" * 11)}, follow=True)
    assert "文件过大" in response.content.decode()
    assert ImportJob.objects.count() == 0
    assert login(org.sales_a).get(reverse("customers:import")).status_code == 403


@pytest.mark.django_db
def test_jobs_are_private_to_who_started_them(org, mixed_file):
    login(org.manager_a).post(reverse("customers:import"), {"file": upload(mixed_file)})
    job = ImportJob.objects.get()
    other = login(org.gm)
    assert other.get(reverse("customers:import_detail", args=[job.pk])).status_code == 404
    assert other.get(reverse("customers:import_error_file", args=[job.pk])).status_code == 404


@pytest.mark.django_db
def test_an_interrupted_job_can_be_resumed_from_the_page(org, tmp_path):
    from zhidu.customers.tests.test_import import many_rows
    from zhidu.kernel import importing

    path = write_csv(tmp_path / "c.csv", HEADER, many_rows(4))
    job = importing.job_create("customers", path, user=org.gm)
    importing.run_job(job.pk, chunk_size=2, stop_after_chunks=1)
    client = login(org.gm)
    assert "import-resume" not in client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=job.created_at - importing.STALE_AFTER * 2)
    assert "import-resume" in client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()

    client.post(reverse("customers:import_resume", args=[job.pk]))

    job.refresh_from_db()
    assert (job.status, job.ok_rows, Customer.objects.count()) == ("done", 4, 4)


def api(user):
    return Client(headers={"Authorization": f"Bearer {token_create(user)}"})


@pytest.mark.django_db
def test_api_import_returns_a_job_and_pages_its_errors(org, mixed_file):
    client = api(org.manager_a)
    response = client.post("/api/v1/customers/import", {"file": upload(mixed_file)})
    assert response.status_code == 202, response.content
    job = response.json()
    assert (job["status"], job["ok_rows"], job["failed_rows"]) == ("done", 4, 7)

    page = client.get(f"/api/v1/customers/import/{job['id']}?limit=3").json()
    assert [e["row_number"] for e in page["errors"]] == [3, 4, 6]
    assert page["errors"][0]["row"]["名称"] == "北京乙贸易有限公司"
    rest = client.get(f"/api/v1/customers/import/{job['id']}?limit=10&after={page['next_after']}").json()
    assert [e["row_number"] for e in rest["errors"]] == [7, 8, 9, 12] and rest["next_after"] is None

    download = client.get(page["error_file_url"])
    assert download.status_code == 200 and download["Content-Type"].startswith("application/vnd.openxmlformats")
    listing = client.get("/api/v1/customers/import").json()
    assert [j["id"] for j in listing["items"]] == [job["id"]]


@pytest.mark.django_db
def test_api_import_errors_use_the_error_format(org, tmp_path, settings):
    assert api(org.sales_a).post("/api/v1/customers/import", {"file": SimpleUploadedFile("a.csv", b"x")}).json()["code"] == "forbidden"
    client = api(org.gm)
    wrong = client.post("/api/v1/customers/import", {"file": SimpleUploadedFile("a.xls", b"x")})
    assert wrong.status_code == 422 and wrong.json()["code"] == "invalid_input"
    missing = client.post("/api/v1/customers/import", {})
    assert missing.status_code == 422
    assert client.get("/api/v1/customers/import/999999").status_code == 404
    settings.ZHIDU_IMPORT_MAX_BYTES = 10
    small = client.post("/api/v1/customers/import", {"file": SimpleUploadedFile("a.csv", b"x" * 11)})
    assert small.status_code == 413 and small.json()["code"] == "file_too_large"
    huge = client.post("/api/v1/customers/import", {"file": SimpleUploadedFile("a.csv", b"x" * 200_000)})
    assert huge.status_code == 413 and huge.json()["code"] == "file_too_large"
    assert ImportJob.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_an_upload_runs_in_a_background_thread(org, tmp_path, settings):
    import time

    from zhidu.customers.tests.test_import import many_rows

    settings.ZHIDU_IMPORT_RUNNER = "thread"
    client = login(org.gm)
    response = client.post(reverse("customers:import"), {"file": upload(write_csv(tmp_path / "c.csv", HEADER, many_rows(3)))})
    assert response.status_code == 302
    job = ImportJob.objects.get()
    deadline = time.monotonic() + 60
    while not job.finished and time.monotonic() < deadline:
        time.sleep(0.2)
        job.refresh_from_db()
    assert (job.status, job.ok_rows) == ("done", 3)
    assert Customer.objects.count() == 3


@pytest.mark.django_db
def test_api_import_retried_with_the_same_idempotency_key_runs_once(org, mixed_file):
    from zhidu.kernel.models import ImportJob

    client = api(org.manager_a)
    first = client.post("/api/v1/customers/import", {"file": upload(mixed_file)}, headers={"Idempotency-Key": "import-1"})
    again = client.post("/api/v1/customers/import", {"file": upload(mixed_file)}, headers={"Idempotency-Key": "import-1"})
    assert first.status_code == again.status_code == 202
    assert again.json()["id"] == first.json()["id"] and again["Idempotent-Replayed"] == "true"
    assert ImportJob.objects.count() == 1
