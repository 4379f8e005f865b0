"""`zhidu calendar`: working-day arithmetic and the holiday years behind it.

    zhidu calendar add 2026-09-30T10:00 3 working_days      -> 2026-10-10T10:00:00+08:00
    zhidu calendar holidays list                             -> the covered years
    zhidu calendar holidays list 2026                        -> 2026 in the import file format
    zhidu calendar holidays import holidays-2027.csv [--year 2027] [--source "国办发明电〔2026〕X号"]
"""

import datetime as dt
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from zhidu.kernel import calendar
from zhidu.kernel.errors import ApiError


class Command(BaseCommand):
    help = "Working-day arithmetic on the Chinese statutory calendar, and the holiday years it uses."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)

        add = sub.add_parser("add", help="Print START moved by AMOUNT UNIT as one ISO 8601 date-time.")
        add.add_argument("start", help="ISO 8601 date-time; without an offset it is taken in the server time zone (Asia/Shanghai).")
        add.add_argument("amount", type=int, help="Whole number; negative moves back.")
        add.add_argument("unit", choices=calendar.UNITS)

        holidays = sub.add_parser("holidays", help="List or import holiday years.")
        holidays_sub = holidays.add_subparsers(dest="holidays_action", required=True)
        listing = holidays_sub.add_parser("list", help="Without YEAR: the covered years. With YEAR: its holidays and make-up working days as CSV.")
        listing.add_argument("year", nargs="?", type=int)
        load = holidays_sub.add_parser(
            "import",
            help=(
                "Enter a year's arrangement from a CSV file; it fully replaces the built-in data for that year. "
                "Format: UTF-8, one date a line, columns date,kind,name; date is YYYY-MM-DD; kind is holiday "
                "(a day off) or workday (a weekend make-up working day, 调休); name may be empty; an optional first "
                "line date,kind,name is a header. Dates not listed follow Monday-Friday. "
                "Example line: 2027-10-01,holiday,国庆节"
            ),
        )
        load.add_argument("file", help="CSV file (see above); '-' is not accepted.")
        load.add_argument("--year", type=int, help="The year the file is for (default: the year of its dates).")
        load.add_argument("--source", default="", help="Where the arrangement comes from, e.g. the State Council notice number.")
        load.add_argument("--user", help="Username recorded as the one who entered the year.")

    def handle(self, *args, **options):
        try:
            if options["action"] == "add":
                self._add(options)
            elif options["holidays_action"] == "list":
                self._list(options["year"])
            else:
                self._import(options)
        except ApiError as exc:
            raise CommandError(self._describe(exc)) from exc
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    @staticmethod
    def _describe(exc: ApiError) -> str:
        lines = [str(exc.message)]
        for row in exc.details.get("rows", []) if isinstance(exc.details, dict) else []:
            where = f"line {row['row']}" if row["row"] is not None else "file"
            lines.extend(f"  {where}: {problem}" for problem in row["errors"])
        return "\n".join(lines)

    def _add(self, options):
        try:
            start = dt.datetime.fromisoformat(options["start"])
        except ValueError as exc:
            raise CommandError(f"START must be an ISO 8601 date-time such as 2026-09-30T10:00, got {options['start']!r}") from exc
        if timezone.is_naive(start):
            start = timezone.make_aware(start)
        result = calendar.add(start, options["amount"], options["unit"])
        self.stdout.write(result.isoformat())

    def _list(self, year):
        if year is not None:
            self.stdout.write(calendar.holiday_csv(calendar.year_arrangement(year)), ending="")
            return
        self.stdout.write(f"built-in (chinesecalendar): {calendar.BUILTIN_FIRST_YEAR}-{calendar.BUILTIN_LAST_YEAR}")
        for entry in calendar.admin_years():
            who = entry.entered_by.username if entry.entered_by else "-"
            self.stdout.write(f"{entry.year}\tentered {timezone.localtime(entry.entered_at):%Y-%m-%d %H:%M} by {who}\t{entry.source}")

    def _import(self, options):
        path = Path(options["file"])
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        rows = calendar.read_holiday_csv(data)
        year = options["year"]
        if year is None:
            years = {row["date"][:4] for row in rows if len(row["date"]) >= 4 and row["date"][:4].isdigit()}
            if len(years) != 1:
                raise CommandError(f"{path}: cannot tell the year from the dates ({', '.join(sorted(years)) or 'none'}); pass --year")
            year = int(years.pop())
        user = None
        if options["user"]:
            from django.contrib.auth import get_user_model

            user = get_user_model().objects.filter(username=options["user"]).first()
            if user is None:
                raise CommandError(f"no user {options['user']!r}")
        entry = calendar.holiday_year_import(rows, year, user, source=options["source"] or path.name)
        holidays = entry.dates.filter(is_working_day=False).count()
        workdays = entry.dates.filter(is_working_day=True).count()
        self.stdout.write(f"{year}: {holidays} holidays, {workdays} make-up working days imported")
