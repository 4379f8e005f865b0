"""Every declared pack parameter: `zhidu.<app>.policy.SCHEMA` of each installed zhidu app, plus the
kernel's own `zhidu.kernel.kernel_policy.SCHEMA` (zhidu.kernel.policy is this engine)."""

import functools
import importlib
import importlib.util

from django.apps import apps

from .exceptions import UnknownParameter
from .schema import Param, Schema

KERNEL_SCHEMA_MODULE = "zhidu.kernel.kernel_policy"


def _schema_modules() -> list[str]:
    modules = [KERNEL_SCHEMA_MODULE]
    for config in apps.get_app_configs():
        if config.name.startswith("zhidu.") and config.name != "zhidu.kernel":
            module = config.name + ".policy"
            if importlib.util.find_spec(module) is not None:
                modules.append(module)
    return modules


@functools.cache
def schemas() -> tuple[Schema, ...]:
    found = []
    for module_name in _schema_modules():
        schema = getattr(importlib.import_module(module_name), "SCHEMA", None)
        if isinstance(schema, Schema):
            found.append(schema)
    return tuple(found)


@functools.cache
def params() -> dict[str, Param]:
    """All declared parameters by full key. Two apps declaring one key is a programming error."""
    result: dict[str, Param] = {}
    for schema in schemas():
        for key, param in schema.items():
            if key in result:
                raise RuntimeError(f"pack parameter {key} is declared twice (schema {schema.prefix!r})")
            result[key] = param
    return result


def param(key: str) -> Param:
    try:
        return params()[key]
    except KeyError:
        raise UnknownParameter(key) from None


def clear():
    schemas.cache_clear()
    params.cache_clear()
