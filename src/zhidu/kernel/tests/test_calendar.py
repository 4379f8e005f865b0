"""calendar.add for every unit, day status, time zones and the uncovered-year error."""

import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from zhidu.kernel import calendar

SH = ZoneInfo("Asia/Shanghai")
HOURS = [["09:00", "12:00"], ["13:00", "18:00"]]
SESSIONS = [["09:30", "11:30"], ["13:00", "15:00"]]

pytestmark = pytest.mark.django_db


def at(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=SH)


# --- 国庆 2026: Oct 1–7 off; Sep 20 (Sun) and Oct 10 (Sat) are make-up working days ---------------


def test_chinesecalendar_agrees_on_national_day_2026():
    assert not any(chinese_calendar.is_workday(dt.date(2026, 10, day)) for day in range(1, 8))
    assert chinese_calendar.is_workday(dt.date(2026, 9, 20))
    assert chinese_calendar.is_workday(dt.date(2026, 10, 10))
    assert chinese_calendar.find_workday(3, dt.date(2026, 9, 30)) == dt.date(2026, 10, 10)


def test_three_working_days_across_national_day():
    assert calendar.add(at(2026, 9, 30, 10, 0), 3, "working_days") == at(2026, 10, 10, 10, 0)


def test_working_days_back_across_national_day():
    assert calendar.add(at(2026, 10, 10, 10, 0), -3, "working_days") == at(2026, 9, 30, 10, 0)
    assert calendar.add(at(2026, 10, 8, 9, 15), -1, "working_days") == at(2026, 9, 30, 9, 15)


def test_working_days_from_a_non_working_day_count_from_the_next_working_day():
    # Saturday Sep 19 is off, Sunday Sep 20 is a make-up working day: the first day counted.
    assert calendar.add(at(2026, 9, 19, 16, 0), 1, "working_days") == at(2026, 9, 20, 16, 0)
    # Oct 3 is inside the holiday: Oct 8 is the first working day after it.
    assert calendar.add(at(2026, 10, 3, 8, 0), 1, "working_days") == at(2026, 10, 8, 8, 0)
    assert calendar.add(at(2026, 10, 3, 8, 0), 3, "working_days") == at(2026, 10, 10, 8, 0)


def test_working_days_over_an_ordinary_weekend():
    # Fri 2026-11-20 + 1 = Mon 11-23
    assert calendar.add(at(2026, 11, 20, 17, 30), 1, "working_days") == at(2026, 11, 23, 17, 30)
    assert calendar.add(at(2026, 11, 23, 17, 30), -1, "working_days") == at(2026, 11, 20, 17, 30)


def test_is_working_day():
    assert calendar.is_working_day(dt.date(2026, 10, 10))
    assert not calendar.is_working_day(dt.date(2026, 10, 1))
    assert not calendar.is_working_day(dt.date(2026, 9, 19))
    assert calendar.is_working_day(dt.date(2026, 9, 21))
    # a datetime counts by its date in Asia/Shanghai: 2026-09-30 20:00 UTC is Oct 1 local
    assert not calendar.is_working_day(dt.datetime(2026, 9, 30, 20, 0, tzinfo=dt.UTC))


# --- trading days: working days without the weekend make-up days ------------------------------


def test_trading_days_skip_weekend_make_up_days():
    assert calendar.is_working_day(dt.date(2026, 10, 10)) and not calendar.is_trading_day(dt.date(2026, 10, 10))
    # Oct 8, 9, then Mon Oct 12 (Sat Oct 10 is a working day but the exchanges are closed)
    assert calendar.add(at(2026, 9, 30, 15, 0), 3, "trading_days") == at(2026, 10, 12, 15, 0)
    # Fri Sep 18 + 1: Sun Sep 20 is a make-up working day, not a trading day
    assert calendar.add(at(2026, 9, 18, 9, 30), 1, "trading_days") == at(2026, 9, 21, 9, 30)
    assert calendar.add(at(2026, 10, 12, 15, 0), -3, "trading_days") == at(2026, 9, 30, 15, 0)


def test_trading_hours_and_sessions():
    # Fri Oct 9 14:00: one hour left that day, then Mon Oct 12 09:30-10:30
    assert calendar.add(at(2026, 10, 9, 14, 0), 2, "trading_hours", trading_sessions=SESSIONS) == at(2026, 10, 12, 10, 30)
    # across the midday break
    assert calendar.add(at(2026, 10, 12, 11, 0), 1, "trading_hours", trading_sessions=SESSIONS) == at(2026, 10, 12, 13, 30)
    assert calendar.is_trading_time(at(2026, 10, 12, 10, 0), trading_sessions=SESSIONS)
    assert not calendar.is_trading_time(at(2026, 10, 12, 12, 0), trading_sessions=SESSIONS)
    assert not calendar.is_trading_time(at(2026, 10, 10, 10, 0), trading_sessions=SESSIONS)  # make-up Saturday


# --- working hours ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "start, hours, expected",
    [
        (at(2026, 9, 30, 11, 0), 2, at(2026, 9, 30, 14, 0)),  # skips the lunch break
        (at(2026, 9, 30, 9, 0), 3, at(2026, 9, 30, 12, 0)),  # ends exactly at a closing time
        (at(2026, 9, 30, 12, 30), 1, at(2026, 9, 30, 14, 0)),  # starts in the break
        (at(2026, 9, 30, 7, 0), 1, at(2026, 9, 30, 10, 0)),  # starts before opening
        (at(2026, 9, 30, 17, 0), 2, at(2026, 10, 8, 10, 0)),  # over 国庆
        (at(2026, 9, 30, 17, 0), 1, at(2026, 9, 30, 18, 0)),
        (at(2026, 10, 9, 17, 0), 2, at(2026, 10, 10, 10, 0)),  # make-up Saturday works
        (at(2026, 9, 30, 9, 0), 16, at(2026, 10, 8, 18, 0)),  # two full days of 8 hours
        (at(2026, 10, 8, 10, 0), -2, at(2026, 9, 30, 17, 0)),
        (at(2026, 10, 8, 9, 0), -1, at(2026, 9, 30, 17, 0)),
        (at(2026, 9, 30, 14, 0), -2, at(2026, 9, 30, 11, 0)),
        (at(2026, 9, 30, 20, 0), -1, at(2026, 9, 30, 17, 0)),  # starts after closing
    ],
)
def test_working_hours(start, hours, expected):
    assert calendar.add(start, hours, "working_hours", business_hours=HOURS) == expected


def test_working_hours_with_other_business_hours():
    assert calendar.add(at(2026, 9, 30, 17, 0), 1, "working_hours", business_hours=[["08:30", "17:30"]]) == at(2026, 10, 8, 9, 0)


@pytest.mark.parametrize(
    "pairs",
    [[], [["12:00", "09:00"]], [["09:00", "12:00"], ["11:00", "13:00"]], [["9am", "5pm"]], [["09:00"]]],
)
def test_bad_business_hours_are_rejected(pairs):
    with pytest.raises(ValueError, match="calendar.business_hours"):
        calendar.add(at(2026, 9, 30, 9, 0), 1, "working_hours", business_hours=pairs)


def test_working_hours_default_to_the_policy_parameter():
    # no pack applied: the kernel schema default [["09:00","12:00"],["13:00","18:00"]]
    assert calendar.add(at(2026, 9, 30, 11, 0), 2, "working_hours") == at(2026, 9, 30, 14, 0)


# --- elapsed time, calendar days, months ------------------------------------------------------


def test_minutes_and_hours_are_elapsed_time():
    assert calendar.add(at(2026, 9, 30, 23, 30), 45, "minutes") == at(2026, 10, 1, 0, 15)
    assert calendar.add(at(2026, 10, 1, 0, 15), -45, "minutes") == at(2026, 9, 30, 23, 30)
    assert calendar.add(at(2026, 9, 30, 10, 0), 48, "hours") == at(2026, 10, 2, 10, 0)
    assert calendar.add(at(2026, 9, 30, 10, 0), -3, "hours") == at(2026, 9, 30, 7, 0)


def test_calendar_days_ignore_holidays():
    assert calendar.add(at(2026, 9, 30, 10, 0), 3, "calendar_days") == at(2026, 10, 3, 10, 0)
    assert calendar.add(at(2026, 3, 1, 10, 0), -1, "calendar_days") == at(2026, 2, 28, 10, 0)


@pytest.mark.parametrize(
    "start, months, expected",
    [
        (at(2024, 1, 31, 9, 0), 1, at(2024, 2, 29, 9, 0)),
        (at(2025, 1, 31, 9, 0), 1, at(2025, 2, 28, 9, 0)),
        (at(2026, 12, 15, 9, 0), 1, at(2027, 1, 15, 9, 0)),
        (at(2026, 3, 31, 9, 0), -1, at(2026, 2, 28, 9, 0)),
        (at(2026, 1, 10, 9, 0), -13, at(2024, 12, 10, 9, 0)),
        (at(2026, 8, 31, 9, 0), 6, at(2027, 2, 28, 9, 0)),
    ],
)
def test_months(start, months, expected):
    assert calendar.add(start, months, "months") == expected


# --- time zones and input checks ---------------------------------------------------------------


def test_day_boundaries_are_those_of_the_current_time_zone():
    # 2026-09-30 20:00 UTC is Oct 1 04:00 in Shanghai: the start date is Oct 1, so Oct 8, 9, 10.
    result = calendar.add(dt.datetime(2026, 9, 30, 20, 0, tzinfo=dt.UTC), 3, "working_days")
    assert result == at(2026, 10, 10, 4, 0)
    assert result.utcoffset() == dt.timedelta(hours=8)


def test_results_are_aware_in_the_current_time_zone():
    for unit in ("minutes", "hours", "calendar_days", "working_days", "months"):
        result = calendar.add(dt.datetime(2026, 9, 30, 2, 0, tzinfo=dt.UTC), 1, unit)
        assert result.utcoffset() == dt.timedelta(hours=8), unit


def test_zero_returns_the_start():
    start = at(2026, 10, 3, 10, 0)
    for unit in calendar.UNITS:
        assert calendar.add(start, 0, unit) == start


def test_naive_start_is_rejected():
    with pytest.raises(ValueError, match="aware"):
        calendar.add(dt.datetime(2026, 9, 30, 10, 0), 1, "working_days")


def test_unknown_unit_and_fractional_amount_are_rejected():
    with pytest.raises(ValueError, match="unknown calendar unit"):
        calendar.add(at(2026, 9, 30, 10, 0), 1, "weeks")
    with pytest.raises(ValueError, match="whole number"):
        calendar.add(at(2026, 9, 30, 10, 0), 1.5, "working_days")


# --- uncovered years ---------------------------------------------------------------------------


def test_uncovered_year_is_an_explicit_error():
    last = calendar.BUILTIN_LAST_YEAR
    with pytest.raises(calendar.CalendarDataMissing) as caught:
        calendar.add(at(last, 12, 28, 10, 0), 5, "working_days")
    error = caught.value
    assert error.year == last + 1
    assert error.details == {"year": last + 1}
    message = str(error)
    assert f"缺少 {last + 1} 年的节假日安排" in message
    assert "/kernel/calendar/" in message
    assert "zhidu calendar holidays import" in message


def test_no_weekend_guess_before_the_builtin_range():
    first = calendar.BUILTIN_FIRST_YEAR
    with pytest.raises(calendar.CalendarDataMissing, match=str(first - 1)):
        calendar.is_working_day(dt.date(first - 1, 6, 2))


def test_calendar_days_and_months_need_no_holiday_data():
    last = calendar.BUILTIN_LAST_YEAR
    assert calendar.add(at(last, 12, 28, 10, 0), 10, "calendar_days") == at(last + 1, 1, 7, 10, 0)
    assert calendar.add(at(last, 12, 28, 10, 0), 2, "months") == at(last + 1, 2, 28, 10, 0)


def test_uncovered_year_message_in_english(tmp_path, settings):
    import shutil
    import subprocess
    from pathlib import Path

    from django.utils import translation

    if shutil.which("msgfmt") is None:
        pytest.skip("msgfmt (gettext) is not installed")
    po = Path(calendar.__file__).parent / "locale" / "en" / "LC_MESSAGES" / "django.po"
    target = tmp_path / "en" / "LC_MESSAGES"
    target.mkdir(parents=True)
    subprocess.run(["msgfmt", "-o", str(target / "django.mo"), str(po)], check=True)
    settings.LOCALE_PATHS = [tmp_path]
    with translation.override("en"):
        error = calendar.CalendarDataMissing(2031)
    assert str(error).startswith("No holiday arrangement for 2031")
    assert "zhidu calendar holidays import" in str(error) and "/kernel/calendar/" in str(error)


def test_working_and_trading_hours_follow_the_applied_pack(pack, tmp_path):
    from zhidu.kernel import policy

    path = tmp_path / "calendar-test.yaml"
    path.write_text(
        "name: calendar-test\n"
        "title: 日历测试\n"
        "extends: base\n"
        "implements: []\n"
        "apps: [kernel]\n"
        "parameters:\n"
        "  calendar.business_hours:\n"
        "    value: [[\"08:30\", \"17:30\"]]\n"
        "    source: 测试制度 第 3 条\n"
        "  calendar.trading_sessions:\n"
        "    value: [[\"09:30\", \"11:30\"], [\"13:00\", \"15:00\"]]\n"
        "    source: 测试制度 第 4 条\n",
        encoding="utf-8",
    )
    pack(str(path))
    assert policy.get("calendar.business_hours").source == "测试制度 第 3 条"
    assert calendar.add(at(2026, 9, 30, 17, 0), 1, "working_hours") == at(2026, 10, 8, 9, 0)
    assert calendar.add(at(2026, 10, 12, 11, 0), 1, "trading_hours") == at(2026, 10, 12, 13, 30)
