"""The current pack version, cached per process.

At most once per CHECK_INTERVAL seconds one indexed query asks which version is current (that also
notices a version whose effective date has just arrived, and versions applied by other processes); the
version's parameters are loaded again only when that id changes. Writes in this process invalidate at
once."""

import math
import threading
import time

from django.utils import timezone

CHECK_INTERVAL = 1.0

_lock = threading.Lock()
_state = {"checked_at": -math.inf, "version": None}


def _current_queryset():
    from zhidu.kernel.models import PackVersion

    return PackVersion.objects.filter(effective_from__lte=timezone.now()).order_by("-effective_from", "-id")


def current_version_fresh(lock: bool = False):
    """The current version straight from the database. With `lock`, the row is locked and re-checked to
    still be current afterwards, so two concurrent writers never both build on the same version."""
    if not lock:
        return _current_queryset().first()
    from zhidu.kernel.models import PackVersion

    while True:
        current_id = _current_queryset().values_list("id", flat=True).first()
        if current_id is None:
            return None
        locked = PackVersion.objects.select_for_update().get(pk=current_id)
        if _current_queryset().values_list("id", flat=True).first() == current_id:
            return locked


def current_version():
    now = time.monotonic()
    with _lock:
        if now - _state["checked_at"] < CHECK_INTERVAL:
            return _state["version"]
        cached = _state["version"]
    current_id = _current_queryset().values_list("id", flat=True).first()
    if current_id is None:
        version = None
    elif cached is not None and cached.pk == current_id:
        version = cached
    else:
        version = _current_queryset().filter(pk=current_id).select_related("applied_by").first()
    with _lock:
        _state["version"] = version
        _state["checked_at"] = now
    return version


def invalidate():
    with _lock:
        _state["checked_at"] = -math.inf
        _state["version"] = None
