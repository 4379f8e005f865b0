"""The JSON API under /api/v1: one error format `{code, message, details}` for every failure."""

import functools
import json
import re

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig, SuspiciousOperation, ValidationError
from django.http import Http404, HttpResponseNotAllowed, JsonResponse
from ninja import NinjaAPI, Swagger
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError
from ninja.security import HttpBearer, django_auth

from zhidu.kernel.errors import ApiError
from zhidu.org.tokens import token_user


class TokenAuth(HttpBearer):
    def authenticate(self, request, token):
        user = token_user(token)
        if user is not None:
            request.user = user
        return user


class ZhiduAPI(NinjaAPI):
    @property
    def urls(self):
        patterns, app_name, namespace = super().urls
        for pattern in patterns:
            pattern.callback = _at_the_boundary(pattern.callback)
        return patterns, app_name, namespace


def _at_the_boundary(view):
    """Every API view: text no database can store is refused up front (422), and ninja's plain-text 405
    for a method no operation takes gets the error format."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        where = _unstorable_text(request)
        if where:
            body = {
                "code": "invalid_input",
                "message": "输入包含无法保存的字符（NUL 或孤立代理项） Input contains a NUL character or a lone surrogate",
                "details": {"where": where},
            }
            return JsonResponse(body, status=422)
        response = view(request, *args, **kwargs)
        if isinstance(response, HttpResponseNotAllowed):
            allowed = sorted(m.strip() for m in response["Allow"].split(",") if m.strip())
            body = {"code": "method_not_allowed", "message": "不支持该请求方法 Method not allowed", "details": {"allowed": allowed}}
            replacement = JsonResponse(body, status=405)
            replacement["Allow"] = response["Allow"]
            return replacement
        return response

    return wrapper


# In JSON text a NUL or a UTF-16 surrogate can only arrive escaped; cheap to look for, parsed only then.
_SUSPECT_ESCAPE = re.compile(rb"(?<!\\)(?:\\\\)*\\u(?:0000|[dD][89a-fA-F][0-9a-fA-F]{2})")


def _bad_text(text: str) -> bool:
    if "\x00" in text:
        return True
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate
        return True
    return False


def _bad_json_value(value) -> bool:
    if isinstance(value, str):
        return _bad_text(value)
    if isinstance(value, dict):
        return any(_bad_text(k) or _bad_json_value(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_bad_json_value(v) for v in value)
    return False


def _unstorable_text(request) -> str | None:
    """Where the request carries a NUL character or a lone surrogate (PostgreSQL refuses the first, every
    UTF-8 encoder the second): "query", "header", "body", or None."""
    try:
        query = list(request.GET.lists())
    except SuspiciousOperation:
        query = []  # too many fields: the operation meets the same error and answers it
    if any(_bad_text(key) or any(_bad_text(v) for v in values) for key, values in query):
        return "query"
    if any(_bad_text(value) for value in request.headers.values()):
        return "header"
    if request.method in ("GET", "HEAD", "OPTIONS") or request.content_type == "multipart/form-data":
        return None  # uploads: their text fields are checked by their own schemas
    try:
        if request.content_type == "application/x-www-form-urlencoded":
            return "body" if any(_bad_text(k) or any(_bad_text(v) for v in vs) for k, vs in request.POST.lists()) else None
        body = request.body
    except SuspiciousOperation:
        return None  # too big or too many fields: the operation meets the same error and answers it
    # ninja reads a JSON body whatever its declared content type.
    if _SUSPECT_ESCAPE.search(body):
        try:
            return "body" if _bad_json_value(json.loads(body)) else None
        except ValueError:
            return None  # malformed JSON: the operation answers it
    return None


api = ZhiduAPI(
    title="zhidu API",
    version="1",
    description="制度 zhidu: customer management run by regulation packs. 错误格式 Error format: {code, message, details}.",
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
    docs_url="/docs",
    # Swagger UI from ninja's own static files ("ninja" is in INSTALLED_APPS), never from a CDN; no
    # validator badge either, which would call validator.swagger.io.
    docs=Swagger(settings={"validatorUrl": None}),
    openapi_url="/openapi.json",
)


def error_response(request, status: int, code: str, message: str, details=None):
    return api.create_response(request, {"code": code, "message": message, "details": details or {}}, status=status)


@api.exception_handler(ApiError)
def on_api_error(request, exc: ApiError):
    return error_response(request, exc.status, exc.code, str(exc.message), exc.details)


@api.exception_handler(NinjaValidationError)
def on_validation_error(request, exc: NinjaValidationError):
    return error_response(request, 422, "invalid_input", "输入无效 Invalid input", {"errors": _clean_errors(exc.errors)})


@api.exception_handler(ValidationError)
def on_django_validation_error(request, exc: ValidationError):
    details = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return error_response(request, 422, "invalid_input", "输入无效 Invalid input", {"fields": details})


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error_response(request, 401, "unauthenticated", "需要登录或有效的令牌 Login or a valid token is required")


@api.exception_handler(PermissionDenied)
def on_permission_denied(request, exc):
    return error_response(request, 403, "forbidden", str(exc) or "无权执行此操作 Not allowed")


@api.exception_handler(Http404)
def on_not_found(request, exc):
    return error_response(request, 404, "not_found", "未找到 Not found")


@api.exception_handler(RequestDataTooBig)
def on_too_big(request, exc):
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    return error_response(request, 413, "payload_too_large", f"请求数据过大（上限 {limit} 字节） Payload too large", {"limit": limit})


@api.exception_handler(SuspiciousOperation)
def on_bad_request(request, exc):
    # Too many fields, a malformed multipart body and the like: the client's fault, never a 500.
    return error_response(request, 400, "bad_request", "请求格式无效 Malformed request", {"reason": type(exc).__name__})


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return error_response(request, exc.status_code, "http_error", str(exc))


def _clean_errors(errors):
    cleaned = []
    for error in errors:
        item = {k: v for k, v in error.items() if k in ("type", "loc", "msg")}
        item["loc"] = [str(p) for p in item.get("loc", [])]
        cleaned.append(item)
    return cleaned


def _register_routers():
    from zhidu.admission.api import router as admission_router
    from zhidu.complaints.api import router as complaints_router
    from zhidu.credit.api import router as credit_router
    from zhidu.customers.api import router as customers_router
    from zhidu.customers.api_bulk import router as customers_bulk_router
    from zhidu.grading.api import router as grading_router
    from zhidu.kernel.api import router as kernel_router
    from zhidu.org.api import router as org_router

    # Before the customers router: its "/{customer_id}" would otherwise catch "/export.xlsx" and "/import".
    api.add_router("/customers", customers_bulk_router)
    api.add_router("/customers", customers_router)
    api.add_router("/org", org_router)
    api.add_router("/kernel", kernel_router)
    api.add_router("/complaints", complaints_router)
    api.add_router("/grading", grading_router)
    api.add_router("/admission", admission_router)
    api.add_router("/credit", credit_router)


_register_routers()
