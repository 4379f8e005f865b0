"""/api/v1/customers: bulk import (upload → job, progress and row errors, error file) and XLSX export.

The import runs in the background like the UI's; poll GET /import/{id} until `status` is done or
failed. An upload repeated by mistake is harmless: rows already imported come back as duplicates.
"""

from datetime import datetime

from django.utils.translation import gettext as _
from ninja import File, Form, Path, Query, Router, Schema, Status
from ninja.decorators import decorate_view
from ninja.files import UploadedFile
from pydantic import Field

from zhidu.kernel import importing
from zhidu.kernel.errors import ERROR_RESPONSES, Forbidden, NotFound
from zhidu.kernel.exporting import file_download
from zhidu.kernel.idempotency import idempotent
from zhidu.kernel.models import ImportJob
from zhidu.kernel.uploads import declared_size_limited

from . import exporting
from .importing import PERMISSION as IMPORT_PERMISSION
from .schemas import Id
from .views_import import start_upload

router = Router(tags=["customers import/export"])
MAX_ID = 2**63 - 1

ERRORS = ERROR_RESPONSES


class RowErrorOut(Schema):
    id: int
    row_number: int
    field: str
    message: str
    row: dict  # the row as read: header -> value (on the first error of a row only)


class ImportJobOut(Schema):
    id: int
    kind: str
    file_name: str
    status: str
    total_rows: int | None
    processed_rows: int
    ok_rows: int
    updated_rows: int
    failed_rows: int
    message: str
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    error_file_url: str | None


class ImportJobDetail(ImportJobOut):
    errors: list[RowErrorOut]
    next_after: int | None  # pass as `after` for the next page of errors


class ImportJobPage(Schema):
    items: list[ImportJobOut]
    next_cursor: int | None


class ErrorPageQuery(Schema):
    after: int = Field(0, ge=0, le=MAX_ID)
    limit: int = Field(100, ge=1, le=1000)


class ExportQuery(Schema):
    """The list's filters (see GET /customers)."""

    q: str = Field("", max_length=100)
    department: Id | None = None
    owner: Id | None = None
    status: str = Field("", max_length=20)
    customer_type: str = Field("", max_length=40)
    region: str = Field("", max_length=60)
    review_due: bool | None = None


def _user(request):
    return request.auth


def _job_out(job: ImportJob) -> dict:
    return {
        "id": job.pk,
        "kind": job.kind,
        "file_name": job.original_name,
        "status": job.status,
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "ok_rows": job.ok_rows,
        "updated_rows": job.updated_rows,
        "failed_rows": job.failed_rows,
        "message": job.message,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "error_file_url": f"/api/v1/customers/import/{job.pk}/errors.xlsx" if job.status == ImportJob.Status.DONE and job.failed_rows else None,
    }


def _own_job(request, job_id: int) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id, kind="customers", uploaded_by=_user(request)).first()
    if job is None:
        raise NotFound(_("导入任务不存在"))
    return job


@router.post("/import", response={202: ImportJobOut, **ERRORS}, summary="Import customers from an XLSX or CSV file (multipart field `file`)")
@decorate_view(declared_size_limited("ZHIDU_IMPORT_MAX_BYTES"))
@idempotent
def import_start(request, file: File[UploadedFile], update_existing: Form[bool] = False):
    user = _user(request)
    if not user.has_perm_code(IMPORT_PERMISSION):
        raise Forbidden(_("您没有导入客户的权限"), details={"permission": IMPORT_PERMISSION})
    job = start_upload(user, file, update_existing=update_existing)
    job.refresh_from_db()
    return Status(202, _job_out(job))


@router.get("/import", response={200: ImportJobPage, **ERRORS}, summary="My imports, newest first (keyset: `before`)")
def import_list(request, before: int = Query(0, ge=0, le=MAX_ID), limit: int = Query(30, ge=1, le=100)):
    limit = max(1, min(limit, 100))
    qs = ImportJob.objects.filter(kind="customers", uploaded_by=_user(request)).order_by("-id")
    if before:
        qs = qs.filter(pk__lt=before)
    jobs = list(qs[: limit + 1])
    more = len(jobs) > limit
    jobs = jobs[:limit]
    return {"items": [_job_out(j) for j in jobs], "next_cursor": jobs[-1].pk if more else None}


@router.get("/import/{job_id}", response={200: ImportJobDetail, **ERRORS}, summary="Progress of an import and a page of its row errors")
def import_get(request, page: Query[ErrorPageQuery], job_id: Id = Path(...)):
    job = _own_job(request, job_id)
    limit = max(1, min(page.limit, 1000))
    errors = importing.row_errors(job, after=max(page.after, 0), limit=limit)
    headers = job.headers or []
    return {
        **_job_out(job),
        "errors": [
            {"id": e.pk, "row_number": e.row_number, "field": e.field, "message": e.message, "row": dict(zip(headers, e.raw or [], strict=False))}
            for e in errors
        ],
        "next_after": errors[-1].pk if len(errors) == limit else None,
    }


@router.get("/import/{job_id}/errors.xlsx", response={200: None, **ERRORS}, summary="The refused rows with their reasons (XLSX)")
def import_error_file(request, job_id: Id = Path(...)):
    job = _own_job(request, job_id)
    path = importing.error_file_path(job)
    if path is None:
        raise NotFound(_("该导入任务没有错误文件"))
    return file_download(path, f"import-{job.pk}-errors.xlsx")


@router.get("/export.xlsx", response={200: None, **ERRORS}, summary="Export the visible customers (list filters) to XLSX, masked and audited")
def export_xlsx(request, filters: Query[ExportQuery]):
    path, filename, _rows = exporting.export_customers(_user(request), exporting.filters_from(filters.dict()), request=request)
    return file_download(path, filename, delete=True)


