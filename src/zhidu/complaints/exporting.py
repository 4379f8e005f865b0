"""Export of the complaint list to XLSX: the cases the user can see, with the list's search and
filters, complainants' phones masked for the viewer, streamed in chunks, and always audited."""

from __future__ import annotations

import datetime as dt
import itertools
import os
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop

from zhidu.kernel import audit
from zhidu.kernel.access import mask
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.exporting import XlsxWriter, temp_path
from zhidu.org import permissions as perms

from . import reports, selectors
from .forms import option_label
from .models import Severity, Status, Validity

CHUNK_SIZE = 2000
HEADER = [
    gettext_noop("受理编号"), gettext_noop("登记时间"), gettext_noop("投诉人"), gettext_noop("电话"), gettext_noop("投诉方式"), gettext_noop("投诉类别"), gettext_noop("严重程度"), gettext_noop("投诉对象/事由"), gettext_noop("状态"), gettext_noop("是否成立"),
    gettext_noop("受理部门"), gettext_noop("受理负责人"), gettext_noop("首问负责人"), gettext_noop("首次响应时限"), gettext_noop("处理时限"), gettext_noop("是否超时"), gettext_noop("处理轮次"), gettext_noop("结案时间"),
]  # fmt: skip
FIELDS = (
    "id", "tracking_no", "created_at", "complainant_name", "complainant_phone", "channel", "category", "severity", "subject",
    "status", "validity", "department__name", "owner__display_name", "owner__username", "receiver__display_name",
    "receiver__username", "first_response_due", "resolution_due", "next_due_at", "round", "closed_at",
)  # fmt: skip


def _selector_filters(filters: dict) -> dict:
    out = {}
    for key, value in (filters or {}).items():
        if value in (None, ""):
            continue
        if key in ("department", "owner"):
            if str(value).isdigit():
                out[key] = int(value)
        else:
            out[key] = value
    return out


def export_complaints(user, *, q: str | None = None, filters: dict | None = None, path: str | os.PathLike | None = None, request=None) -> tuple[Path, str, int]:
    """Writes the visible cases matching `q` and `filters` (the list page's) to an XLSX file; returns
    (path, download name, rows written). Without `path` a temporary file is used (the caller streams
    and removes it). One audit entry per export."""
    if not user.has_perm_code(perms.COMPLAINTS_EXPORT):
        raise Forbidden(_("您没有导出投诉的权限"), details={"permission": perms.COMPLAINTS_EXPORT})
    filters = _selector_filters(filters or {})
    qs = selectors.complaints_filtered(user, q or None, filters).order_by("-id").values_list(*FIELDS)
    options = reports.current_options()
    channels = {o["key"]: option_label(o) for o in options.get("channels") or []}
    categories = {o["key"]: option_label(o) for o in options.get("categories") or []}
    severities = dict(reports.severity_choices())
    statuses = dict(Status.choices)
    validities = dict(Validity.choices)
    tz = timezone.get_current_timezone()
    now = timezone.now()

    def when(value):
        return value.astimezone(tz).strftime("%Y-%m-%d %H:%M") if value else ""

    target = Path(path) if path else temp_path(".xlsx")
    with XlsxWriter(target, title=_("投诉")) as writer:
        writer.append([_(h) for h in HEADER])
        rows = qs.iterator(chunk_size=CHUNK_SIZE)
        while chunk := list(itertools.islice(rows, CHUNK_SIZE)):
            for (
                _pk, tracking_no, created_at, name, phone, channel, category, severity, subject, status, validity, department,
                owner_name, owner_username, receiver_name, receiver_username, first_due, resolution_due, next_due, round_, closed_at,
            ) in chunk:  # fmt: skip
                is_open = status not in (Status.REJECTED, Status.CLOSED)
                writer.append(
                    [
                        tracking_no, when(created_at), name, mask("phone", phone, user), channels.get(channel, channel),
                        categories.get(category, category), str(severities.get(severity, Severity(severity).label if severity in Severity.values else severity)),
                        subject, str(statuses.get(status, status)), str(validities.get(validity, validity)), department or "",
                        owner_name or owner_username or "", receiver_name or receiver_username or "", when(first_due), when(resolution_due),
                        _("是") if is_open and next_due is not None and next_due <= now else "", round_, when(closed_at),
                    ]
                )  # fmt: skip
    count = writer.rows - 1
    with transaction.atomic():
        audit.record(
            user,
            "complaints.export",
            target=("complaints.complaint", "export"),
            details={"q": q or "", "filters": {k: v for k, v in filters.items()}, "rows": count, "format": "xlsx"},
            request=request,
        )
    filename = f"complaints-{timezone.localtime():%Y%m%d-%H%M%S}.xlsx"
    return target, filename, count


def export_report(user, period, *, request=None) -> tuple[Path, str, int]:
    """The weekly / monthly report of `period` as one XLSX sheet (headline numbers, the breakdowns, the
    on-time rate of each time limit, satisfaction, repeat complainants with masked phones); audited."""
    if not user.has_perm_code(perms.COMPLAINTS_MANAGE):
        raise Forbidden(_("您没有查看投诉报表的权限"), details={"permission": perms.COMPLAINTS_MANAGE})
    data = reports.report(user, period)
    totals = data["totals"]
    target = temp_path(".xlsx")
    with XlsxWriter(target, title=_("投诉报表")) as writer:
        writer.append([str(period.label), period.start.isoformat(), (period.end - dt.timedelta(days=1)).isoformat()])
        writer.append([])
        for label, key in (
            (_("本期登记"), "registered"), (_("本期结案"), "closed"), (_("重大投诉"), "major"), (_("不成立"), "invalid"),
            (_("恶意投诉"), "malicious"), (_("当前未结"), "open"), (_("当前超时"), "overdue"),
        ):  # fmt: skip
            writer.append([label, totals.get(key, 0)])
        for title, key in ((_("按投诉类别"), "category"), (_("按受理部门"), "department"), (_("按严重程度"), "severity"), (_("按投诉方式"), "channel")):
            writer.append([])
            writer.append([title, _("数量")])
            for label, value in data["breakdowns"][key]["rows"]:
                writer.append([label, value])
        writer.append([])
        writer.append([_("各项时限按时率"), _("到期数"), _("按时"), _("超时"), _("按时率")])
        for row in data["on_time"]:
            writer.append([row["label"], row["total"], row["on_time"], row["late"], f"{row['rate']}%" if row["rate"] is not None else ""])
        sat = data["satisfaction"]
        writer.append([])
        writer.append([_("回访满意度"), sat["total"], sat["satisfied"], sat["unsatisfied"], f"{sat['rate']}%" if sat["rate"] is not None else ""])
        writer.append([])
        writer.append([_("重复投诉人"), _("电话"), _("本期投诉次数")])
        for row in data["repeats"]:
            writer.append([row["name"], row["phone"], row["count"]])
    rows = writer.rows
    with transaction.atomic():
        audit.record(
            user,
            "complaints.report_export",
            target=("complaints.complaint", "report"),
            details={"period": period.kind, "start": period.start.isoformat(), "end": period.end.isoformat(), "format": "xlsx"},
            request=request,
        )
    return target, f"complaints-{period.kind}-{period.start:%Y%m%d}.xlsx", rows
