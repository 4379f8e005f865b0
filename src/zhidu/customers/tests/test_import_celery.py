"""An import started from the UI path runs on a real Celery worker (task `zhidu.run_import`).

    ZHIDU_BROKER_URL=redis://127.0.0.1:6379/15 .venv/bin/pytest -m celery src/zhidu/customers/tests/test_import_celery.py
"""

import time
from pathlib import Path

import pytest

from zhidu.customers.models import Customer
from zhidu.customers.tests.test_import import HEADER, many_rows, write_csv
from zhidu.kernel import importing
from zhidu.kernel.models import ImportJob
from zhidu.kernel.tests.test_celery import celery_worker_process  # noqa: F401 (fixture)

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_import_runs_on_the_worker(org, tmp_path, settings, celery_worker_process):  # noqa: F811
    settings.ZHIDU_IMPORT_RUNNER = "celery"
    rows = many_rows(5)
    rows[2][2] = "BAD"
    job = importing.job_create("customers", write_csv(tmp_path / "c.csv", HEADER, rows), user=org.gm)

    importing.start_job(job)

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job.refresh_from_db()
        if job.finished:
            break
        time.sleep(0.5)
    else:
        print(Path(celery_worker_process["log"]).read_text())
        pytest.fail("the worker did not finish the import")
    assert (job.status, job.ok_rows, job.failed_rows) == (ImportJob.Status.DONE, 4, 1), job.message
    assert Customer.objects.count() == 4
