"""Export of the customer list to XLSX: the files the user can see, with the list's search and
filters, phones and 身份证号 masked for the viewer, streamed in chunks, and always audited.

The columns are the import columns, so an exported sheet (with unmasked values) imports again.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.access import SecretLevel, mask
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.exporting import XlsxWriter, temp_path
from zhidu.org import permissions as perms

from . import validation
from .models import CustomerStatus
from .selectors import FILTERS, customers_filtered, primary_contacts

CHUNK_SIZE = 2000
HEADER = [
    "客户编码", "名称", "客户类型", "统一社会信用代码", "身份证号", "法定代表人", "地址", "地区", "行业", "规模",
    "状态", "负责人", "部门", "联系人", "职务", "电话", "邮箱", "密级", "建档时间",
]  # fmt: skip
FIELDS = (
    "id", "code", "name", "customer_type", "credit_code", "id_number", "legal_representative", "address", "region",
    "industry", "scale", "status", "owner__username", "department__code", "secret_level", "created_at",
)  # fmt: skip


def filters_from(params) -> dict:
    """The list page's query parameters that the export honours: `q` and the list filters."""
    wanted = {"q": params.get("q", "")}
    for key in FILTERS:
        wanted[key] = params.get(key, "")
    return {k: v for k, v in wanted.items() if v not in (None, "")}


def export_customers(user, filters: dict | None = None, *, path: str | os.PathLike | None = None, request=None) -> tuple[Path, str, int]:
    """Writes the visible customers matching `filters` ({"q": …, "department": id, "owner": id, "status",
    "customer_type", "region"}) to an XLSX file; returns (path, download name, rows written). Without
    `path` a temporary file is used (the caller streams and removes it). One audit entry per export."""
    if not user.has_perm_code(perms.CUSTOMERS_EXPORT):
        raise Forbidden(_("您没有导出客户的权限"), details={"permission": perms.CUSTOMERS_EXPORT})
    filters = dict(filters or {})
    q = filters.pop("q", None)
    qs = customers_filtered(user, q, filters).order_by("-id").values_list(*FIELDS)
    target = Path(path) if path else temp_path(".xlsx")
    types = {key: cfg.get("label", key) for key, cfg in validation.customer_types().items()}
    statuses = dict(CustomerStatus.choices)
    levels = dict(SecretLevel.choices)
    tz = timezone.get_current_timezone()
    with XlsxWriter(target, title=_("客户")) as writer:
        writer.append(HEADER)
        rows = qs.iterator(chunk_size=CHUNK_SIZE)
        while chunk := list(itertools.islice(rows, CHUNK_SIZE)):
            contacts = _primary_contacts([r[0] for r in chunk])
            for (pk, code, name, ctype, credit, id_number, legal, address, region, industry, scale, status, owner, dept, level, created) in chunk:
                contact = contacts.get(pk, ("", "", "", ""))
                writer.append(
                    [
                        code or "", name, types.get(ctype, ctype), credit, mask("id_number", id_number, user), legal, address, region,
                        industry, scale, str(statuses.get(status, status)), owner, dept,
                        contact[0], contact[1], mask("phone", contact[2], user), contact[3],
                        str(levels.get(level, level)), created.astimezone(tz).strftime("%Y-%m-%d %H:%M"),
                    ]
                )  # fmt: skip
    count = writer.rows - 1
    with transaction.atomic():
        audit.record(
            user,
            "customers.export",
            target=("customers.customer", "export"),
            details={"q": q or "", "filters": filters, "rows": count, "format": "xlsx"},
            request=request,
        )
    filename = f"customers-{timezone.localtime():%Y%m%d-%H%M%S}.xlsx"
    return target, filename, count


def _primary_contacts(customer_ids: list[int]) -> dict[int, tuple[str, str, str, str]]:
    return primary_contacts(customer_ids)
