"""Session rules that hold on every page: an idle session ends, and a login that still owes a step (the
authenticator code, or replacing a one-time password) opens nothing but that step and the way out."""
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import Resolver404, resolve
from django.utils.translation import gettext as _

from .models import LoginEvent
from .services import LAST_SEEN_KEY, TOTP_PENDING_KEY

# Writing the session on every request would cost a query per page; a minute's precision is enough.
LAST_SEEN_REFRESH_SECONDS = 60
# Pages a login with a pending step may still open, besides the step itself.
OPEN_DURING_STEP = {"logout", "javascript-catalog", "set_language"}


class SessionIdleMiddleware:
    """Logs out a session that has seen no request for ``SESSION_IDLE_MINUTES``."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.user.is_authenticated:
            now = int(time.time())
            last = request.session.get(LAST_SEEN_KEY)
            if last is not None and now - last > settings.SESSION_IDLE_MINUTES * 60:
                request.logout_kind = LoginEvent.Kind.EXPIRED
                logout(request)
                messages.info(request, _("You were logged out after %(minutes)d minutes without activity. "
                                         "Please log in again.") % {"minutes": settings.SESSION_IDLE_MINUTES})
            elif last is None or now - last >= LAST_SEEN_REFRESH_SECONDS:
                request.session[LAST_SEEN_KEY] = now
        return self.get_response(request)


class LoginStepsMiddleware:
    """Holds a logged-in session at the authenticator code page, then at the password change page, until done."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            if request.session.get(TOTP_PENDING_KEY):
                step, message = "login-totp", _("Enter the code from your authenticator app to finish logging in.")
            elif user.must_change_password:
                step, message = "password-change", _("Choose your own password before you continue.")
            else:
                step = None
            if step and not self._open(request, step):
                if request.path_info.startswith("/api/"):
                    return JsonResponse({"code": "login_incomplete", "message": message, "field_errors": {}},
                                        status=403)
                return redirect(step)
        return self.get_response(request)

    @staticmethod
    def _open(request, step: str) -> bool:
        try:
            name = resolve(request.path_info).url_name
        except Resolver404:
            return False
        return name == step or name in OPEN_DURING_STEP
