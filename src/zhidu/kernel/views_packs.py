"""The pack page: the pack in force, every parameter with its value and citation, the parameters the
pack leaves to be set (with a form for those allowed to manage packs), and the history of versions."""

import json

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from zhidu.kernel import policy
from zhidu.kernel.errors import ApiError
from zhidu.kernel.models import PackVersion
from zhidu.kernel.policy import cache, registry
from zhidu.kernel.policy.services import PERMISSION

HISTORY_PAGE = 30


def _can_manage(user) -> bool:
    return user.has_perm_code(PERMISSION)


def _scalar(value) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return ", ".join(str(item) for item in value)
    return json.dumps(value, ensure_ascii=False)


def value_html(value):
    """A readable rendering of a parameter value: a table for a list of records, "09:00–12:00" for
    periods, the JSON text otherwise."""
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        columns = list(dict.fromkeys(column for item in value for column in item))
        head = format_html_join("", "<th>{}</th>", ((column,) for column in columns))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            ((format_html_join("", "<td>{}</td>", ((_scalar(item.get(column, "")),) for column in columns)),) for item in value),
        )
        return format_html('<table class="table table-sm table-bordered mb-0 pack-value"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>', head, body)
    if isinstance(value, list) and value and all(isinstance(item, list) and len(item) == 2 for item in value):
        return format_html("<code>{}</code>", ", ".join(f"{_scalar(a)}–{_scalar(b)}" for a, b in value))
    return format_html("<code>{}</code>", _scalar(value))


def _rows(version):
    declared = registry.params()
    parameters = version.parameters if version is not None else {}
    rows = []
    for key in [*declared, *sorted(set(parameters) - set(declared))]:
        param = declared.get(key)
        entry = parameters.get(key)
        row = {
            "key": key,
            "label": param.label if param else "",
            "help": param.help if param else "",
            "type": param.type_name if param else "",
            "declared": param is not None,
            "from_pack": entry is not None,
        }
        if entry is None:
            default = param.dump(param.load(param.default)) if param.has_default else None
            source = policy.DEFAULT_SOURCE if version is None else policy.NOT_IN_PACK_SOURCE.format(name=version.name)
            # A parameter without a default that this pack does not state: the module that reads it says
            # so when used; only a pack's own `required` entries can be set on this page.
            row.update(value=default, source=source, note="", required=False, unset=False, origin="", no_value=not param.has_default)
        else:
            unset = bool(entry.get("required")) and entry.get("value") is None
            row.update(
                value=entry.get("value"),
                source=entry.get("source", ""),
                note=entry.get("note", ""),
                required=bool(entry.get("required")),
                unset=unset,
                origin=entry.get("pack", ""),
                set_by=entry.get("set_by", ""),
                seed_source=entry.get("seed_source", ""),
            )
        row["value_html"] = value_html(row["value"]) if not (row["unset"] or row.get("no_value")) else ""
        row["is_text"] = bool(param and param.is_text)
        rows.append(row)
    return rows


def _page(request, version, *, is_current, form_errors=None, form_values=None, status=200):
    now = timezone.now()
    before = request.GET.get("before", "")
    history = PackVersion.objects.select_related("applied_by").order_by("-id")
    if before.isdigit():
        history = history.filter(id__lt=int(before))
    history = list(history[: HISTORY_PAGE + 1])
    more = len(history) > HISTORY_PAGE
    history = history[:HISTORY_PAGE]
    rows = _rows(version)
    for row in rows:
        row["error"] = (form_errors or {}).get(row["key"], "")
        row["typed"] = (form_values or {}).get(row["key"], "")
    current = version if is_current else cache.current_version_fresh()
    context = {
        "version": version,
        "is_current": is_current,
        "current": current,
        "rows": rows,
        "unset_rows": [row for row in rows if row["unset"]],
        "history": history,
        "history_next": history[-1].pk if more and history else None,
        "now": now,
        "can_manage": _can_manage(request.user) and is_current,
        "form_error": next(iter((form_errors or {}).values()), ""),
    }
    return render(request, "kernel/packs/index.html", context, status=status)


@login_required
def packs_index(request):
    return _page(request, cache.current_version_fresh(), is_current=True)


@login_required
def pack_version(request, version_id: int):
    version = get_object_or_404(PackVersion.objects.select_related("applied_by"), pk=version_id)
    current = cache.current_version_fresh()
    return _page(request, version, is_current=current is not None and current.pk == version.pk)


@login_required
@require_POST
def packs_set(request):
    if not _can_manage(request.user):
        raise PermissionDenied
    key = request.POST.get("key", "")
    text = request.POST.get("value", "").strip()
    if not text:
        error = _("请填写数值")
    else:
        try:
            policy.parameter_set(key, text, request.user, as_text=True, request=request)
        except policy.UnknownParameter:
            error = _("未知参数：%(key)s") % {"key": key}
        except ApiError as exc:
            error = str(exc.message)
        else:
            messages.success(request, _("已设置参数 %(key)s，生成新的制度包版本") % {"key": key})
            return redirect("kernel:packs")
    return _page(
        request, cache.current_version_fresh(), is_current=True, form_errors={key: error}, form_values={key: text}, status=422
    )
