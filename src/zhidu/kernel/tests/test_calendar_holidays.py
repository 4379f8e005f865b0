"""Holiday years entered by an admin: the import service, overriding the built-in data, the CLI."""

import datetime as dt
import io
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from zhidu.kernel import calendar
from zhidu.kernel.errors import Invalid, NotFound
from zhidu.kernel.models import AuditEntry, HolidayDate, HolidayYear

SH = ZoneInfo("Asia/Shanghai")
YEAR = calendar.BUILTIN_LAST_YEAR + 1  # the first year the built-in data does not cover

pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


def first_weekday(year: int, month: int, weekday: int) -> dt.date:
    day = dt.date(year, month, 1)
    return day + dt.timedelta(days=(weekday - day.weekday()) % 7)


# An arrangement for YEAR: New Year's Day off, a 3-day break around the first Monday of October,
# and the Saturday after it worked in exchange.
OCT_MONDAY = first_weekday(YEAR, 10, 0)
OCT_SATURDAY = OCT_MONDAY + dt.timedelta(days=5)
CSV = (
    "date,kind,name\n"
    f"{YEAR}-01-01,holiday,元旦\n"
    f"{OCT_MONDAY},holiday,国庆节\n"
    f"{OCT_MONDAY + dt.timedelta(days=1)},holiday,国庆节\n"
    f"{OCT_MONDAY + dt.timedelta(days=2)},holiday,国庆节\n"
    f"{OCT_SATURDAY},workday,国庆节\n"
)


@pytest.fixture
def admin(django_user_model):
    return django_user_model.objects.create_user(username="caladmin", password=None)


@pytest.fixture
def entered(admin):
    return calendar.holiday_year_import(calendar.read_holiday_csv(CSV), YEAR, admin, source="国办发明电 测试")


def test_import_covers_an_uncovered_year(entered, admin):
    assert entered.year == YEAR and entered.entered_by == admin and entered.source == "国办发明电 测试"
    assert YEAR in calendar.covered_years()
    assert not calendar.is_working_day(dt.date(YEAR, 1, 1))
    assert not calendar.is_working_day(OCT_MONDAY)
    assert calendar.is_working_day(OCT_SATURDAY)
    # dates the file does not list follow Monday–Friday
    assert calendar.is_working_day(first_weekday(YEAR, 3, 2))
    assert not calendar.is_working_day(first_weekday(YEAR, 3, 6))


def expected_working_day(day: dt.date) -> bool:
    """An independent oracle: chinesecalendar before YEAR, the CSV above in YEAR."""
    if day.year < YEAR:
        return chinese_calendar.is_workday(day)
    holidays = {dt.date(YEAR, 1, 1)} | {OCT_MONDAY + dt.timedelta(days=i) for i in range(3)}
    return day == OCT_SATURDAY or (day.weekday() < 5 and day not in holidays)


def test_working_days_across_the_year_boundary_use_the_entered_year(entered):
    start = dt.date(YEAR - 1, 12, 20)
    for amount in range(1, 15):
        later = [start + dt.timedelta(days=i) for i in range(1, 40)]
        expected = [day for day in later if expected_working_day(day)][amount - 1]
        result = calendar.add(dt.datetime.combine(start, dt.time(10, 0), SH), amount, "working_days")
        assert result == dt.datetime.combine(expected, dt.time(10, 0), SH), amount


def test_working_days_over_the_entered_holiday(entered):
    friday = OCT_MONDAY - dt.timedelta(days=3)
    # Mon–Wed off, Thu, Fri, and the make-up Saturday work
    assert calendar.add(at(friday.year, friday.month, friday.day, 9, 0), 3, "working_days") == dt.datetime.combine(
        OCT_SATURDAY, dt.time(9, 0), SH
    )
    # the exchanges do not open on the make-up Saturday
    assert calendar.add(dt.datetime.combine(friday, dt.time(9, 0), SH), 3, "trading_days") == dt.datetime.combine(
        OCT_SATURDAY + dt.timedelta(days=2), dt.time(9, 0), SH
    )


def test_admin_year_fully_replaces_the_builtin_year(admin):
    year = 2026
    assert not calendar.is_working_day(dt.date(year, 10, 1))
    calendar.holiday_year_import(calendar.read_holiday_csv("2026-01-01,holiday,元旦\n"), year, admin)
    # 国庆 from chinesecalendar no longer applies, nor its make-up Saturday
    assert calendar.is_working_day(dt.date(year, 10, 1))
    assert not calendar.is_working_day(dt.date(year, 10, 10))
    assert calendar.add(at(2026, 9, 30, 10, 0), 3, "working_days") == at(2026, 10, 5, 10, 0)
    # other years still come from chinesecalendar
    assert not calendar.is_working_day(dt.date(2025, 10, 1))
    arrangement = calendar.year_arrangement(year)
    assert not arrangement.builtin and [row.date for row in arrangement.rows] == [dt.date(2026, 1, 1)]


def test_reimport_replaces_the_year_and_delete_restores_the_builtin(admin, entered):
    calendar.holiday_year_import(calendar.read_holiday_csv(f"{YEAR}-05-03,holiday,劳动节\n"), YEAR, admin)
    assert HolidayYear.objects.count() == 1
    assert list(HolidayDate.objects.values_list("date", flat=True)) == [dt.date(YEAR, 5, 3)]
    assert calendar.is_working_day(OCT_MONDAY)

    calendar.holiday_year_import(calendar.read_holiday_csv("2026-01-01,holiday,元旦\n"), 2026, admin)
    calendar.holiday_year_delete(2026, admin)
    assert not calendar.is_working_day(dt.date(2026, 10, 1))
    with pytest.raises(NotFound):
        calendar.holiday_year_delete(2026, admin)


def test_import_and_delete_are_audited(admin, entered):
    entry = AuditEntry.objects.get(action="calendar.holiday_year.import")
    assert entry.actor_id == admin.pk
    assert entry.target_id == str(entered.pk)
    assert entry.details["year"] == YEAR and entry.details["holidays"] == 4 and entry.details["workdays"] == 1
    calendar.holiday_year_delete(YEAR, admin)
    assert AuditEntry.objects.filter(action="calendar.holiday_year.delete", details__year=YEAR).exists()


def test_bad_rows_are_reported_row_by_row_and_nothing_is_written(admin):
    text = (
        "date,kind,name\n"
        f"{YEAR}-01-01,holiday,元旦\n"
        f"{YEAR}-02-30,holiday,春节\n"
        f"{YEAR}-01-01,holiday,元旦\n"
        f"{YEAR - 1}-12-31,holiday,\n"
        f"{first_weekday(YEAR, 6, 1)},workday,端午\n"
        f"{YEAR}-06-01,off,儿童节\n"
        f"{YEAR}-07-01,holiday,建党,extra\n"
    )
    with pytest.raises(Invalid) as caught:
        calendar.holiday_year_import(calendar.read_holiday_csv(text), YEAR, admin)
    rows = {item["row"]: item["errors"] for item in caught.value.details["rows"]}
    assert sorted(rows) == [3, 4, 5, 6, 7, 8]
    assert "YYYY-MM-DD" in rows[3][0]
    assert "第 2 行重复" in rows[4][0]
    assert f"不属于 {YEAR} 年" in rows[5][0]
    assert "不能标为调休上班日" in rows[6][0]
    assert "holiday 或 workday" in rows[7][0]
    assert "多余的列" in rows[8][0]
    assert "6 处错误" in caught.value.message
    assert not HolidayYear.objects.exists() and not HolidayDate.objects.exists()
    assert not AuditEntry.objects.filter(action="calendar.holiday_year.import").exists()


def test_a_file_without_holidays_is_rejected(admin):
    with pytest.raises(Invalid) as caught:
        calendar.holiday_year_import(calendar.read_holiday_csv("date,kind,name\n"), YEAR, admin)
    assert "没有任何放假日期" in caught.value.details["rows"][0]["errors"][0]


def test_csv_reader_accepts_bom_and_no_header_and_rejects_other_encodings():
    rows = calendar.read_holiday_csv(f"\ufeff{YEAR}-01-01, holiday ,元旦\n\n".encode())
    assert rows == [{"row": 1, "date": f"{YEAR}-01-01", "kind": "holiday", "name": "元旦", "extra": []}]
    with pytest.raises(Invalid):
        calendar.read_holiday_csv(f"{YEAR}-01-01,holiday,元旦\n".encode("gbk"))


def test_builtin_year_arrangement_lists_holidays_and_make_up_days():
    arrangement = calendar.year_arrangement(2026)
    assert arrangement.builtin
    rows = {row.date: row for row in arrangement.rows}
    assert rows[dt.date(2026, 10, 1)].name == "国庆节" and not rows[dt.date(2026, 10, 1)].is_working_day
    assert rows[dt.date(2026, 10, 10)].is_working_day
    assert rows[dt.date(2026, 9, 20)].is_working_day
    # the exported file imports back to the same arrangement
    text = calendar.holiday_csv(arrangement)
    assert "2026-10-10,workday,国庆节" in text
    valid, errors = calendar._validate_rows(calendar.read_holiday_csv(text), 2026)
    assert errors == [] and valid == arrangement.rows


def test_query_count_does_not_grow_with_the_amount(entered, django_assert_max_num_queries):
    start = at(YEAR, 1, 4, 9, 0)
    with django_assert_max_num_queries(2):
        calendar.add(start, 200, "working_days")
    with django_assert_max_num_queries(1):
        calendar.add(at(2020, 1, 2, 9, 0), 400, "working_days")  # built-in years only


# --- CLI ---------------------------------------------------------------------------------------


def run(*args) -> str:
    out = io.StringIO()
    call_command("calendar", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_cli_add_prints_one_iso_datetime():
    assert run("add", "2026-09-30T10:00", "3", "working_days") == "2026-10-10T10:00:00+08:00\n"
    assert run("add", "2026-09-30T02:00:00+00:00", "3", "working_days") == "2026-10-10T10:00:00+08:00\n"
    assert run("add", "2026-10-10T10:00", "-3", "working_days") == "2026-09-30T10:00:00+08:00\n"
    assert run("add", "2026-09-30T17:00", "2", "working_hours") == "2026-10-08T10:00:00+08:00\n"


def test_cli_add_rejects_bad_input():
    with pytest.raises(CommandError, match="ISO 8601"):
        run("add", "30/09/2026", "3", "working_days")
    with pytest.raises(CommandError):
        run("add", "2026-09-30T10:00", "3", "fortnights")


def test_cli_uncovered_year_is_a_clear_error():
    with pytest.raises(CommandError, match=f"缺少 {YEAR} 年的节假日安排.*zhidu calendar holidays import"):
        run("add", f"{YEAR - 1}-12-28T10:00", "5", "working_days")


def test_cli_uncovered_year_goes_to_stderr_with_a_non_zero_exit(monkeypatch, capsys):
    from django.db import connections

    from zhidu.kernel.management.commands.calendar import Command

    # run_from_argv closes the connections when done; the test database must stay open.
    monkeypatch.setattr(connections, "close_all", lambda: None)
    with pytest.raises(SystemExit) as caught:
        Command().run_from_argv(["zhidu", "calendar", "add", f"{YEAR - 1}-12-28T10:00", "5", "working_days"])
    assert caught.value.code != 0
    captured = capsys.readouterr()
    assert captured.out == ""
    assert f"缺少 {YEAR} 年的节假日安排" in captured.err


def test_cli_import_and_list(tmp_path, admin):
    path = tmp_path / f"holidays-{YEAR}.csv"
    path.write_text(CSV, encoding="utf-8")
    assert run("holidays", "import", str(path), "--user", "caladmin") == f"{YEAR}: 4 holidays, 1 make-up working days imported\n"
    entry = HolidayYear.objects.get(year=YEAR)
    assert entry.source == path.name and entry.entered_by == admin

    listing = run("holidays", "list")
    assert f"{calendar.BUILTIN_FIRST_YEAR}-{calendar.BUILTIN_LAST_YEAR}" in listing
    assert f"{YEAR}\tentered" in listing and "caladmin" in listing
    assert run("holidays", "list", str(YEAR)) == CSV

    # after the import the year is covered
    assert run("add", f"{YEAR}-01-01T10:00", "1", "calendar_days") == f"{YEAR}-01-02T10:00:00+08:00\n"
    assert run("add", f"{YEAR - 1}-12-31T10:00", "1", "working_days") == run("add", f"{YEAR}-01-01T10:00", "1", "working_days")


def test_cli_import_reports_bad_rows(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text(f"{YEAR}-01-01,holiday,元旦\n{YEAR}-01-02,vacation,\n", encoding="utf-8")
    with pytest.raises(CommandError) as caught:
        run("holidays", "import", str(path))
    assert "line 2:" in str(caught.value) and "holiday 或 workday" in str(caught.value)
    assert not HolidayYear.objects.exists()


def test_cli_import_needs_a_known_year_and_a_readable_file(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text(f"{YEAR}-01-01,holiday,元旦\n{YEAR + 1}-01-01,holiday,元旦\n", encoding="utf-8")
    with pytest.raises(CommandError, match="--year"):
        run("holidays", "import", str(path))
    with pytest.raises(CommandError, match="cannot read"):
        run("holidays", "import", str(tmp_path / "missing.csv"))


def test_cli_list_of_an_uncovered_year_fails():
    with pytest.raises(CommandError, match=str(YEAR)):
        run("holidays", "list", str(YEAR))
