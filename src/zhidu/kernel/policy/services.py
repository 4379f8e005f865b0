"""Writes of the pack engine: applying a pack, setting a parameter the pack leaves to be set."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
from pathlib import Path

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import ValidationError

from zhidu.kernel import audit
from zhidu.kernel.errors import Forbidden, Invalid, NotFound

from . import cache, loader, registry

PERMISSION = "packs.manage"


def _hash(parameters: dict) -> str:
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _carry_over_set_values(name: str, parameters: dict) -> list[str]:
    """Values an admin set for this pack's required parameters survive re-applying the pack (for
    example after the pack file gains a parameter), as long as the seed citation is unchanged."""
    from zhidu.kernel.models import PackVersion

    previous = PackVersion.objects.filter(name=name).order_by("-id").first()
    if previous is None:
        return []
    carried = []
    for key, entry in parameters.items():
        old = previous.parameters.get(key) or {}
        if not entry["required"] or old.get("value") is None or old.get("seed_source") != entry["source"]:
            continue
        param = registry.params().get(key)
        try:
            param.validate(old["value"])
        except ValidationError:
            continue  # the schema changed since; the admin sets it again
        entry.update({k: old[k] for k in ("value", "seed_source", "set_by", "set_at") if k in old})
        entry["source"] = old["source"]
        carried.append(key)
    return carried


def apply(name_or_path: str | Path, effective_from: dt.datetime | dt.date | None = None, user=None, *, if_changed: bool = False, request=None):
    """Applies a pack: a new PackVersion with the fully resolved parameters, effective from
    `effective_from` (else the pack's own `effective_from`, else now). With `if_changed`, nothing happens
    when the current version already came from exactly this pack content. Raises loader.PackError."""
    from zhidu.kernel.models import PackVersion

    pack = loader.load(name_or_path)
    if isinstance(effective_from, dt.date) and not isinstance(effective_from, dt.datetime):
        effective_from = dt.datetime.combine(effective_from, dt.time())
    if effective_from is not None and timezone.is_naive(effective_from):
        effective_from = timezone.make_aware(effective_from)
    effective_from = effective_from or pack.effective_from or timezone.now()

    with transaction.atomic():
        if if_changed:
            current = cache.current_version_fresh()
            if current is not None and current.name == pack.name and current.pack_hash == pack.content_hash:
                return current
        parameters = pack.stored_parameters()
        carried = _carry_over_set_values(pack.name, parameters)
        version = PackVersion.objects.create(
            name=pack.name,
            title=pack.title,
            implements=pack.implements,
            apps=pack.apps,
            extends=pack.extends,
            parameters=parameters,
            content_hash=_hash(parameters),
            pack_hash=pack.content_hash,
            effective_from=effective_from,
            applied_by=user if getattr(user, "is_authenticated", False) else None,
            note=_("应用制度包 %(file)s") % {"file": Path(pack.file).name},
        )
        audit.record(
            user,
            "pack.apply",
            target=version,
            details={
                "name": pack.name,
                "file": Path(pack.file).name,
                "effective_from": effective_from.isoformat(),
                "pack_hash": pack.content_hash,
                "parameters": len(parameters),
                "carried_over": carried,
            },
            request=request,
        )
        transaction.on_commit(cache.invalidate)
    cache.invalidate()
    return version


def parameter_set(key: str, value, user, *, as_text: bool = False, request=None):
    """Sets a parameter that the current pack marks `required` (its number is blank or garbled in the
    regulation text): a new PackVersion, effective now, citing who set it and the original seed line.
    `value` is the typed value, or what the admin typed when `as_text` (JSON except for text parameters)."""
    from zhidu.kernel.models import PackVersion

    if user is None or not user.has_perm_code(PERMISSION):
        raise Forbidden(_("没有管理制度包的权限"))
    param = registry.param(key)
    try:
        typed = param.validate_text(str(value)) if as_text else param.validate(value)
    except ValidationError as exc:
        problems = "; ".join(_("不是有效的 JSON") if error["type"] == "json_invalid" else error["msg"] for error in exc.errors()[:3])
        message = _("%(key)s 的值无效（应为 %(type)s）：%(problems)s") % {"key": key, "type": param.type_name, "problems": problems}
        raise Invalid(message, details={"key": key, "errors": problems}) from None

    with transaction.atomic():
        current = cache.current_version_fresh(lock=True)
        if current is None:
            raise NotFound(_("尚未应用制度包"))
        entry = current.parameters.get(key)
        if entry is None or not entry.get("required"):
            raise Invalid(_("只能在此设置制度包标为“待设置”的参数；其他参数请修改制度包文件后重新应用"), details={"key": key})
        now = timezone.now()
        seed = entry.get("seed_source") or entry["source"]
        who = user.get_username()
        parameters = copy.deepcopy(current.parameters)
        parameters[key] = {
            **entry,
            "value": param.dump(typed),
            "source": f"set by {who} on {timezone.localdate(now).isoformat()}; seed: {seed}",
            "seed_source": seed,
            "set_by": who,
            "set_at": now.isoformat(),
        }
        version = PackVersion.objects.create(
            name=current.name,
            title=current.title,
            implements=current.implements,
            apps=current.apps,
            extends=current.extends,
            parameters=parameters,
            content_hash=_hash(parameters),
            pack_hash=current.pack_hash,
            based_on=current,
            effective_from=now,
            applied_by=user,
            note=_("设置参数 %(key)s") % {"key": key},
        )
        audit.record(
            user,
            "pack.parameter_set",
            target=version,
            details={"key": key, "value": parameters[key]["value"], "previous": entry.get("value"), "based_on": current.pk, "seed": seed},
            request=request,
        )
        transaction.on_commit(cache.invalidate)
    cache.invalidate()
    return version
