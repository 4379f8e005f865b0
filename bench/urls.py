from django.http import JsonResponse
from django.urls import path

from zhidu.urls import urlpatterns as zhidu_urlpatterns


def minimal(request):
    """The baseline of the HTTP benchmark: Django's request/response cycle and nothing else of ours
    but the middleware every request passes through."""
    return JsonResponse({"ok": True})


urlpatterns = [path("bench/minimal/", minimal), *zhidu_urlpatterns]
