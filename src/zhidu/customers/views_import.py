"""Pages for bulk work on the archive: import (upload → background job → live progress → error file)
and the export download behind the list page's export button."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from zhidu.kernel import importing
from zhidu.kernel.errors import ApiError
from zhidu.kernel.exporting import file_download
from zhidu.kernel.models import ImportJob

from . import exporting
from .importing import PERMISSION as IMPORT_PERMISSION

JOBS_SHOWN = 30
ERRORS_PER_PAGE = 100


def _require(user, code):
    if not user.has_perm_code(code):
        raise PermissionDenied(_("您没有此操作的权限"))


def _own_job(request, job_id) -> ImportJob:
    """Jobs are private to who started them: their errors hold the uploaded rows."""
    job = ImportJob.objects.filter(pk=job_id, kind="customers", uploaded_by=request.user).first()
    if job is None:
        raise Http404
    return job


@login_required
@require_http_methods(["GET", "POST"])
def import_page(request):
    _require(request.user, IMPORT_PERMISSION)
    if request.method == "POST":
        upload = request.FILES.get("file")
        try:
            if upload is None:
                raise ApiError(_("请选择要导入的文件"))
            job = start_upload(request.user, upload, update_existing=request.POST.get("update_existing") == "1")
        except ApiError as exc:
            messages.error(request, str(exc.message))
        else:
            return redirect("customers:import_detail", job_id=job.pk)
    jobs = ImportJob.objects.filter(kind="customers", uploaded_by=request.user).order_by("-id")[:JOBS_SHOWN]
    return render(
        request,
        "customers/import.html",
        {"jobs": jobs, "max_mb": settings.ZHIDU_IMPORT_MAX_BYTES // (1024 * 1024), "columns": _column_help()},
    )


def start_upload(user, upload, *, update_existing: bool = False) -> ImportJob:
    """Checks and stores an uploaded file, creates the job and starts it in the background."""
    path = importing.store_upload(upload)
    try:
        job = importing.job_create("customers", path, user=user, original_name=upload.name[:255], options={"update_existing": update_existing} if update_existing else {})
    except Exception:
        path.unlink(missing_ok=True)
        raise
    importing.start_job(job)
    return job


@login_required
@require_GET
def import_detail(request, job_id: int):
    job = _own_job(request, job_id)
    after = _int(request.GET.get("after"))
    errors = importing.row_errors(job, after=after, limit=ERRORS_PER_PAGE)
    return render(
        request,
        "customers/import_detail.html",
        {
            "job": job,
            "errors": errors,
            "next_after": errors[-1].pk if len(errors) == ERRORS_PER_PAGE else None,
            "resumable": _resumable(job),
        },
    )


@login_required
@require_GET
def import_progress(request, job_id: int):
    job = _own_job(request, job_id)
    return render(request, "customers/import_progress.html", {"job": job, "resumable": _resumable(job)})


@login_required
@require_POST
def import_resume(request, job_id: int):
    _require(request.user, IMPORT_PERMISSION)
    job = _own_job(request, job_id)
    if not _resumable(job):
        messages.error(request, _("该导入任务正在运行或已完成"))
    else:
        importing.start_job(job)
        messages.success(request, _("导入任务已继续"))
    return redirect("customers:import_detail", job_id=job.pk)


@login_required
@require_GET
def import_error_file(request, job_id: int):
    job = _own_job(request, job_id)
    path = importing.error_file_path(job)
    if path is None:
        raise Http404
    return file_download(path, f"import-{job.pk}-errors.xlsx")


@login_required
@require_GET
def export(request):
    """The customer list as XLSX, with the list page's filters (query string), masked for the viewer."""
    try:
        path, filename, _rows = exporting.export_customers(request.user, exporting.filters_from(request.GET), request=request)
    except ApiError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc.message)) from exc
        messages.error(request, str(exc.message))
        return redirect("customers:list")
    return file_download(path, filename, delete=True)


def _resumable(job: ImportJob) -> bool:
    """Failed, or left behind by a runner that stopped (server restart): its cursor is where to go on."""
    if job.status == ImportJob.Status.QUEUED:
        return job.created_at < timezone.now() - importing.STALE_AFTER
    return job.status == ImportJob.Status.FAILED or importing.is_stale(job)


def _int(value) -> int:
    try:
        return max(int(value), 0)
    except (TypeError, ValueError):
        return 0


def _column_help():
    from .importing import ALIASES

    return [(aliases[0], field) for field, aliases in ALIASES.items()]
