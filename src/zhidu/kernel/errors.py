"""Errors a service raises for the API and the UI to show: a stable code, a bilingual message, details."""


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
