from django.conf import settings
from django.contrib.auth import logout
from django.shortcuts import redirect
from django.urls import reverse

from zhidu.kernel import policy


class SessionExpiryMiddleware:
    """For a signed-in request: ends the session of a user who was disabled since it began; sets the
    idle timeout, the stricter of the pack's `org.session.idle_minutes` and SESSION_COOKIE_AGE (renewed
    on every request by SESSION_SAVE_EVERY_REQUEST); and sends a user whose password is past the pack's
    `org.password.max_age_days` to the password change page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            if not user.is_active:
                logout(request)
            else:
                idle = idle_seconds()
                if request.session.get_expiry_age() != idle:
                    request.session.set_expiry(idle)
                forced = self.password_change_required(request)
                if forced is not None:
                    return forced
        return self.get_response(request)

    def password_change_required(self, request):
        """While the password is past the pack's maximum age, pages lead to the password change page.
        The API (token or session) and the pages needed to change the password or leave stay open."""
        from .services import password_expired

        open_paths = (reverse("org:password_change"), reverse("org:logout"), settings.STATIC_URL, "/api/", "/i18n/")
        if request.path.startswith(open_paths) or not password_expired(request.user):
            return None
        return redirect(reverse("org:password_change"))


def idle_seconds() -> int:
    try:
        minutes = int(policy.value("org.session.idle_minutes"))
    except policy.ParameterMissing:
        return settings.SESSION_COOKIE_AGE
    return min(minutes * 60, settings.SESSION_COOKIE_AGE)
