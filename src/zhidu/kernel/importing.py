"""Spreadsheet imports: chunked, resumable, re-runnable, every bad row reported by its row number.

A domain app supplies an `Importer` for its kind (`customers`) in `<app>/importing.py` and registers it
with `register()`; this module reads the file (CSV in UTF-8 / UTF-8 with BOM / GB18030, or XLSX),
maps the header to field names, and feeds the importer chunks of rows. Each chunk is one transaction
holding the chunk's new rows, its row errors and the job's cursor (`processed_rows`), so an
interrupted job continues exactly after the last committed chunk.
"""

from __future__ import annotations

import codecs
import csv
import datetime
import hashlib
import itertools
import logging
import os
import re
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.module_loading import autodiscover_modules
from django.utils.translation import gettext as _

from zhidu.kernel.errors import Conflict, Invalid, NotFound
from zhidu.kernel.models import ImportJob, ImportRowError

log = logging.getLogger(__name__)

CHUNK_SIZE = 2000
EXTENSIONS = (".xlsx", ".csv")
# A running job whose runner has not committed a chunk for this long is taken to be interrupted.
STALE_AFTER = datetime.timedelta(seconds=120)
ERROR_COLUMN = "错误原因"
ROW_COLUMN = "原行号"


class ImportFileError(Exception):
    """The file as a whole cannot be imported (unreadable, wrong format, missing required column)."""


# ---------------------------------------------------------------------------------------------------
# Reading files


@dataclass(slots=True)
class Row:
    index: int  # 1-based position after the header row; the resume cursor counts these
    number: int  # the row number the user sees in the spreadsheet
    values: dict[str, str]  # field name -> cell text (stripped); only mapped columns
    raw: list[str]  # every cell as read, in the order of the header


def header_key(text) -> str:
    """Normalises a header cell: case, spaces, required-markers (*) and a bracketed note go away,
    so "名称*", "客户名称（必填）" style variants match their alias."""
    s = str(text if text is not None else "").strip().lower()
    s = re.sub(r"[（(\[【].*?[)）\]】]", "", s)
    return re.sub(r"[\s*＊:：_\-]+", "", s)


def cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value.strip()
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float) and value.is_integer():
        # Excel stores phone numbers and codes typed as numbers as floats: 13800138000.0
        return str(int(value))
    if isinstance(value, datetime.datetime):
        return value.isoformat(sep=" ") if value.time() != datetime.time() else value.date().isoformat()
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value).strip()


def detect_encoding(path: str | os.PathLike) -> str:
    """utf-8-sig when the file has a BOM, utf-8 when the whole file decodes as UTF-8, else GB18030
    (the superset of GBK/GB2312 that Chinese Excel writes when it saves "CSV")."""
    with open(path, "rb") as f:
        head = f.read(4)
        if head.startswith(codecs.BOM_UTF8):
            return "utf-8-sig"
        if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            return "utf-16"
        f.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            for block in iter(lambda: f.read(1 << 20), b""):
                decoder.decode(block)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            return "gb18030"
    return "utf-8"


class Table:
    """The first sheet of an XLSX file or a CSV file, as a header and a stream of rows."""

    def __init__(self, path: str | os.PathLike, aliases: dict[str, tuple[str, ...]]):
        self.path = Path(path)
        suffix = self.path.suffix.lower()
        if suffix not in EXTENSIONS:
            raise ImportFileError(_("只支持 .xlsx 和 .csv 文件"))
        self.kind = suffix[1:]
        self.encoding = detect_encoding(self.path) if self.kind == "csv" else None
        self._lookup = {header_key(alias): name for name, names in aliases.items() for alias in (name, *names)}
        self._workbook = None
        try:
            self.header_row, self.headers = self._read_header()
        except ImportFileError:
            raise
        except Exception as exc:  # openpyxl and csv raise many kinds for a broken file
            raise ImportFileError(_("无法读取文件：%(error)s") % {"error": exc}) from exc
        self.columns: dict[int, str] = {}
        self.unknown: list[str] = []
        for i, header in enumerate(self.headers):
            name = self._lookup.get(header_key(header))
            if name and name not in self.columns.values():
                self.columns[i] = name
            elif header:
                self.unknown.append(header)

    def close(self):
        if self._workbook is not None:
            self._workbook.close()
            self._workbook = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # Raw records: every record as a list of cell texts, blank ones included; a record's position
    # (1-based) is the row number the user sees in Excel, or the record number of a CSV file.

    def _records(self) -> Iterator[list[str]]:
        if self.kind == "csv":
            with open(self.path, encoding=self.encoding, newline="") as f:
                for values in csv.reader(f, self._dialect(f)):
                    yield [v.strip() for v in values]
        else:
            from zhidu.kernel import xlsx

            self._sheet()
            for values in xlsx.sheet_rows(self._workbook):
                yield [cell_text(v) for v in values]

    def _sheet(self):
        from zhidu.kernel import xlsx

        if self._workbook is None:
            self._workbook = xlsx.open_read_only(self.path)
        return self._workbook.worksheets[0]

    @staticmethod
    def _dialect(f):
        sample = f.read(64 * 1024)
        f.seek(0)
        try:
            return csv.Sniffer().sniff(sample, delimiters=",;\t")
        except csv.Error:
            return csv.excel

    def _read_header(self) -> tuple[int, list[str]]:
        for position, values in enumerate(self._records(), start=1):
            if any(values):
                while values and not values[-1]:
                    values.pop()
                return position, values
        raise ImportFileError(_("文件是空的：没有标题行"))

    def rows(self, skip: int = 0) -> Iterator[Row]:
        """Data rows after the header; the first `skip` are passed over (resume). Blank rows are
        counted (the cursor stays exact) and yielded with no values."""
        width = len(self.headers)
        columns = list(self.columns.items())
        records = itertools.islice(self._records(), self.header_row + skip, None)
        for index, values in enumerate(records, start=skip + 1):
            number = self.header_row + index
            if not any(values):
                yield Row(index, number, {}, [])
                continue
            if len(values) < width:
                values = values + [""] * (width - len(values))
            yield Row(index, number, {name: values[i] for i, name in columns}, values[:width])

    def count_rows(self) -> int:
        """The number of records after the header, from the sheet's declared dimension when an XLSX
        file has one (no second pass over a million rows)."""
        if self.kind == "xlsx":
            declared = self._sheet().max_row
            if declared and declared > self.header_row:
                return declared - self.header_row
            last = self._last_row_number()
            if last is not None:
                return max(last - self.header_row, 0)
        return sum(1 for _ in self._records()) - self.header_row

    _ROW_NUMBER = re.compile(rb'<(?:\w+:)?row\b[^>]*?\br="(\d+)"')

    def _last_row_number(self) -> int | None:
        """The number of the sheet's last row element, found by scanning its XML as bytes: a file that
        declares no dimension (openpyxl's own write-only files, many generators) would otherwise be
        parsed twice, once only to be counted. None when the rows carry no numbers."""
        last, tail = None, b""
        try:
            with self._sheet()._get_source() as source:
                for block in iter(lambda: source.read(1 << 20), b""):
                    text = tail + block
                    for match in self._ROW_NUMBER.finditer(text):
                        last = match.group(1)
                    tail = text[-256:]
        except (AttributeError, OSError):
            return None
        return int(last) if last is not None else None


# ---------------------------------------------------------------------------------------------------
# Importers


@dataclass
class RowError:
    number: int
    field: str
    message: str


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    errors: list[RowError] = field(default_factory=list)


class Importer:
    """Base for an app's importer. Subclasses set `kind`, `aliases` (field -> header names) and
    `required_columns`, and implement `process_chunk`, which runs inside the chunk's transaction and
    must be set-based: a few queries per chunk, never per row."""

    kind: str = ""
    aliases: dict[str, tuple[str, ...]] = {}
    required_columns: tuple[str, ...] = ()
    # The models it inserts into, whose planner statistics are refreshed as they grow (PostgreSQL).
    tables: tuple = ()

    def __init__(self, job: ImportJob):
        self.job = job
        self.options = job.options or {}

    def check_columns(self, table: Table) -> None:
        missing = [c for c in self.required_columns if c not in table.columns.values()]
        if missing:
            labels = "、".join(self.aliases.get(c, (c,))[0] for c in missing)
            raise ImportFileError(_("文件缺少必需的列：%(columns)s") % {"columns": labels})

    def process_chunk(self, rows: list[Row]) -> ChunkOutcome:
        raise NotImplementedError

    def finish(self) -> None:
        """Called once when the last chunk is committed."""


# Columns whose Python values need the backend's conversion (JSON text / jsonb, datetime text on SQLite …).
_PREPARED_TYPES = {"JSONField", "DateTimeField", "DateField", "TimeField", "DecimalField", "UUIDField", "DurationField"}


def insert_rows(model, columns: list[str], rows: list[tuple]) -> None:
    """INSERTs `rows` (tuples of values for the field names in `columns`): one COPY on PostgreSQL, one
    executemany elsewhere.

    This is bulk_create without a model instance and a compiled SQL value per cell, which is most of
    an import's cost. Every other concrete field gets its default (auto_now / auto_now_add fields: the
    current time), so fields added to the model later need no change here. Returns nothing: an importer
    that needs the new primary keys reads them back by a unique column in one query."""
    from django.db import connections, router

    using = router.db_for_write(model)
    conn = connections[using]
    meta = model._meta
    fields = [meta.get_field(name) for name in columns]
    given = {f.attname for f in fields}
    now = timezone.now()
    constant_fields, constants = [], []
    for f in meta.concrete_fields:
        if f.primary_key or f.attname in given:
            continue
        value = now if getattr(f, "auto_now", False) or getattr(f, "auto_now_add", False) else f.get_default()
        constant_fields.append(f)
        constants.append(f.get_db_prep_save(value, conn))
    prepared = [(i, f) for i, f in enumerate(fields) if f.get_internal_type() in _PREPARED_TYPES]
    if prepared:
        converted = []
        for row in rows:
            row = list(row)
            for i, f in prepared:
                row[i] = f.get_db_prep_save(row[i], conn)
            converted.append(row)
        rows = converted
    if constants:
        tail = tuple(constants)
        rows = [(*row, *tail) for row in rows]
    all_fields = fields + constant_fields
    qn = conn.ops.quote_name
    table, names = qn(meta.db_table), ", ".join(qn(f.column) for f in all_fields)
    with conn.cursor() as cursor:
        if conn.vendor == "postgresql" and hasattr(cursor.cursor, "copy"):
            # PostgreSQL's bulk path: one COPY stream instead of one INSERT per row (psycopg 3). It goes
            # through Django's execute wrappers, error translation and query log like an executemany.
            sql = f"COPY {table} ({names}) FROM STDIN"
            if hasattr(cursor, "debug_sql"):  # the query log is on (DEBUG, tests counting queries)
                with cursor.debug_sql(sql, rows, many=True):
                    cursor._execute_with_wrappers(sql, rows, True, _copy_rows)
            else:
                cursor._execute_with_wrappers(sql, rows, True, _copy_rows)
        else:
            cursor.executemany("INSERT INTO {} ({}) VALUES ({})".format(table, names, ", ".join(["%s"] * len(all_fields))), rows)


def _copy_rows(sql, rows, many, context):
    wrapper = context["cursor"]
    with wrapper.db.wrap_database_errors, wrapper.cursor.copy(sql) as copy:
        for row in rows:
            copy.write_row(row)


_IMPORTERS: dict[str, type[Importer]] = {}
_discovered = False


def register(importer: type[Importer]) -> type[Importer]:
    _IMPORTERS[importer.kind] = importer
    return importer


def importer_for(kind: str) -> type[Importer]:
    global _discovered
    if not _discovered:
        autodiscover_modules("importing")
        _discovered = True
    try:
        return _IMPORTERS[kind]
    except KeyError:
        raise NotFound(_("未知的导入类型：%(kind)s") % {"kind": kind}) from None


# ---------------------------------------------------------------------------------------------------
# Jobs


def file_sha256(path: str | os.PathLike) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def upload_dir() -> Path:
    directory = Path(settings.MEDIA_ROOT) / "imports"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def check_upload(name: str, size: int) -> str:
    """Refuses a file by extension and size before it is stored; returns the lower-case extension."""
    suffix = Path(name or "").suffix.lower()
    if suffix not in EXTENSIONS:
        raise Invalid(_("只支持 .xlsx 和 .csv 文件"), details={"file": name})
    limit = settings.ZHIDU_IMPORT_MAX_BYTES
    if size > limit:
        raise Invalid(
            _("文件过大：%(size)s 字节，上限 %(limit)s 字节") % {"size": size, "limit": limit},
            code="file_too_large",
            status=413,
            details={"size": size, "limit": limit},
        )
    if size == 0:
        raise Invalid(_("文件是空的"), details={"file": name})
    return suffix


def store_upload(uploaded) -> Path:
    """Saves an uploaded file (Django UploadedFile) under MEDIA_ROOT/imports/ with a random name."""
    suffix = check_upload(uploaded.name, uploaded.size)
    target = upload_dir() / f"{uuid.uuid4().hex}{suffix}"
    with open(target, "wb") as out:
        for part in uploaded.chunks():
            out.write(part)
    return target


def job_create(kind: str, path: str | os.PathLike, *, user=None, original_name: str = "", options: dict | None = None) -> ImportJob:
    importer_for(kind)
    path = Path(path)
    if not path.is_file():
        raise Invalid(_("文件不存在：%(path)s") % {"path": path})
    check_upload(original_name or path.name, path.stat().st_size)
    return ImportJob.objects.create(
        kind=kind,
        file_path=str(path.resolve()),
        original_name=original_name or path.name,
        file_sha256=file_sha256(path),
        options=options or {},
        uploaded_by=user,
    )


def unfinished_job(kind: str, path: str | os.PathLike, *, user=None) -> ImportJob | None:
    """The latest job of the same file (by content) that did not finish, for the CLI to resume."""
    digest = file_sha256(path)
    jobs = ImportJob.objects.filter(kind=kind, file_sha256=digest, uploaded_by=user).exclude(status=ImportJob.Status.DONE)
    return jobs.order_by("-id").first()


def is_stale(job: ImportJob, now=None) -> bool:
    now = now or timezone.now()
    return job.status == ImportJob.Status.RUNNING and (job.heartbeat_at is None or job.heartbeat_at < now - STALE_AFTER)


def _claim(job_id: int, token: str) -> ImportJob:
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id).first()
        if job is None:
            raise NotFound(_("导入任务不存在"))
        if job.status == ImportJob.Status.DONE:
            raise Conflict(_("导入任务 #%(id)s 已完成") % {"id": job.pk})
        if job.status == ImportJob.Status.RUNNING and not is_stale(job):
            raise Conflict(_("导入任务 #%(id)s 正在运行") % {"id": job.pk})
        now = timezone.now()
        job.status = ImportJob.Status.RUNNING
        job.runner = token
        job.heartbeat_at = now
        job.started_at = job.started_at or now
        job.message = ""
        job.save(update_fields=["status", "runner", "heartbeat_at", "started_at", "message"])
    return job


class _Superseded(Exception):
    """Another runner took the job over (ours was judged stale); stop without touching it."""


def _refresh_planner_statistics() -> None:
    """SQLite plans without statistics until ANALYZE has run: on a table of many thousand customers it
    then reads every row in a data scope and sorts them for the list's newest-first page instead of
    walking the primary key. A bulk load is the moment the statistics go stale, so refresh them (a few
    hundred milliseconds at 100,000 rows). PostgreSQL's autovacuum analyzes on its own."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


def _analyze_growing_tables(importer: Importer) -> None:
    """PostgreSQL: refreshes the statistics of the tables the importer writes. Its plans for the foreign
    key checks it runs at every commit are made from them: made while a table was empty (a new install,
    a table just cleared), they scan the whole table for each inserted row, and a million-row import
    slowed to about a hundred rows a second. Autovacuum catches up only minutes later."""
    if connection.vendor != "postgresql" or not importer.tables:
        return
    with connection.cursor() as cursor:
        for model in importer.tables:
            cursor.execute(f"ANALYZE {connection.ops.quote_name(model._meta.db_table)}")


def run_job(job_id: int, *, chunk_size: int = CHUNK_SIZE, progress=None, stop_after_chunks: int | None = None) -> ImportJob:
    """Runs or resumes a job in this thread until it is done or fails. `progress(job)` is called after
    every committed chunk. `stop_after_chunks` leaves the job as an interruption would (running, with
    its cursor after the last committed chunk); it exists for tests and benchmarks."""
    token = uuid.uuid4().hex
    job = _claim(job_id, token)
    table = None
    try:
        importer = importer_for(job.kind)(job)
        if not Path(job.file_path).is_file():
            raise ImportFileError(_("文件不存在：%(path)s") % {"path": job.file_path})
        if file_sha256(job.file_path) != job.file_sha256:
            raise ImportFileError(_("文件在导入开始后被改动过，不能继续；请重新上传"))
        table = Table(job.file_path, importer.aliases)
        importer.check_columns(table)
        if table.unknown:
            job.message = _("已忽略无法识别的列：%(columns)s") % {"columns": "、".join(table.unknown)}
        if job.total_rows is None:
            job.headers = table.headers
            job.total_rows = table.count_rows()
        job.save(update_fields=["headers", "total_rows", "message"])
        chunks = 0
        rows = table.rows(skip=job.processed_rows)
        while batch := list(itertools.islice(rows, chunk_size)):
            _commit_chunk(job, importer, batch, token)
            chunks += 1
            if chunks & (chunks - 1) == 0:  # 1, 2, 4, 8 … chunks: whenever this job may have doubled the tables
                _analyze_growing_tables(importer)
            if progress:
                progress(job)
            if stop_after_chunks is not None and chunks >= stop_after_chunks:
                return job
        importer.finish()
        _refresh_planner_statistics()
        job.refresh_from_db()
        error_file = str(build_error_file(job)) if job.failed_rows else ""
        ImportJob.objects.filter(pk=job.pk, runner=token).update(
            total_rows=job.processed_rows, status=ImportJob.Status.DONE, finished_at=timezone.now(), runner="", error_file=error_file
        )
        job.refresh_from_db()
        _discard_upload(job)
        if progress:
            progress(job)
        return job
    except _Superseded:
        return job
    except BaseException as exc:
        message = _("导入被中断") if isinstance(exc, KeyboardInterrupt) else str(exc)
        ImportJob.objects.filter(pk=job.pk, runner=token).update(status=ImportJob.Status.FAILED, message=message, runner="", finished_at=timezone.now())
        job.refresh_from_db()
        if isinstance(exc, ImportFileError):
            return job
        raise
    finally:
        if table is not None:
            table.close()


def _discard_upload(job: ImportJob) -> None:
    """A finished job needs its uploaded copy no more (the error file is built from the row errors);
    files imported from the command line are the operator's own and stay."""
    path = Path(job.file_path)
    if job.status == ImportJob.Status.DONE and path.parent == upload_dir().resolve():
        path.unlink(missing_ok=True)


def _commit_chunk(job: ImportJob, importer: Importer, batch: list[Row], token: str) -> None:
    rows = [r for r in batch if r.values]
    with transaction.atomic():
        # Lock the job row: two runners can never commit chunks of the same job.
        current = ImportJob.objects.select_for_update().only("runner").get(pk=job.pk)
        if current.runner != token:
            raise _Superseded()
        outcome = importer.process_chunk(rows) if rows else ChunkOutcome()
        raw_by_number = {r.number: r.raw for r in rows}
        seen: set[int] = set()
        errors = []
        for e in sorted(outcome.errors, key=lambda e: e.number):
            first = e.number not in seen
            seen.add(e.number)
            errors.append((job.pk, e.number, e.field[:60], str(e.message)[:500], raw_by_number.get(e.number, []) if first else []))
        if errors:
            insert_rows(ImportRowError, ["job_id", "row_number", "field", "message", "raw"], errors)
        updated = dict(
            processed_rows=batch[-1].index,
            ok_rows=F("ok_rows") + outcome.created + outcome.updated,
            updated_rows=F("updated_rows") + outcome.updated,
            failed_rows=F("failed_rows") + len(seen),
            heartbeat_at=timezone.now(),
        )
        ImportJob.objects.filter(pk=job.pk).update(**updated)
    job.processed_rows = batch[-1].index
    job.ok_rows += outcome.created + outcome.updated
    job.updated_rows += outcome.updated
    job.failed_rows += len(seen)


def start_job(job: ImportJob) -> None:
    """Runs the job in the background: on Celery when a broker is configured, else in a thread of this
    process. With ZHIDU_IMPORT_RUNNER=inline it runs before returning (tests, tiny deployments)."""
    runner = settings.ZHIDU_IMPORT_RUNNER
    if runner == "inline":
        run_job(job.pk)
        job.refresh_from_db()
        return
    if runner == "celery" or (runner == "auto" and settings.CELERY_BROKER_URL):
        from zhidu.kernel.celery_app import app

        transaction.on_commit(lambda: app.send_task("zhidu.run_import", args=[job.pk]))
        return
    transaction.on_commit(lambda: threading.Thread(target=_run_in_thread, args=(job.pk,), name=f"import-{job.pk}", daemon=True).start())


def _run_in_thread(job_id: int) -> None:
    close_old_connections()
    try:
        run_job(job_id)
    except Exception:
        log.exception("import job %s failed", job_id)
    finally:
        connection.close()


def resume_stale_jobs() -> list[int]:
    """Restarts jobs whose runner died (server restart, killed worker); returns their ids."""
    cutoff = timezone.now() - STALE_AFTER
    ids = list(
        ImportJob.objects.filter(status=ImportJob.Status.RUNNING, heartbeat_at__lt=cutoff).values_list("pk", flat=True)[:20]
    ) + list(ImportJob.objects.filter(status=ImportJob.Status.QUEUED, created_at__lt=cutoff).values_list("pk", flat=True)[:20])
    for job_id in ids:
        start_job(ImportJob(pk=job_id))
    return ids


# ---------------------------------------------------------------------------------------------------
# Reading results


def row_errors(job: ImportJob, *, after: int = 0, limit: int = 100) -> list[ImportRowError]:
    """A page of the job's row errors in row order; `after` is the last error id of the previous page."""
    qs = ImportRowError.objects.filter(job=job).order_by("row_number", "id")
    if after:
        last = ImportRowError.objects.filter(job=job, pk=after).values_list("row_number", flat=True).first()
        if last is not None:
            qs = qs.filter(row_number__gte=last).exclude(row_number=last, id__lte=after)
    return list(qs[:limit])


def build_error_file(job: ImportJob) -> Path:
    """An XLSX of the refused rows: the original columns, the original row number and the reasons.
    Fixing the rows in it and importing it again works: the two extra columns are ignored."""
    from zhidu.kernel.exporting import XlsxWriter

    directory = upload_dir() / "errors"
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"import-{job.pk}-errors.xlsx"
    headers = list(job.headers)
    with XlsxWriter(target, title=_("错误行")) as writer:
        writer.append([*headers, ROW_COLUMN, ERROR_COLUMN])
        for number, raw, messages in _grouped_errors(job):
            cells = (list(raw) + [""] * len(headers))[: len(headers)]
            writer.append([*cells, number, "；".join(messages)])
    return target


def _grouped_errors(job: ImportJob):
    rows = ImportRowError.objects.filter(job=job).order_by("row_number", "id").values_list("row_number", "raw", "message", "field")
    for number, group in itertools.groupby(rows.iterator(chunk_size=CHUNK_SIZE), key=lambda r: r[0]):
        group = list(group)
        raw = next((g[1] for g in group if g[1]), [])
        yield number, raw, [g[2] for g in group]


def error_file_path(job: ImportJob) -> Path | None:
    """The error file of a finished job, built on first request if it is missing."""
    if not job.failed_rows or job.status != ImportJob.Status.DONE:
        return None
    path = Path(job.error_file) if job.error_file else None
    if path is None or not path.is_file():
        path = build_error_file(job)
        ImportJob.objects.filter(pk=job.pk).update(error_file=str(path))
        job.error_file = str(path)
    return path
