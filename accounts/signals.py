"""The login audit listens to Django's login signals and django-axes' lockout: every way in or out is recorded,
whichever view (the portal's login page, the admin's, a test client) caused it."""
from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.dispatch import receiver

from . import services
from .models import LoginEvent


@receiver(user_logged_in, dispatch_uid="accounts-login-event")
def _logged_in(sender, request, user, **kwargs):
    services.login_started(request=request, user=user)


@receiver(user_login_failed, dispatch_uid="accounts-login-failed-event")
def _login_failed(sender, credentials, request=None, **kwargs):
    if getattr(request, "login_event_recorded", False):
        return  # a wrong authenticator code was recorded as such by the view that checked it
    services.login_event_record(request=request, kind=LoginEvent.Kind.FAILED,
                                username=str(credentials.get("username") or ""))


@receiver(user_logged_out, dispatch_uid="accounts-logout-event")
def _logged_out(sender, request, user, **kwargs):
    kind = getattr(request, "logout_kind", LoginEvent.Kind.LOGOUT)
    services.login_event_record(request=request, kind=kind, user=user)


@receiver(user_locked_out, dispatch_uid="accounts-locked-out-event")
def _locked_out(sender, request, username, ip_address, **kwargs):
    services.login_event_record(request=request, kind=LoginEvent.Kind.LOCKED_OUT, username=username or "")
