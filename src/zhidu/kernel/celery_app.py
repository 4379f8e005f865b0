"""The Celery app for `zhidu worker` (worker + embedded beat). Configured from Django settings:
broker = ZHIDU_BROKER_URL; results go to ZHIDU_RESULT_BACKEND, or to the broker when it is Redis.

One task, `zhidu.run_job(name)`, runs a registered job through the same code path as the in-process
scheduler (`zhidu.kernel.jobs.run`, which holds the job's lock row). Beat fires it for every job in the
registry at the job's interval.
"""

import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "zhidu.settings")

import django  # noqa: E402
from django.apps import apps  # noqa: E402

if not apps.ready:
    django.setup()

from celery import Celery  # noqa: E402
from django.conf import settings  # noqa: E402

from zhidu.kernel import jobs  # noqa: E402


def _result_backend(broker: str) -> str | None:
    explicit = os.environ.get("ZHIDU_RESULT_BACKEND", "")
    if explicit:
        return explicit
    return broker if broker.startswith(("redis://", "rediss://")) else None


app = Celery("zhidu")
app.conf.update(
    broker_url=settings.CELERY_BROKER_URL or None,
    result_backend=_result_backend(settings.CELERY_BROKER_URL),
    result_expires=24 * 3600,
    timezone=settings.TIME_ZONE,
    enable_utc=True,
    task_default_queue=os.environ.get("ZHIDU_CELERY_QUEUE", "zhidu"),
    task_acks_late=True,
    worker_prefetch_multiplier=1,
    broker_connection_retry_on_startup=True,
    task_always_eager=getattr(settings, "CELERY_TASK_ALWAYS_EAGER", False),
)


@app.task(name="zhidu.run_job")
def run_job(name: str) -> dict:
    """Runs the registered job `name` now. Returns what happened, for the result backend."""
    job_run = jobs.run(name)
    if job_run is None:
        return {"name": name, "ran": False, "reason": "already running elsewhere"}
    return {"name": name, "ran": True, "ok": job_run.ok, "run_id": job_run.pk, "detail": job_run.detail}


def beat_schedule() -> dict:
    return {
        f"zhidu-job:{job_.name}": {"task": "zhidu.run_job", "schedule": job_.every, "args": (job_.name,)}
        for job_ in jobs.registry().values()
    }


app.conf.beat_schedule = beat_schedule()


@app.task(name="zhidu.run_import")
def run_import(job_id: int) -> dict:
    """Runs or resumes the spreadsheet import `job_id` (zhidu.kernel.importing) on a worker."""
    from zhidu.kernel import importing
    from zhidu.kernel.errors import Conflict

    try:
        job = importing.run_job(job_id)
    except Conflict as exc:  # done already, or another runner holds it
        return {"job": job_id, "ran": False, "reason": str(exc)}
    return {"job": job_id, "ran": True, "status": job.status, "ok_rows": job.ok_rows, "failed_rows": job.failed_rows}
