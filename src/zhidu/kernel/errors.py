"""Errors a service raises for the API and the UI to show: a stable code, a bilingual message, details."""

from pydantic import BaseModel


class ApiError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message, *, code: str | None = None, status: int | None = None, details: dict | None = None):
        super().__init__(str(message))
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status
        self.details = details or {}


class Conflict(ApiError):
    status = 409
    code = "conflict"


class Forbidden(ApiError):
    status = 403
    code = "forbidden"


class NotFound(ApiError):
    status = 404
    code = "not_found"


class Invalid(ApiError):
    status = 422
    code = "invalid_input"


class ErrorOut(BaseModel):
    """The body of every 4xx answer of the API."""

    code: str
    message: str
    details: dict

# `response={200: ThingOut, **ERROR_RESPONSES}` documents the error format on an API operation.
ERROR_RESPONSES = {status: ErrorOut for status in (400, 401, 403, 404, 409, 413, 422)}
