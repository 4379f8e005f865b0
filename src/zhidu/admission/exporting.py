"""The blacklist as an XLSX file (S01 L311: 以报表的形式备案 / 上报营销事业部备案), streamed and audited."""

from django.utils import timezone
from django.utils.translation import gettext as _

from zhidu.kernel import audit
from zhidu.kernel.errors import Forbidden
from zhidu.kernel.exporting import file_download, temp_path, write_xlsx
from zhidu.org import permissions as perms

from . import selectors
from .models import BlacklistScope, BlacklistState


def header() -> list[str]:
    return [_("名单"), _("部门"), _("客户编码"), _("客户名称"), _("统一社会信用代码"), _("列入原因"), _("依据"), _("列入人"),
            _("列入日期"), _("有效期至"), _("状态"), _("结束说明")]


def rows(user, *, scope: str = "", state: str = ""):
    qs = selectors.blacklist_filtered(user, scope=scope, state=state).order_by("-pk").values_list(
        "scope", "department__name", "customer__code", "name", "credit_code", "reason", "citation",
        "listed_by__display_name", "listed_by__username", "listed_on", "valid_until", "state", "end_reason",
    )
    for (scope_, department, code, name, credit_code, reason, citation, display, username, listed_on, valid_until, state_, end_reason) in qs.iterator(chunk_size=2000):
        yield [
            str(BlacklistScope(scope_).label), department or "", code or "", name, credit_code, reason, citation, display or username,
            listed_on, valid_until or _("长期"), str(BlacklistState(state_).label), end_reason,
        ]


def blacklist_xlsx(user, *, scope: str = "", state: str = "", request=None):
    if not user.has_perm_code(perms.GRADING_EXPORT):
        raise Forbidden(_("您没有导出黑名单的权限"), details={"permission": perms.GRADING_EXPORT})
    path = temp_path()
    written = write_xlsx(path, header(), rows(user, scope=scope, state=state), title=_("客户黑名单"))
    audit.record(user, "blacklist.export", None, {"rows": written, "scope": scope, "state": state}, request=request)
    return file_download(path, f"blacklist-{timezone.localdate().isoformat()}.xlsx", delete=True)
