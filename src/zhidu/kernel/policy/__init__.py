"""Regulation packs: the parameters a company's written regulation sets, with their citations.

    from zhidu.kernel import policy
    policy.get("customers.review_cycle_months")   # Param(key, value, source, version_id, required)
    policy.value("customers.review_cycle_months") # 6
    policy.current_version()                      # the PackVersion in force now, or None

Values are the JSON form of the declared type, validated (a list of models comes back as a list of
dicts). With no pack applied, or a key the applied pack does not state, the schema default is returned
with a "zhidu 默认值" source. A key the pack leaves `required` and nobody has set raises ParameterMissing.
Apps declare their parameters in `zhidu/<app>/policy.py` (see schema.py); packs live in packs/*.yaml
(see loader.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import cache, registry
from .exceptions import ParameterMissing, UnknownParameter
from .loader import Issue, Pack, PackError, check, load

__all__ = [
    "DEFAULT_SOURCE",
    "Issue",
    "Pack",
    "PackError",
    "Param",
    "ParameterMissing",
    "UnknownParameter",
    "apply",
    "check",
    "clear_cache",
    "current_version",
    "get",
    "load",
    "parameter_set",
    "value",
]

DEFAULT_SOURCE = "zhidu 默认值 (no pack applied)"
NOT_IN_PACK_SOURCE = "zhidu 默认值 (not stated by pack {name})"


@dataclass(frozen=True)
class Param:
    """A parameter in force: its value, its citation, and the pack version it comes from (None when no
    pack is applied). Store `version_id` with a decision to keep the version it was made under."""

    key: str
    value: Any
    source: str
    version_id: int | None
    required: bool = False


def current_version():
    """The PackVersion in force now (the latest with effective_from <= now), or None."""
    return cache.current_version()


def get(key: str) -> Param:
    declared = registry.param(key)
    version = cache.current_version()
    entry = version.parameters.get(key) if version is not None else None
    if entry is None:
        if not declared.has_default:
            raise ParameterMissing(key)
        source = DEFAULT_SOURCE if version is None else NOT_IN_PACK_SOURCE.format(name=version.name)
        return Param(key, declared.dump(declared.load(declared.default)), source, version.pk if version else None, False)
    if entry.get("required") and entry.get("value") is None:
        raise ParameterMissing(key, source=entry.get("source", ""), note=entry.get("note", ""))
    stored = entry.get("value")
    return Param(key, declared.dump(declared.load(stored)), entry.get("source", ""), version.pk, bool(entry.get("required")))


def value(key: str) -> Any:
    return get(key).value


def clear_cache():
    """Forgets the cached current version (tests call it between cases)."""
    cache.invalidate()


def apply(name_or_path, effective_from=None, user=None, **kwargs):
    from .services import apply as _apply

    return _apply(name_or_path, effective_from=effective_from, user=user, **kwargs)


def parameter_set(key: str, value, user, **kwargs):
    from .services import parameter_set as _parameter_set

    return _parameter_set(key, value, user, **kwargs)
