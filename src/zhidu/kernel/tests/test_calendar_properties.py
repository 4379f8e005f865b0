"""Properties of working-day arithmetic over the whole built-in range, checked against chinesecalendar."""

import datetime as dt
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from zhidu.kernel import calendar
from zhidu.kernel.models import HolidayYear

SH = ZoneInfo("Asia/Shanghai")
HOURS = [["09:00", "12:00"], ["13:00", "18:00"]]

pytestmark = pytest.mark.django_db

# Starts far enough from both ends of the built-in data that ±60 working days stay inside it.
starts = st.builds(
    lambda day, minute: dt.datetime.combine(day, dt.time(minute // 60, minute % 60), SH),
    st.dates(dt.date(calendar.BUILTIN_FIRST_YEAR, 6, 1), dt.date(calendar.BUILTIN_LAST_YEAR - 1, 12, 31)),
    st.integers(0, 24 * 60 - 1),
)
amounts = st.integers(1, 60)
db_settings = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(autouse=True)
def builtin_data_only(db):
    assert not HolidayYear.objects.exists()


@db_settings
@given(starts, amounts)
def test_working_days_land_on_a_working_day_at_the_same_time(start, amount):
    for signed in (amount, -amount):
        result = calendar.add(start, signed, "working_days")
        assert chinese_calendar.is_workday(result.date())
        assert result.time() == start.time() and result.utcoffset() == dt.timedelta(hours=8)


@db_settings
@given(starts, amounts)
def test_working_days_match_chinesecalendar(start, amount):
    day = start.date()
    # The start date is never counted; find_workday counts from the start when it is a working day
    # and from the next working day otherwise.
    forward = chinese_calendar.find_workday(amount if chinese_calendar.is_workday(day) else amount - 1, day)
    assert calendar.add(start, amount, "working_days").date() == forward
    assert calendar.add(start, -amount, "working_days").date() == chinese_calendar.find_workday(-amount, day)


@db_settings
@given(starts, amounts)
def test_working_days_are_monotonic_in_the_amount(start, amount):
    assert calendar.add(start, amount, "working_days") < calendar.add(start, amount + 1, "working_days")
    assert calendar.add(start, -amount - 1, "working_days") < calendar.add(start, -amount, "working_days") < start


@db_settings
@given(starts, amounts)
def test_adding_then_subtracting_working_days_round_trips(start, amount):
    if not chinese_calendar.is_workday(start.date()):
        # From a non-working day the way back lands on the last working day before it.
        start = calendar.add(start, -1, "working_days")
    there = calendar.add(start, amount, "working_days")
    assert calendar.add(there, -amount, "working_days") == start
    back = calendar.add(start, -amount, "working_days")
    assert calendar.add(back, amount, "working_days") == start


@db_settings
@given(starts, amounts)
def test_trading_days_are_working_weekdays(start, amount):
    result = calendar.add(start, amount, "trading_days")
    assert result.weekday() < 5 and chinese_calendar.is_workday(result.date())
    assert calendar.add(start, amount, "trading_days") >= calendar.add(start, amount, "working_days")


@db_settings
@given(starts, st.integers(1, 40))
def test_working_hours_end_inside_business_hours_and_grow_with_the_amount(start, amount):
    result = calendar.add(start, amount, "working_hours", business_hours=HOURS)
    assert chinese_calendar.is_workday(result.date())
    assert any(dt.time(a) < result.time() <= dt.time(b) for a, b in ((9, 12), (13, 18)))
    assert result < calendar.add(start, amount + 1, "working_hours", business_hours=HOURS)
    back = calendar.add(start, -amount, "working_hours", business_hours=HOURS)
    assert chinese_calendar.is_workday(back.date())
    assert any(dt.time(a) <= back.time() < dt.time(b) for a, b in ((9, 12), (13, 18)))


@db_settings
@given(
    st.dates(dt.date(calendar.BUILTIN_FIRST_YEAR, 1, 1), dt.date(calendar.BUILTIN_LAST_YEAR, 12, 31)),
    st.integers(9 * 60, 18 * 60 - 1).filter(lambda m: not 12 * 60 <= m < 13 * 60),
    st.integers(1, 40),
)
def test_working_hours_round_trip_from_inside_business_hours(day, minute, amount):
    start = dt.datetime.combine(day, dt.time(minute // 60, minute % 60), SH)
    if not chinese_calendar.is_workday(day) or day.year == calendar.BUILTIN_LAST_YEAR and day.month == 12:
        return
    if day.year == calendar.BUILTIN_FIRST_YEAR and day.month == 1:
        return
    there = calendar.add(start, amount, "working_hours", business_hours=HOURS)
    assert calendar.add(there, -amount, "working_hours", business_hours=HOURS) == start


ENTERED_YEAR = calendar.BUILTIN_LAST_YEAR + 1
entered_days = st.dictionaries(
    st.dates(dt.date(ENTERED_YEAR, 1, 1), dt.date(ENTERED_YEAR, 12, 31)), st.booleans(), min_size=1, max_size=40
)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(entered_days, st.dates(dt.date(ENTERED_YEAR, 1, 1), dt.date(ENTERED_YEAR, 9, 30)), st.integers(1, 30))
def test_an_entered_year_decides_every_day_of_that_year(django_user_model, days, start_day, amount):
    # weekend make-up days only; a holiday list needs at least one holiday
    days = {day: working and day.weekday() >= 5 for day, working in days.items()}
    days.setdefault(dt.date(ENTERED_YEAR, 1, 1), False)
    if all(days.values()):
        days[min(days)] = False
    rows = [{"date": day.isoformat(), "kind": "workday" if working else "holiday", "name": ""} for day, working in days.items()]
    calendar.holiday_year_import(rows, ENTERED_YEAR, None)

    def expected(day):
        return days.get(day, day.weekday() < 5)

    days_of_year = calendar._Days()  # one load of the entered year for the whole sweep
    for offset in range(366):
        day = dt.date(ENTERED_YEAR, 1, 1) + dt.timedelta(days=offset)
        if day.year == ENTERED_YEAR:
            assert days_of_year.is_working_day(day) == expected(day)
    assert calendar.is_working_day(min(days)) == expected(min(days))
    start = dt.datetime.combine(start_day, dt.time(8, 30), SH)
    result = calendar.add(start, amount, "working_days")
    later = [start_day + dt.timedelta(days=i) for i in range(1, 120)]
    assert result.date() == [day for day in later if expected(day)][amount - 1]
