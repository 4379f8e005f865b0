"""Idempotency keys for API creates (header `Idempotency-Key`).

    @router.post("/things", response={201: ThingOut})
    @idempotent
    def thing_create(request, payload: ThingIn): ...

The first request with a key runs and its 2xx response is stored. A retry with the same key and the same
body gets the stored response again (header `Idempotent-Replayed: true`) and changes nothing; the same key
with a different body is refused with 409 `idempotency_conflict`. Keys belong to the user who sent them
and are kept for KEEP (then purged by a job).
"""

import functools
import hashlib
import json
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.http import HttpResponse, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from ninja.utils import contribute_operation_callback

from zhidu.kernel.errors import Conflict, Invalid
from zhidu.kernel.models import IdempotencyKey

HEADER = "Idempotency-Key"
REPLAY_HEADER = "Idempotent-Replayed"
KEEP = timedelta(hours=24)
MAX_KEY_LENGTH = 255


def request_hash(request) -> str:
    digest = hashlib.sha256(request.method.encode() + b" " + request.path.encode() + b"\n")
    if request.content_type == "multipart/form-data":
        # The raw body is gone once the form is parsed; the fields and the files' bytes say the same.
        fields = {name: request.POST.getlist(name) for name in request.POST}
        digest.update(json.dumps(fields, sort_keys=True, ensure_ascii=False).encode())
        for name in sorted(request.FILES):
            for upload in request.FILES.getlist(name):
                digest.update(f"\n{name}:{upload.name}:{upload.size}\n".encode())
                for chunk in upload.chunks():
                    digest.update(chunk)
                upload.seek(0)
        return digest.hexdigest()
    body = request.body or b""
    try:
        # Equivalent JSON (key order, spacing) is the same request.
        body = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")).encode()
    except (ValueError, UnicodeDecodeError):
        pass
    digest.update(body)
    return digest.hexdigest()


def _user(request):
    auth = getattr(request, "auth", None)
    if auth is not None and getattr(auth, "is_authenticated", False):
        return auth
    user = getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def _replay(row: IdempotencyKey) -> HttpResponse:
    response = JsonResponse(row.response_body, status=row.response_status, safe=False)
    response[REPLAY_HEADER] = "true"
    return response


def _claim(request, key: str):
    """Creates the key row for this request, or returns the response to give instead of running."""
    user = _user(request)
    digest = request_hash(request)
    try:
        with transaction.atomic():
            row = IdempotencyKey.objects.create(key=key, user=user, method=request.method, path=request.path, request_hash=digest)
        return row, None
    except IntegrityError:
        pass
    row = IdempotencyKey.objects.get(user=user, key=key)
    if row.request_hash != digest:
        raise Conflict(_("该幂等键已用于另一个不同的请求"), code="idempotency_conflict",
                       details={"idempotency_key": key, "original_path": row.path})
    if row.response_status is None:
        raise Conflict(_("使用该幂等键的请求仍在处理中，请稍后重试"), code="idempotency_in_progress",
                       details={"idempotency_key": key})
    return None, _replay(row)


def idempotent(view_func):
    """Decorator for a django-ninja POST operation (put it below the @router.post line)."""

    @functools.wraps(view_func)
    def wrapper(request, *args, **kwargs):
        key = request.headers.get(HEADER, "").strip()
        if not key or _user(request) is None:
            return view_func(request, *args, **kwargs)
        if len(key) > MAX_KEY_LENGTH:
            raise Invalid(_("幂等键过长（最多 %(n)d 个字符）") % {"n": MAX_KEY_LENGTH}, details={"header": HEADER})
        row, replay = _claim(request, key)
        if replay is not None:
            return replay
        request._zhidu_idempotency_row = row
        return view_func(request, *args, **kwargs)

    def store_response(original_run):
        @functools.wraps(original_run)
        def run(request, **kw):
            response = original_run(request, **kw)
            row = getattr(request, "_zhidu_idempotency_row", None)
            if row is not None:
                _store(row, response)
            return response

        return run

    def wrap_run(operation):
        # Registered like ninja's decorate_view, so the wrapper survives when the router's operations are cloned.
        operation.run = store_response(operation.run)
        if not hasattr(operation, "_run_decorators"):
            operation._run_decorators = []
        operation._run_decorators.append(store_response)

    contribute_operation_callback(wrapper, wrap_run)
    return wrapper


def _store(row: IdempotencyKey, response) -> None:
    status = response.status_code
    if 200 <= status < 300:
        try:
            body = json.loads(response.content) if response.content else None
        except ValueError:
            body = response.content.decode("utf-8", "replace")
        IdempotencyKey.objects.filter(pk=row.pk).update(response_status=status, response_body=body)
    else:
        # A failed request changed nothing; the client may retry with the same key (and a corrected body).
        IdempotencyKey.objects.filter(pk=row.pk).delete()


def purge(now=None) -> int:
    """Deletes keys older than KEEP; returns how many."""
    now = now or timezone.now()
    deleted, _details = IdempotencyKey.objects.filter(created_at__lt=now - KEEP).delete()
    return deleted
