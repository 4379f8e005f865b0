"""Session bookkeeping only: which session keys belong to which user, so that disabling a user or
changing a password can end their sessions at once."""

from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from . import services


def client_ip(request) -> str | None:
    return request.META.get("REMOTE_ADDR") if request is not None else None


@receiver(user_logged_in, dispatch_uid="org.session_record")
def on_logged_in(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        services.session_record(user, request.session.session_key, client_ip(request))


@receiver(user_logged_out, dispatch_uid="org.session_forget")
def on_logged_out(sender, request, user, **kwargs):
    if request is not None and hasattr(request, "session"):
        services.session_forget(request.session.session_key)
