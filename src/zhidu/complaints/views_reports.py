"""The complaints dashboard (ECharts), the weekly / monthly report and monthly analysis, and the XLSX
export of the filtered case list. Numbers come from reports.py, scoped to the viewer's data."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect, render

from zhidu.kernel.errors import ApiError
from zhidu.kernel.exporting import file_download
from zhidu.org import permissions as perms

from . import exporting, reports
from .views import _require, list_filters


@login_required
def dashboard(request):
    user = request.user
    _require(user, perms.COMPLAINTS_VIEW)
    kind = "week" if request.GET.get("period") == "week" else "month"
    period = reports.period_from(kind, request.GET.get("at"))
    data = reports.dashboard(user, period)
    context = {
        **data,
        "kind": kind,
        "previous_at": period.previous().start.isoformat(),
        "next_at": period.next().start.isoformat(),
        "can_report": user.has_perm_code(perms.COMPLAINTS_MANAGE),
    }
    return render(request, "complaints/dashboard.html", context)


@login_required
def report(request):
    """周报 / 月报 (S03) and 月度投诉分析报告 (S23): one page per period, printable."""
    user = request.user
    _require(user, perms.COMPLAINTS_MANAGE)
    kind = "week" if request.GET.get("period") == "week" else "month"
    period = reports.period_from(kind, request.GET.get("at"))
    data = reports.report(user, period)
    context = {
        **data,
        "kind": kind,
        "previous_at": period.previous().start.isoformat(),
        "next_at": period.next().start.isoformat(),
    }
    return render(request, "complaints/report.html", context)


@login_required
def export(request):
    """The case list as XLSX with the list's filters (query string); phones masked for the viewer; audited."""
    user = request.user
    q, filters = list_filters(request.GET)
    try:
        path, filename, _rows = exporting.export_complaints(user, q=q, filters=filters, request=request)
    except ApiError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc.message)) from exc
        messages.error(request, str(exc.message))
        return redirect("complaints:list")
    return file_download(path, filename, delete=True)



@login_required
def report_export(request):
    """The report page's period as XLSX (audited)."""
    kind = "week" if request.GET.get("period") == "week" else "month"
    period = reports.period_from(kind, request.GET.get("at"))
    try:
        path, filename, _rows = exporting.export_report(request.user, period, request=request)
    except ApiError as exc:
        if exc.status == 403:
            raise PermissionDenied(str(exc.message)) from exc
        messages.error(request, str(exc.message))
        return redirect("complaints:report")
    return file_download(path, filename, delete=True)
