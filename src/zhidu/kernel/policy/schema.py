"""How an app declares the pack parameters it reads.

    # src/zhidu/<app>/policy.py
    from zhidu.kernel.policy.schema import Param, Schema

    SCHEMA = Schema("customers", {
        "review_cycle_months": Param(int, 6, _("复核周期（月）")),
        "access_request.chain": Param(list[ChainStep], [...], _("查阅审批链")),
    })

Keys are relative to the schema's prefix ("customers.review_cycle_months"); a key already written with
the prefix is kept as it is. The type is any type pydantic can validate (int, str, a BaseModel, a list of
models, an Annotated type with constraints); pack values and defaults are validated against it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal, get_args, get_origin

from pydantic import TypeAdapter, ValidationError

__all__ = ["NO_DEFAULT", "Param", "Schema", "ValidationError"]


class _NoDefault:
    def __repr__(self):
        return "NO_DEFAULT"


NO_DEFAULT = _NoDefault()


def type_label(kind) -> str:
    """A short name for a type, for messages: "list[CustomerType]", "int", "'a' | 'b'"."""
    while get_origin(kind) is Annotated:
        kind = get_args(kind)[0]
    origin = get_origin(kind)
    if origin is None:
        return getattr(kind, "__name__", str(kind))
    args = get_args(kind)
    if origin is Literal:
        return " | ".join(repr(arg) for arg in args)
    return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_label(arg) for arg in args)}]"


@dataclass(eq=False)
class Param:
    """The declaration of one parameter: its type, its default and a label for the pack page."""

    type: Any
    default: Any = NO_DEFAULT
    label: Any = ""
    help: Any = ""
    key: str = field(default="", init=False)

    def __post_init__(self):
        self._adapter = TypeAdapter(self.type)

    @property
    def has_default(self) -> bool:
        return self.default is not NO_DEFAULT

    @property
    def type_name(self) -> str:
        return type_label(self.type)

    @property
    def is_text(self) -> bool:
        kind = self.type
        while get_origin(kind) is Annotated:
            kind = get_args(kind)[0]
        return kind is str

    def validate(self, value: Any) -> Any:
        """Validates a value as it comes from a pack file or a form: JSON-shaped and strict, so "6" is not
        an int and 6 is not a str. Raises pydantic.ValidationError."""
        return self._adapter.validate_json(json.dumps(value, ensure_ascii=False, default=str), strict=True)

    def validate_text(self, text: str) -> Any:
        """Validates what an admin typed: taken as it is for a text parameter, as JSON otherwise."""
        if self.is_text:
            return self.validate(text)
        return self._adapter.validate_json(text, strict=True)

    def load(self, stored: Any) -> Any:
        """The typed value for a stored (JSON) value, validated again against the declared type (pydantic
        models come back as model instances)."""
        return self._adapter.validate_python(stored) if stored is not None else None

    def dump(self, value: Any) -> Any:
        """The JSON form of a validated value, as stored in a PackVersion."""
        return self._adapter.dump_python(value, mode="json") if value is not None else None


class Schema:
    """The parameters of one app, keyed by full dotted key."""

    def __init__(self, prefix: str, params: dict[str, Param]):
        self.prefix = prefix
        self.params: dict[str, Param] = {}
        for name, param in params.items():
            if not isinstance(param, Param):
                raise TypeError(f"{prefix}: {name} must be a Param")
            key = name if name.startswith(prefix + ".") else f"{prefix}.{name}"
            param.key = key
            if param.has_default:
                # A default that does not fit its own type is a programming error: fail at import.
                param.validate(param.dump(param._adapter.validate_python(param.default)))
            self.params[key] = param

    def __contains__(self, key: str) -> bool:
        return key in self.params

    def __getitem__(self, key: str) -> Param:
        return self.params[key]

    def __iter__(self):
        return iter(self.params)

    def items(self):
        return self.params.items()

    def __repr__(self):
        return f"Schema({self.prefix!r}, {sorted(self.params)})"
