"""Service errors shown on the form that caused them."""

from zhidu.kernel.errors import ApiError


def apply_errors(form, exc: ApiError, field_map: dict | None = None) -> None:
    """A service error's field messages go on the form's fields (renamed through `field_map`); the rest,
    or the error's message when it names no field, become form-wide errors."""
    field_map = field_map or {}
    fields = (exc.details or {}).get("fields") or {}
    placed = False
    for name, field_messages in fields.items():
        target = field_map.get(name, name)
        target = target if target in form.fields else None
        for message in field_messages if isinstance(field_messages, (list, tuple)) else [field_messages]:
            form.add_error(target, str(message))
        placed = True
    if not placed:
        form.add_error(None, str(exc.message))
