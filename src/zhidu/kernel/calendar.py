"""The Chinese working-day calendar: deadlines in working days, working hours, trading days and months.

A day's status comes from, in this order:
1. a holiday year an admin entered (HolidayYear + HolidayDate): it fully replaces the built-in data
   for that year; dates it does not list follow Monday–Friday;
2. `chinesecalendar` (statutory holidays and 调休 make-up working days) for the years it covers;
3. otherwise `CalendarDataMissing`: a year nobody entered is never guessed from weekends.

Day boundaries and times of day are those of Django's current time zone (Asia/Shanghai by default).
"""

import calendar as _stdcalendar
import csv
import datetime as dt
import io
import logging
from dataclasses import dataclass
from typing import Callable

import chinese_calendar
from chinese_calendar.constants import Holiday
from django.db import transaction
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from zhidu.kernel.errors import ApiError, Invalid

log = logging.getLogger(__name__)

UNITS = ("minutes", "hours", "calendar_days", "working_days", "working_hours", "trading_days", "trading_hours", "months")

BUILTIN_FIRST_YEAR = min(chinese_calendar.constants.holidays).year
BUILTIN_LAST_YEAR = max(chinese_calendar.constants.holidays).year

HOLIDAY = "holiday"
WORKDAY = "workday"


class CalendarDataMissing(ApiError):
    """No holiday data for a year: neither an admin-entered year nor the built-in statutory calendar."""

    status = 409
    code = "calendar_data_missing"

    def __init__(self, year: int):
        self.year = year
        try:
            page = reverse("kernel:calendar")
        except NoReverseMatch:
            page = "/kernel/calendar/"
        message = gettext(
            "缺少 %(year)s 年的节假日安排，无法按工作日计算。请管理员在“节假日日历”页面（%(page)s）录入 %(year)s 年的"
            "放假与调休安排，或运行命令：zhidu calendar holidays import 文件.csv"
        ) % {"year": year, "page": page}
        super().__init__(message, details={"year": year})


# ---------------------------------------------------------------------------------------------
# Day status


class _Days:
    """Answers "is this a working day?" for one computation, loading each year's admin data once."""

    def __init__(self):
        self._entered_years: set[int] | None = None
        self._admin: dict[int, dict[dt.date, bool]] = {}

    def _admin_year(self, year: int) -> dict[dt.date, bool] | None:
        from zhidu.kernel.models import HolidayDate, HolidayYear

        if self._entered_years is None:
            self._entered_years = set(HolidayYear.objects.values_list("year", flat=True))
        if year not in self._entered_years:
            return None
        if year not in self._admin:
            self._admin[year] = dict(HolidayDate.objects.filter(holiday_year__year=year).values_list("date", "is_working_day"))
        return self._admin[year]

    def is_working_day(self, day: dt.date) -> bool:
        admin = self._admin_year(day.year)
        if admin is not None:
            return admin.get(day, day.weekday() < 5)
        if BUILTIN_FIRST_YEAR <= day.year <= BUILTIN_LAST_YEAR:
            return chinese_calendar.is_workday(day)
        raise CalendarDataMissing(day.year)

    def is_trading_day(self, day: dt.date) -> bool:
        # Exchanges close on weekend make-up working days: a trading day is a working Monday–Friday.
        return day.weekday() < 5 and self.is_working_day(day)


def _local_date(value: dt.date | dt.datetime) -> dt.date:
    if isinstance(value, dt.datetime):
        return _localtime(value).date()
    return value


def is_working_day(day: dt.date | dt.datetime) -> bool:
    """True for a working day (including 调休 make-up weekends); a datetime counts by its local date."""
    return _Days().is_working_day(_local_date(day))


def is_trading_day(day: dt.date | dt.datetime) -> bool:
    """True for a day the Chinese stock exchanges trade: a working day that is not a weekend make-up day."""
    return _Days().is_trading_day(_local_date(day))


# ---------------------------------------------------------------------------------------------
# Adding


def _localtime(moment: dt.datetime) -> dt.datetime:
    if timezone.is_naive(moment):
        raise ValueError("calendar.add needs an aware datetime, got a naive one: %r" % (moment,))
    return timezone.localtime(moment)


def _at(day: dt.date, time_of_day: dt.time, tz) -> dt.datetime:
    return timezone.make_aware(dt.datetime.combine(day, time_of_day), tz)


def parse_intervals(pairs, what: str = "calendar.business_hours") -> list[tuple[dt.time, dt.time]]:
    """[["09:00", "12:00"], ...] -> sorted (start, end) times; rejects empty, reversed or overlapping pairs."""
    try:
        intervals = sorted((dt.time.fromisoformat(a), dt.time.fromisoformat(b)) for a, b in pairs)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{what}: expected a list of [\"HH:MM\", \"HH:MM\"] pairs, got {pairs!r}") from exc
    if not intervals:
        raise ValueError(f"{what}: at least one [start, end] pair is needed")
    previous_end = None
    for start, end in intervals:
        if start >= end:
            raise ValueError(f"{what}: {start:%H:%M} is not before {end:%H:%M}")
        if previous_end is not None and start < previous_end:
            raise ValueError(f"{what}: intervals overlap at {start:%H:%M}")
        previous_end = end
    return intervals


def _policy_value(key: str):
    from zhidu.kernel import policy

    return policy.value(key)


def _step_days(start: dt.datetime, amount: int, day_ok) -> dt.datetime:
    day = start.date()
    step = dt.timedelta(days=1 if amount > 0 else -1)
    remaining = abs(amount)
    while remaining:
        day += step
        if day_ok(day):
            remaining -= 1
    return _at(day, start.time(), start.tzinfo)


def _step_hours(start: dt.datetime, amount: int, intervals, day_ok) -> dt.datetime:
    tz = start.tzinfo
    remaining = dt.timedelta(hours=abs(amount))
    day = start.date()
    if amount > 0:
        while True:
            if day_ok(day):
                for a, b in intervals:
                    begin, end = max(_at(day, a, tz), start), _at(day, b, tz)
                    if end <= begin:
                        continue
                    if remaining <= end - begin:
                        return begin + remaining
                    remaining -= end - begin
            day += dt.timedelta(days=1)
    while True:
        if day_ok(day):
            for a, b in reversed(intervals):
                begin, end = _at(day, a, tz), min(_at(day, b, tz), start)
                if end <= begin:
                    continue
                if remaining <= end - begin:
                    return end - remaining
                remaining -= end - begin
        day -= dt.timedelta(days=1)


def _add_months(start: dt.datetime, amount: int) -> dt.datetime:
    index = start.year * 12 + start.month - 1 + amount
    year, month = divmod(index, 12)
    month += 1
    day = min(start.day, _stdcalendar.monthrange(year, month)[1])
    return _at(dt.date(year, month, day), start.time(), start.tzinfo)


def add(start: dt.datetime, amount: int, unit: str, *, business_hours=None, trading_sessions=None) -> dt.datetime:
    """Return `start` moved by `amount` units (a negative amount moves back). `start` must be aware;
    the result is aware, in the current time zone. An amount of 0 returns `start` unchanged.

    - minutes, hours: elapsed time.
    - calendar_days: the same time of day, `amount` dates later.
    - months: the same time of day and day of month, `amount` months later; a day the target month
      lacks becomes its last day (Jan 31 + 1 month = Feb 28/29).
    - working_days: the same time of day on the `amount`-th working day after the start date. The
      start date itself is never counted (as 民法典 art. 201 counts periods), so a start on a holiday
      or weekend counts from the next working day: Saturday + 1 working day = Monday, and
      2026-09-30 10:00 + 3 working days = 2026-10-10 10:00 (Oct 1–7 off for 国庆, Oct 8, 9 and the
      make-up Saturday Oct 10). Subtracting counts working days before the start date, so adding
      and then subtracting the same amount returns a start that lies on a working day.
    - trading_days: like working_days, counting trading days (working days that are not weekend
      make-up days: the exchanges stay closed on 调休 Saturdays and Sundays).
    - working_hours: `amount` hours counted only inside the business hours (`business_hours`, by
      default the pack parameter `calendar.business_hours`) of working days. A start outside the
      hours counts from the next opening; a result exactly at a closing time stays there (12:00,
      not 13:00).
    - trading_hours: the same inside the trading sessions (`calendar.trading_sessions`) of trading days.

    Raises CalendarDataMissing when a day to be counted falls in a year with no holiday data.
    """
    if unit not in UNITS:
        raise ValueError(f"unknown calendar unit {unit!r}; expected one of {', '.join(UNITS)}")
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise ValueError(f"calendar.add needs a whole number amount, got {amount!r}")
    start = _localtime(start)
    if amount == 0:
        return start
    if unit == "minutes":
        return timezone.localtime(start + dt.timedelta(minutes=amount))
    if unit == "hours":
        return timezone.localtime(start + dt.timedelta(hours=amount))
    if unit == "calendar_days":
        return _step_days(start, amount, lambda day: True)
    if unit == "months":
        return _add_months(start, amount)
    days = _Days()
    if unit == "working_days":
        return _step_days(start, amount, days.is_working_day)
    if unit == "trading_days":
        return _step_days(start, amount, days.is_trading_day)
    if unit == "working_hours":
        if business_hours is None:
            business_hours = _policy_value("calendar.business_hours")
        intervals = parse_intervals(business_hours, "calendar.business_hours")
        return _step_hours(start, amount, intervals, days.is_working_day)
    if trading_sessions is None:
        trading_sessions = _policy_value("calendar.trading_sessions")
    intervals = parse_intervals(trading_sessions, "calendar.trading_sessions")
    return _step_hours(start, amount, intervals, days.is_trading_day)


def is_trading_time(moment: dt.datetime, *, trading_sessions=None) -> bool:
    """True while the exchanges are in a trading session: a trading day, inside one of the sessions."""
    moment = _localtime(moment)
    if trading_sessions is None:
        trading_sessions = _policy_value("calendar.trading_sessions")
    intervals = parse_intervals(trading_sessions, "calendar.trading_sessions")
    if not is_trading_day(moment.date()):
        return False
    return any(a <= moment.time() < b for a, b in intervals)


# ---------------------------------------------------------------------------------------------
# Holiday years: what is covered, what a year holds, entering a year


@dataclass(frozen=True)
class HolidayRow:
    date: dt.date
    is_working_day: bool
    name: str

    @property
    def kind(self) -> str:
        return WORKDAY if self.is_working_day else HOLIDAY


@dataclass(frozen=True)
class YearArrangement:
    year: int
    builtin: bool  # True: from chinesecalendar; False: entered by an admin
    source: str
    entered_by: object
    entered_at: dt.datetime | None
    rows: list[HolidayRow]


def covered_years() -> list[int]:
    """Every year a working-day question can be answered for."""
    from zhidu.kernel.models import HolidayYear

    admin = set(HolidayYear.objects.values_list("year", flat=True))
    return sorted(admin | set(range(BUILTIN_FIRST_YEAR, BUILTIN_LAST_YEAR + 1)))


def admin_years():
    """The admin-entered years, newest first, with who entered them."""
    from zhidu.kernel.models import HolidayYear

    return HolidayYear.objects.select_related("entered_by").order_by("-year")


def _builtin_name(english: str | None) -> str:
    try:
        return Holiday(english).chinese
    except ValueError:
        return english or ""


def year_arrangement(year: int) -> YearArrangement:
    """The holidays and make-up working days of `year`; raises CalendarDataMissing for an uncovered year."""
    from zhidu.kernel.models import HolidayYear

    entered = HolidayYear.objects.select_related("entered_by").filter(year=year).first()
    if entered is not None:
        rows = [HolidayRow(d.date, d.is_working_day, d.name) for d in entered.dates.order_by("date")]
        return YearArrangement(year, False, entered.source, entered.entered_by, entered.entered_at, rows)
    if not BUILTIN_FIRST_YEAR <= year <= BUILTIN_LAST_YEAR:
        raise CalendarDataMissing(year)
    rows = [HolidayRow(d, False, _builtin_name(n)) for d, n in chinese_calendar.constants.holidays.items() if d.year == year]
    rows += [HolidayRow(d, True, _builtin_name(n)) for d, n in chinese_calendar.constants.workdays.items() if d.year == year]
    rows.sort(key=lambda row: row.date)
    return YearArrangement(year, True, "chinesecalendar", None, None, rows)


CSV_HELP = _(
    "CSV 文件，UTF-8 编码，每行一个日期：date,kind,name。date 为 YYYY-MM-DD；kind 为 holiday（放假）或 "
    "workday（周末调休上班）；name 为节日名称，可空。第一行可以是表头 date,kind,name。未列出的日期按周一至周五上班、"
    "周六周日休息计算。导入的年度完全取代内置的该年数据。例：2027-10-01,holiday,国庆节"
)


def read_holiday_csv(data: bytes | str) -> list[dict]:
    """Split a holiday CSV into raw rows {"row": line number, "date", "kind", "name"}; the header is optional."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise Invalid(_("文件不是 UTF-8 编码的 CSV"), details={"rows": []}) from exc
    data = data.lstrip("\ufeff")
    rows = []
    for number, fields in enumerate(csv.reader(io.StringIO(data)), start=1):
        if not fields or not "".join(fields).strip():
            continue
        fields = [field.strip() for field in fields]
        if number == 1 and fields[0].lower() in ("date", "日期"):
            continue
        rows.append({"row": number, "date": fields[0], "kind": fields[1] if len(fields) > 1 else "",
                     "name": fields[2] if len(fields) > 2 else "", "extra": fields[3:]})
    return rows


def _validate_rows(rows, year: int) -> tuple[list[HolidayRow], list[dict]]:
    valid, errors, seen = [], [], {}
    for index, raw in enumerate(rows, start=1):
        number = raw.get("row", index)
        problems = []
        date = None
        try:
            date = dt.date.fromisoformat(str(raw.get("date", "")).strip())
        except ValueError:
            problems.append(gettext("日期“%(value)s”不是 YYYY-MM-DD 格式的有效日期") % {"value": raw.get("date", "")})
        kind = str(raw.get("kind", "")).strip().lower()
        if kind not in (HOLIDAY, WORKDAY):
            problems.append(gettext("类型“%(value)s”无效，应为 holiday 或 workday") % {"value": raw.get("kind", "")})
        name = str(raw.get("name", "") or "").strip()
        if len(name) > 60:
            problems.append(gettext("名称超过 60 个字"))
        if raw.get("extra") and any(raw["extra"]):
            problems.append(gettext("多余的列：应只有 date,kind,name 三列"))
        if date is not None:
            if date.year != year:
                problems.append(gettext("日期 %(date)s 不属于 %(year)s 年") % {"date": date, "year": year})
            if date in seen:
                problems.append(gettext("日期 %(date)s 与第 %(row)s 行重复") % {"date": date, "row": seen[date]})
            else:
                seen[date] = number
            if kind == WORKDAY and date.weekday() < 5:
                problems.append(gettext("%(date)s 是周一至周五，本来就上班，不能标为调休上班日") % {"date": date})
        if problems:
            errors.append({"row": number, "errors": problems})
        else:
            valid.append(HolidayRow(date, kind == WORKDAY, name))
    if not errors and not any(not row.is_working_day for row in valid):
        errors.append({"row": None, "errors": [gettext("文件中没有任何放假日期（holiday）")]})
    return valid, errors


# fn(year) run after a holiday year is entered and committed: apps that put off work for lack of holiday
# data (timers that could not be computed) pick it up here.
_year_entered_callbacks: list[Callable[[int], None]] = []


def on_year_entered(callback: Callable[[int], None]) -> Callable[[int], None]:
    """Registers `callback(year)`, run once each time an admin enters (or replaces) a holiday year, after
    the import has committed. A failing callback is logged; it never undoes the import."""
    if callback not in _year_entered_callbacks:
        _year_entered_callbacks.append(callback)
    return callback


def _year_entered(year: int) -> None:
    for callback in list(_year_entered_callbacks):
        try:
            callback(year)
        except Exception:  # the year is saved; the deferred work is also retried by its own job
            log.exception("calendar: callback %r for the entered year %s failed", callback, year)


def holiday_year_import(rows, year: int, user, source: str = "", request=None):
    """Enter (or replace) the holiday arrangement of `year` from raw rows as `read_holiday_csv` returns
    them. All rows are checked first; any bad row raises Invalid with details {"rows": [{"row", "errors"}]}
    and nothing is written. Once committed, the `on_year_entered` callbacks run. Returns the HolidayYear."""
    from zhidu.kernel import audit
    from zhidu.kernel.models import HolidayDate, HolidayYear

    if isinstance(year, bool) or not isinstance(year, int) or not 1900 <= year <= 2200:
        raise Invalid(_("年份无效"), details={"year": year})
    valid, errors = _validate_rows(rows, year)
    if errors:
        raise Invalid(
            gettext("%(year)s 年节假日文件有 %(count)s 处错误，未导入任何数据") % {"year": year, "count": len(errors)},
            details={"rows": errors},
        )
    with transaction.atomic():
        entry, created = HolidayYear.objects.update_or_create(
            year=year, defaults={"source": source[:300], "entered_by": user, "entered_at": timezone.now()}
        )
        replaced = entry.dates.count()
        entry.dates.all().delete()
        HolidayDate.objects.bulk_create(
            HolidayDate(holiday_year=entry, date=row.date, is_working_day=row.is_working_day, name=row.name) for row in valid
        )
        audit.record(
            user,
            "calendar.holiday_year.import",
            target=entry,
            details={
                "year": year,
                "source": source,
                "created": created,
                "replaced_dates": replaced,
                "holidays": sum(1 for row in valid if not row.is_working_day),
                "workdays": sum(1 for row in valid if row.is_working_day),
            },
            request=request,
        )
        transaction.on_commit(lambda: _year_entered(year))
    return entry


def holiday_year_delete(year: int, user, request=None) -> None:
    """Remove an admin-entered year; the built-in data (if any) applies again."""
    from zhidu.kernel import audit
    from zhidu.kernel.errors import NotFound
    from zhidu.kernel.models import HolidayYear

    with transaction.atomic():
        entry = HolidayYear.objects.select_for_update().filter(year=year).first()
        if entry is None:
            raise NotFound(gettext("没有管理员录入的 %(year)s 年节假日安排") % {"year": year})
        dates = entry.dates.count()
        audit.record(user, "calendar.holiday_year.delete", target=("HolidayYear", entry.pk),
                     details={"year": year, "source": entry.source, "dates": dates}, request=request)
        entry.delete()


def holiday_csv(arrangement: YearArrangement) -> str:
    """A year's arrangement in the import file format."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["date", "kind", "name"])
    for row in arrangement.rows:
        writer.writerow([row.date.isoformat(), row.kind, row.name])
    return out.getvalue()
