"""The generic import machinery: reading CSV/XLSX with header aliases and encoding detection, the chunk
cursor, resuming, runner exclusivity, upload checks and the error file."""

import datetime

import openpyxl
import pytest

from zhidu.kernel import importing
from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.exporting import XlsxWriter
from zhidu.kernel.models import ImportJob, ImportRowError

ALIASES = {"name": ("名称", "客户名称"), "phone": ("电话", "联系电话"), "n": ("数量",)}


class Recorder(importing.Importer):
    """Accepts rows whose `n` is a number, refuses the rest; remembers every row it was given."""

    kind = "test-recorder"
    aliases = ALIASES
    required_columns = ("name",)
    seen: list[int] = []

    def process_chunk(self, rows):
        outcome = importing.ChunkOutcome()
        for row in rows:
            Recorder.seen.append(row.number)
            if row.values.get("n", "").isdigit():
                outcome.created += 1
            else:
                outcome.errors.append(importing.RowError(row.number, "n", f"不是数字：{row.values.get('n', '')}"))
                if not row.values.get("name"):
                    outcome.errors.append(importing.RowError(row.number, "name", "名称不能为空"))
        return outcome


importing.register(Recorder)


@pytest.fixture(autouse=True)
def _reset():
    Recorder.seen = []


def csv_file(path, text, encoding="utf-8"):
    path.write_bytes(text.encode(encoding))
    return path


def test_header_key_ignores_case_spaces_markers_and_notes():
    assert importing.header_key(" 名称* ") == importing.header_key("名称（必填）") == importing.header_key("名 称") == "名称"
    assert importing.header_key("Credit_Code") == importing.header_key("credit code") == "creditcode"


def test_cell_text_reads_numbers_typed_in_excel_as_text():
    assert importing.cell_text(13812345678.0) == "13812345678"
    assert importing.cell_text(12.5) == "12.5"
    assert importing.cell_text(None) == ""
    assert importing.cell_text(" 甲 ") == "甲"
    assert importing.cell_text(datetime.datetime(2026, 1, 2)) == "2026-01-02"


@pytest.mark.parametrize(
    "encoding, expected",
    [("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("gb18030", "gb18030"), ("gbk", "gb18030")],
)
def test_encoding_is_detected(tmp_path, encoding, expected):
    path = csv_file(tmp_path / "a.csv", "名称,电话\n北京甲公司,13812345678\n", encoding)
    assert importing.detect_encoding(path) == expected
    with importing.Table(path, ALIASES) as table:
        assert table.headers == ["名称", "电话"]
        assert [r.values for r in table.rows()] == [{"name": "北京甲公司", "phone": "13812345678"}]


def test_csv_rows_numbers_blank_rows_quotes_and_skip(tmp_path):
    text = '客户名称,联系电话,备注\n甲,"1,2",x\n\n"乙\n二行",3,\n丙,4\n'
    with importing.Table(csv_file(tmp_path / "a.csv", text), ALIASES) as table:
        assert table.columns == {0: "name", 1: "phone"}
        assert table.unknown == ["备注"]
        rows = list(table.rows())
        assert [(r.index, r.number) for r in rows] == [(1, 2), (2, 3), (3, 4), (4, 5)]
        assert rows[1].values == {} and rows[2].values["name"] == "乙\n二行"
        assert rows[3].raw == ["丙", "4", ""]
        assert [r.number for r in table.rows(skip=2)] == [4, 5]
        assert table.count_rows() == 4


def test_semicolon_csv_is_sniffed(tmp_path):
    with importing.Table(csv_file(tmp_path / "a.csv", "名称;电话\n甲;138\n"), ALIASES) as table:
        assert [r.values for r in table.rows()] == [{"name": "甲", "phone": "138"}]


def test_xlsx_rows(tmp_path):
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "电话"])
    sheet.append(["甲", 13812345678])
    sheet.append([None, None])
    sheet.append(["乙", None])
    book.save(tmp_path / "a.xlsx")
    with importing.Table(tmp_path / "a.xlsx", ALIASES) as table:
        rows = list(table.rows())
        assert [(r.number, r.values) for r in rows] == [(2, {"name": "甲", "phone": "13812345678"}), (3, {}), (4, {"name": "乙", "phone": ""})]
        assert table.count_rows() == 3


def test_xlsx_written_by_write_only_workbooks_has_a_size(tmp_path):
    with XlsxWriter(tmp_path / "a.xlsx") as writer:
        writer.append(["名称", "数量"])
        for i in range(5):
            writer.append([f"客户{i}", i])
    with importing.Table(tmp_path / "a.xlsx", ALIASES) as table:
        assert table.count_rows() == 5
        assert [r.values["n"] for r in table.rows(skip=3)] == ["3", "4"]


def test_unreadable_and_headerless_files_are_refused(tmp_path):
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(importing.ImportFileError):
        importing.Table(tmp_path / "a.txt", ALIASES)
    (tmp_path / "b.xlsx").write_bytes(b"not a zip")
    with pytest.raises(importing.ImportFileError):
        importing.Table(tmp_path / "b.xlsx", ALIASES)
    (tmp_path / "c.csv").write_text("\n\n")
    with pytest.raises(importing.ImportFileError, match="没有标题行"):
        importing.Table(tmp_path / "c.csv", ALIASES)


def test_upload_checks(settings):
    settings.ZHIDU_IMPORT_MAX_BYTES = 100
    assert importing.check_upload("A.XLSX", 10) == ".xlsx"
    with pytest.raises(Invalid):
        importing.check_upload("a.xls", 10)
    with pytest.raises(Invalid) as too_big:
        importing.check_upload("a.csv", 101)
    assert too_big.value.status == 413
    with pytest.raises(Invalid):
        importing.check_upload("a.csv", 0)


def numbers_file(tmp_path, values):
    lines = ["名称,数量"] + [f"行{i},{v}" for i, v in enumerate(values)]
    return csv_file(tmp_path / "n.csv", "\n".join(lines) + "\n")


@pytest.mark.django_db
def test_job_counts_every_row_once_and_builds_the_error_file(tmp_path):
    path = numbers_file(tmp_path, ["1", "x", "2", "3", "y", "4", "5"])
    job = importing.job_create("test-recorder", path)
    job = importing.run_job(job.pk, chunk_size=3)

    assert (job.status, job.total_rows, job.processed_rows, job.ok_rows, job.failed_rows) == ("done", 7, 7, 5, 2)
    assert Recorder.seen == [2, 3, 4, 5, 6, 7, 8]
    errors = list(ImportRowError.objects.filter(job=job).values_list("row_number", "raw"))
    assert errors == [(3, ["行1", "x"]), (6, ["行4", "y"])]
    rows = list(openpyxl.load_workbook(job.error_file, read_only=True).worksheets[0].iter_rows(values_only=True))
    assert rows == [("名称", "数量", "原行号", "错误原因"), ("行1", "x", 3, "不是数字：x"), ("行4", "y", 6, "不是数字：y")]


@pytest.mark.django_db
def test_resume_continues_after_the_cursor_and_never_repeats_a_row(tmp_path):
    job = importing.job_create("test-recorder", numbers_file(tmp_path, ["1", "2", "x", "4", "5"]))
    importing.run_job(job.pk, chunk_size=2, stop_after_chunks=2)
    job.refresh_from_db()
    assert (job.processed_rows, job.ok_rows, job.failed_rows) == (4, 3, 1)

    with pytest.raises(Conflict):
        importing.run_job(job.pk)
    ImportJob.objects.filter(pk=job.pk).update(heartbeat_at=job.heartbeat_at - importing.STALE_AFTER * 2)
    assert importing.is_stale(ImportJob.objects.get(pk=job.pk))
    job = importing.run_job(job.pk, chunk_size=2)

    assert Recorder.seen == [2, 3, 4, 5, 6]
    assert (job.status, job.processed_rows, job.ok_rows, job.failed_rows) == ("done", 5, 4, 1)
    with pytest.raises(Conflict):
        importing.run_job(job.pk)


@pytest.mark.django_db
def test_a_runner_that_lost_the_job_stops_without_writing(tmp_path):
    job = importing.job_create("test-recorder", numbers_file(tmp_path, ["1", "2", "3"]))
    importing.run_job(job.pk, chunk_size=1, stop_after_chunks=1)
    ImportJob.objects.filter(pk=job.pk).update(runner="someone-else")
    token = "mine"
    with pytest.raises(importing._Superseded):
        importing._commit_chunk(job, Recorder(job), [importing.Row(2, 3, {"name": "a", "n": "1"}, ["a", "1"])], token)
    assert ImportJob.objects.get(pk=job.pk).processed_rows == 1


@pytest.mark.django_db
def test_a_changed_file_is_not_resumed(tmp_path):
    path = numbers_file(tmp_path, ["1", "2"])
    job = importing.job_create("test-recorder", path)
    numbers_file(tmp_path, ["1", "2", "3"])
    job = importing.run_job(job.pk)
    assert job.status == "failed" and "改动" in job.message


@pytest.mark.django_db
def test_missing_column_and_unknown_kind(tmp_path):
    job = importing.job_create("test-recorder", csv_file(tmp_path / "a.csv", "电话\n1\n"))
    job = importing.run_job(job.pk)
    assert (job.status, job.message) == ("failed", "文件缺少必需的列：名称")
    with pytest.raises(importing.NotFound):
        importing.job_create("nothing-like-this", tmp_path / "a.csv")


@pytest.mark.django_db
def test_row_errors_are_paged_in_row_order(tmp_path):
    job = importing.job_create("test-recorder", numbers_file(tmp_path, ["a", "b", "c"]))
    importing.run_job(job.pk)
    # Row 1 ("行0") has a name, so one reason per row.
    first = importing.row_errors(job, limit=2)
    rest = importing.row_errors(job, after=first[-1].pk, limit=2)
    assert [e.row_number for e in first + rest] == [2, 3, 4]


@pytest.mark.django_db
def test_inline_runner_and_stale_job_restart(tmp_path, settings):
    settings.ZHIDU_IMPORT_RUNNER = "inline"
    job = importing.job_create("test-recorder", numbers_file(tmp_path, ["1"]))
    ImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at - importing.STALE_AFTER * 2)
    assert importing.resume_stale_jobs() == [job.pk]
    assert ImportJob.objects.get(pk=job.pk).status == "done"


def test_xlsx_without_a_declared_size_is_counted_from_its_last_row(tmp_path):
    book = openpyxl.Workbook(write_only=True)  # writes no <dimension>
    sheet = book.create_sheet("客户")
    sheet.append(["名称", "电话"])
    for i in range(30):
        sheet.append([f"客户{i}", None] if i != 12 else [None, None])
    book.save(tmp_path / "a.xlsx")
    with importing.Table(tmp_path / "a.xlsx", ALIASES) as table:
        assert table._sheet().max_row is None or table._sheet().max_row == 31
        assert table.count_rows() == 30 == len(list(table.rows()))


def test_opening_an_xlsx_without_a_declared_size_does_not_read_its_rows(tmp_path, monkeypatch):
    """openpyxl would parse the whole sheet at open to look for a <dimension> it does not have: a
    second full parse of a million-row file, and ~80 MB more peak memory."""
    import zipfile

    book = openpyxl.Workbook(write_only=True)
    sheet = book.create_sheet("客户")
    sheet.append(["名称", "电话"])
    for i in range(3000):
        sheet.append([f"客户{i}", f"1380013{i:04d}"])
    book.save(tmp_path / "big.xlsx")
    with zipfile.ZipFile(tmp_path / "big.xlsx") as archive:
        sheet_bytes = archive.getinfo("xl/worksheets/sheet1.xml").file_size
    read = []
    original = zipfile.ZipExtFile.read
    monkeypatch.setattr(zipfile.ZipExtFile, "read", lambda self, n=-1: read.append(len(data := original(self, n))) or data)
    with importing.Table(tmp_path / "big.xlsx", ALIASES) as table:
        assert table.headers == ["名称", "电话"]
        assert sum(read) < sheet_bytes / 4
        assert table.count_rows() == 3000
        rows = list(table.rows())
    assert len(rows) == 3000 and rows[-1].values == {"name": "客户2999", "phone": "13800132999"}


def test_xlsx_with_a_declared_size_is_counted_from_it(tmp_path):
    book = openpyxl.Workbook()  # the ordinary writer declares <dimension ref="A1:B4">
    sheet = book.active
    for row in (["名称", "电话"], ["甲", "13800138000"], ["乙", ""], ["丙", "13900139000"]):
        sheet.append(row)
    book.save(tmp_path / "d.xlsx")
    with importing.Table(tmp_path / "d.xlsx", ALIASES) as table:
        assert table._sheet().max_row == 4 and table._sheet().max_column == 2
        assert table.count_rows() == 3
        assert [r.values["name"] for r in table.rows()] == ["甲", "乙", "丙"]



@pytest.mark.django_db
def test_statistics_of_the_written_tables_are_refreshed_whenever_they_may_have_doubled(tmp_path, monkeypatch):
    """PostgreSQL plans the foreign-key checks of every commit from the tables' statistics: made while
    a table was empty they scan it whole for each row. The job analyzes the importer's tables after
    chunks 1, 2, 4, 8 … — and on PostgreSQL the ANALYZE really runs (it may inside the chunk's
    transaction)."""
    from django.db import connection

    from zhidu.kernel.models import ImportRowError as Written

    after_chunks = []
    analyze = importing._analyze_growing_tables
    monkeypatch.setattr(Recorder, "tables", (Written,))
    monkeypatch.setattr(importing, "_analyze_growing_tables", lambda importer: (after_chunks.append(len(Recorder.seen)), analyze(importer)))
    job = importing.job_create("test-recorder", numbers_file(tmp_path, [str(i) for i in range(20)]))
    job = importing.run_job(job.pk, chunk_size=2)

    assert job.status == "done"
    assert after_chunks == [2, 4, 8, 16]  # rows seen after chunks 1, 2, 4 and 8 of 10
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT reltuples >= 0 FROM pg_class WHERE relname = %s", [Written._meta.db_table])
            assert cursor.fetchone()[0]  # analyzed: -1 means never


def test_xlsx_rows_read_as_openpyxl_reads_them(tmp_path):
    """Shared strings, numbers, booleans, dates, empty cells and rows left out of the file."""
    import datetime as dt

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["名称", "电话", "数量"])
    sheet.append(["甲", 13800138000, 1.5])
    sheet["A4"], sheet["C4"] = "乙", True  # row 3 is missing, B4 empty
    sheet["A5"], sheet["B5"] = "丙", dt.datetime(2026, 9, 30, 8, 30)
    sheet["A7"], sheet["C7"] = "丁", dt.date(2026, 10, 8)
    book.save(tmp_path / "t.xlsx")
    expected = [tuple(r) for r in openpyxl.load_workbook(tmp_path / "t.xlsx", read_only=True, data_only=True).active.iter_rows(values_only=True)]
    with importing.Table(tmp_path / "t.xlsx", ALIASES) as table:
        rows = list(table.rows())
        assert table.count_rows() == 6
    assert [r.number for r in rows] == [2, 3, 4, 5, 6, 7]
    assert [r.raw for r in rows] == [
        [importing.cell_text(v) for v in values] + [""] * (3 - len(values)) if any(v is not None for v in values) else [] for values in expected[1:]
    ]
    assert rows[0].values == {"name": "甲", "phone": "13800138000", "n": "1.5"}
    assert rows[1].values == {} and rows[4].values == {}
    assert rows[2].values == {"name": "乙", "phone": "", "n": "1"}
    assert rows[3].values["phone"] == "2026-09-30 08:30:00" and rows[5].values["n"] == "2026-10-08"


def test_reading_an_xlsx_keeps_no_memory_per_row(tmp_path):
    """openpyxl's parser leaves every row read attached to the sheet until the end (60 MB for a
    million rows); the import drops each one."""
    import tracemalloc

    def peak_reading(rows):
        path = tmp_path / f"{rows}.xlsx"
        book = openpyxl.Workbook(write_only=True)
        sheet = book.create_sheet("客户")
        sheet.append(["名称", "电话"])
        for i in range(rows):
            sheet.append([f"客户{i}", f"1380013{i % 10000:04d}"])
        book.save(path)
        with importing.Table(path, ALIASES) as table:
            tracemalloc.start()
            read = sum(1 for _ in table.rows())
            peak = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
        assert read == rows
        return peak

    small, large = peak_reading(2_000), peak_reading(20_000)
    assert large - small < 200_000, (small, large)  # openpyxl's own reader: about 1 MB more
