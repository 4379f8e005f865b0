from django.contrib.auth import logout


class SessionExpiryMiddleware:
    """Ends the session of a user who was disabled or locked since it began."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated and not user.is_active:
            logout(request)
        return self.get_response(request)
