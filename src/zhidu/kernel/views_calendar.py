"""The holiday calendar page: covered years, one year's holidays and make-up days, entering a year."""

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_POST

from zhidu.kernel import calendar
from zhidu.kernel.errors import Invalid, NotFound
from zhidu.org import permissions as perms

MAX_CSV_BYTES = 256 * 1024


class HolidayYearForm(forms.Form):
    year = forms.IntegerField(label=_("年份"), min_value=1900, max_value=2200)
    source = forms.CharField(label=_("依据（如国务院办公厅通知文号）"), max_length=300, required=False)
    file = forms.FileField(label=_("CSV 文件"), help_text=calendar.CSV_HELP)

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > MAX_CSV_BYTES:
            raise forms.ValidationError(_("文件过大（上限 256 KB）"))
        return upload


def _can_manage(user) -> bool:
    return user.has_perm_code(perms.CALENDAR_MANAGE)


def _index(request, form=None, row_errors=None, status=200):
    context = {
        "builtin_first": calendar.BUILTIN_FIRST_YEAR,
        "builtin_last": calendar.BUILTIN_LAST_YEAR,
        "builtin_years": range(calendar.BUILTIN_LAST_YEAR, calendar.BUILTIN_FIRST_YEAR - 1, -1),
        "admin_years": calendar.admin_years(),
        "can_manage": _can_manage(request.user),
        "form": form if form is not None else HolidayYearForm(),
        "row_errors": row_errors or [],
        "csv_help": calendar.CSV_HELP,
    }
    return render(request, "kernel/calendar/index.html", context, status=status)


@login_required
def calendar_index(request):
    return _index(request)


@login_required
def calendar_year(request, year: int):
    try:
        arrangement = calendar.year_arrangement(year)
    except calendar.CalendarDataMissing as exc:
        return render(request, "kernel/calendar/year.html", {"year": year, "missing": exc.message, "can_manage": _can_manage(request.user)}, status=404)
    context = {
        "year": year,
        "arrangement": arrangement,
        "holidays": [row for row in arrangement.rows if not row.is_working_day],
        "workdays": [row for row in arrangement.rows if row.is_working_day],
        "can_manage": _can_manage(request.user),
    }
    return render(request, "kernel/calendar/year.html", context)


@login_required
@require_POST
def calendar_import(request):
    if not _can_manage(request.user):
        raise PermissionDenied
    form = HolidayYearForm(request.POST, request.FILES)
    if not form.is_valid():
        return _index(request, form=form, status=400)
    year = form.cleaned_data["year"]
    source = form.cleaned_data["source"] or form.cleaned_data["file"].name
    try:
        rows = calendar.read_holiday_csv(form.cleaned_data["file"].read())
        calendar.holiday_year_import(rows, year, request.user, source=source, request=request)
    except Invalid as exc:
        form.add_error(None, exc.message)
        return _index(request, form=form, row_errors=exc.details.get("rows", []), status=400)
    messages.success(request, _("已导入 %(year)s 年节假日安排") % {"year": year})
    return redirect("kernel:calendar_year", year=year)


@login_required
@require_POST
def calendar_delete(request, year: int):
    if not _can_manage(request.user):
        raise PermissionDenied
    try:
        calendar.holiday_year_delete(year, request.user, request=request)
    except NotFound as exc:
        messages.error(request, exc.message)
        return redirect("kernel:calendar")
    messages.success(request, _("已删除管理员录入的 %(year)s 年节假日安排") % {"year": year})
    return redirect("kernel:calendar")


@login_required
def calendar_year_csv(request, year: int):
    try:
        arrangement = calendar.year_arrangement(year)
    except calendar.CalendarDataMissing as exc:
        return HttpResponse(exc.message, status=404, content_type="text/plain; charset=utf-8")
    response = HttpResponse(calendar.holiday_csv(arrangement), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="holidays-{year}.csv"'
    return response
