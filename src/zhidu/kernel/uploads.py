"""Upload guards shared by the API endpoints that accept files."""

import functools

from django.conf import settings
from django.http import JsonResponse
from django.utils.translation import gettext as _

MULTIPART_ALLOWANCE = 64 * 1024  # room for the multipart envelope and the other form fields


def declared_size_limited(setting_name: str):
    """Refuses an upload by its declared Content-Length before the body is read (413), rather than
    after storing it. A body sent without a length is measured after parsing by the service."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, *args, **kwargs):
            try:
                length = int(request.META.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = 0
            limit = getattr(settings, setting_name)
            if length > limit + MULTIPART_ALLOWANCE:
                message = _("文件过大：上限 %(limit)s MB") % {"limit": round(limit / 1024 / 1024, 1)}
                return JsonResponse({"code": "file_too_large", "message": message, "details": {"limit": limit}}, status=413)
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
