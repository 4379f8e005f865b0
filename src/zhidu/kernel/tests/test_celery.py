"""Runs a job through a real Celery worker process and broker.

    ZHIDU_BROKER_URL=redis://127.0.0.1:6379/15 DATABASE_URL=postgres://postgres@127.0.0.1:5432/test \
        .venv/bin/pytest -m celery src/zhidu/kernel/tests/test_celery.py
"""

import datetime as dt
import os
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings
from django.utils import timezone

from zhidu.kernel import deadlines
from zhidu.kernel.models import Deadline, JobRun

pytestmark = [pytest.mark.celery, pytest.mark.django_db(transaction=True)]


def _test_database_url() -> str:
    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{db['NAME']}"
    credentials = quote(db.get("USER") or "", safe="")
    if db.get("PASSWORD"):
        credentials += ":" + quote(db["PASSWORD"], safe="")
    host = db.get("HOST") or "127.0.0.1"
    port = f":{db['PORT']}" if db.get("PORT") else ""
    return f"postgres://{credentials}{'@' if credentials else ''}{host}{port}/{db['NAME']}"


@pytest.fixture
def celery_worker_process():
    """A real `celery worker` subprocess on the configured broker, reading the pytest test database.
    It listens on a queue of its own, so other workers on the same broker never take these tasks."""
    broker = os.environ.get("ZHIDU_BROKER_URL", "")
    if not broker:
        pytest.skip("ZHIDU_BROKER_URL is not set: this test needs a broker, e.g. ZHIDU_BROKER_URL=redis://127.0.0.1:6379/15")
    from zhidu.kernel.celery_app import app

    queue = f"zhidu-test-{uuid.uuid4().hex[:12]}"
    default_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue
    env = dict(os.environ, DATABASE_URL=_test_database_url(), ZHIDU_BROKER_URL=broker, ZHIDU_CELERY_QUEUE=queue,
               DJANGO_SETTINGS_MODULE="zhidu.settings", ZHIDU_CONN_MAX_AGE="0")
    celery = Path(sys.executable).parent / "celery"
    log = tempfile.NamedTemporaryFile(prefix="zhidu-celery-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [str(celery), "-A", "zhidu.kernel.celery_app", "worker", "-P", "solo", "-c", "1", "-Q", queue,
         "--loglevel", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        env=env, stdout=log, stderr=subprocess.STDOUT, cwd=settings.PROJECT_DIR,
    )
    try:
        yield {"process": process, "queue": queue, "log": log.name}
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
        app.conf.task_default_queue = default_queue


def test_worker_runs_the_deadline_sweep(celery_worker_process):
    from zhidu.kernel.celery_app import run_job

    now = timezone.now()
    overdue = deadlines.deadline_start(("complaints.complaint", 1), "complaints.reply_hours", now - dt.timedelta(hours=3),
                                       1, "hours", "S03 第八条")
    running = deadlines.deadline_start(("complaints.complaint", 2), "complaints.reply_hours", now, 5, "hours", "S03 第八条")

    result = run_job.delay("kernel.deadlines.sweep")
    try:
        outcome = result.get(timeout=120)
    except Exception:
        print(Path(celery_worker_process["log"]).read_text())
        raise
    assert outcome["ran"] is True and outcome["ok"] is True, outcome
    job_run = JobRun.objects.get(pk=outcome["run_id"])
    assert job_run.name == "kernel.deadlines.sweep" and job_run.ok is True and job_run.finished_at is not None
    assert "breached=1" in job_run.detail
    assert Deadline.objects.get(pk=overdue.pk).state == "breached"
    assert Deadline.objects.get(pk=running.pk).state == "due"
