"""The JSON API under /api/v1: one error format `{code, message, details}` for every failure."""

from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from ninja import NinjaAPI
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


api = NinjaAPI(
    title="zhidu API",
    version="1",
    description="制度 zhidu: customer management run by regulation packs. 错误格式 Error format: {code, message, details}.",
    auth=[TokenAuth(), django_auth],
    urls_namespace="api",
    docs_url="/docs",
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
    from zhidu.customers.api import router as customers_router
    from zhidu.customers.api_bulk import router as customers_bulk_router
    from zhidu.kernel.api import router as kernel_router
    from zhidu.org.api import router as org_router

    # Before the customers router: its "/{customer_id}" would otherwise catch "/export.xlsx" and "/import".
    api.add_router("/customers", customers_bulk_router)
    api.add_router("/customers", customers_router)
    api.add_router("/org", org_router)
    api.add_router("/kernel", kernel_router)


_register_routers()
