"""Village account management for regency Dinsos staff; one's own password and authenticator; the login
audit."""
from base64 import b32encode

import segno
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import PasswordChangeForm
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render, resolve_url
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dtsen_portal.errors import NotAllowed, NotInScope, ServiceError
from registry.selectors import area_choices, kecamatan_choices

from . import services
from .filters import AccountFilter
from .forms import TokenForm, VillageAccountForm
from .models import LoginEvent, Role, User
from .scope import scope_queryset
from .selectors import account_histories


class PortalLoginView(auth_views.LoginView):
    """The login page; a facilitator then lands on the assignment list (their work), everyone else at home."""

    redirect_authenticated_user = True

    def get_default_redirect_url(self):
        if getattr(self.request.user, "role", None) == Role.FACILITATOR:
            return resolve_url("groundcheck-home")
        return super().get_default_redirect_url()


ACCOUNTS_PER_PAGE = 50


def _manager(user) -> None:
    if not (user.is_administrator or user.role in services.MANAGER_ROLES):
        raise PermissionDenied(_("Accounts are managed by Dinas Sosial staff."))


@login_required
def account_list(request):
    _manager(request.user)
    areas = area_choices(user=request.user)
    form = VillageAccountForm(request.POST or None, area_choices=areas)
    if request.method == "POST" and form.is_valid():
        try:
            user, password = services.user_create(actor=request.user, **form.cleaned_data)
        except NotInScope:
            form.add_error("area_code", _("This area is not in your regency."))
        except ServiceError as exc:
            form.add_error(None, exc.message)
        except ValidationError as exc:  # the model's own rules (a role needs a matching area level)
            form.add_error("area_code", " ".join(exc.messages))
        else:
            messages.success(request, _("Account %(name)s created. One-time password: %(password)s — hand it over "
                                        "in person; it is not shown again.") % {"name": user.username,
                                                                                 "password": password})
            return redirect("account-list")
    users = scope_queryset(request.user, User.objects.filter(role__in=services.MANAGED_ROLES)
                           .select_related("area")).order_by("area_id", "role", "username")
    # The picker's villages when the area is small enough to list them, else its kecamatan alone.
    account_filter = AccountFilter(request.GET, queryset=users,
                                   area_choices=areas or kecamatan_choices(user=request.user))
    page = Paginator(account_filter.qs, ACCOUNTS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    histories = account_histories(page.object_list)
    for account in page.object_list:
        account.riwayat = histories.get(account.pk, [])
    return render(request, "accounts/account_list.html", {
        "form": form, "filter": account_filter, "users": page.object_list, "page": page,
        "query": query.urlencode(), "filtered": any(account_filter.form.cleaned_data.values())})


@login_required
@require_POST
def account_action(request, pk: int):
    _manager(request.user)
    action = request.POST.get("action")
    try:
        if action == "reset":
            user, password = services.user_reset_password(actor=request.user, user_id=pk)
            messages.success(request, _("New one-time password for %(name)s: %(password)s") % {
                "name": user.username, "password": password})
        elif action in ("deactivate", "activate"):
            user = services.user_set_active(actor=request.user, user_id=pk, active=action == "activate")
            messages.success(request, (_("%(name)s can log in again.") if user.is_active
                                       else _("%(name)s can no longer log in.")) % {"name": user.username})
        else:
            raise Http404
    except NotInScope:
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect("account-list")


@login_required
def password_change(request):
    """Every user changes their own password here; a one-time password leads here at once."""
    form = PasswordChangeForm(request.user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.password_change(request=request, user=request.user, password=form.cleaned_data["new_password1"])
        update_session_auth_hash(request, request.user)  # stay logged in with the new password
        messages.success(request, _("Your password has been changed."))
        return redirect("home")
    return render(request, "registration/password_change.html", {
        "form": form, "forced": request.user.must_change_password})


@login_required
def login_totp(request):
    """Second step of a login for an account with an authenticator."""
    if not request.session.get(services.TOTP_PENDING_KEY):
        return redirect("home")
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.login_totp_verify(request=request, token=form.cleaned_data["token"]):
            return redirect("home")
        if not request.user.is_authenticated:  # locked out: the lockout page replaces this answer
            return redirect("login")
        form.add_error("token", _("The code is wrong or has expired."))
    return render(request, "registration/login_totp.html", {"form": form})


@login_required
def totp_setup(request):
    """Dinsos staff and administrators add (or remove) an authenticator app for their login."""
    user = request.user
    form = TokenForm(request.POST or None)
    device = services.totp_device(user, confirmed=True)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        if device is None and services.totp_confirm(request=request, user=user, token=token):
            messages.success(request, _("Authenticator added: every login now asks for its code."))
            return redirect("totp-setup")
        if device is not None and services.totp_remove(request=request, user=user, token=token):
            messages.success(request, _("Authenticator removed: logins no longer ask for a code."))
            return redirect("totp-setup")
        form.add_error("token", _("The code is wrong or has expired."))
    context = {"form": form, "device": device}
    if device is None:
        try:
            pending = services.totp_enrol(user=user)
        except NotAllowed:
            raise PermissionDenied(_("Authenticator apps are for Dinas Sosial staff and administrators.")) from None
        # The secret never leaves the portal: the QR code is drawn here as an SVG data URI (no outside service,
        # and nothing marked safe: the template escapes the URI like any other value).
        secret = b32encode(pending.bin_key).decode()
        context.update(secret=" ".join(secret[i:i + 4] for i in range(0, len(secret), 4)),
                       config_url=pending.config_url,
                       qr_uri=segno.make(pending.config_url, error="m").svg_data_uri(scale=4))
    return render(request, "registration/totp_setup.html", context)


@login_required
def login_events(request):
    """The login audit of the accounts in the staff member's area."""
    _manager(request.user)
    events = scope_queryset(request.user, LoginEvent.objects.select_related("user"))
    page = Paginator(events, 50).get_page(request.GET.get("page"))
    return render(request, "accounts/login_events.html", {"page": page, "query": ""})


def locked_out(request, original_response=None, credentials=None):
    """django-axes' answer once a username has failed too often from one address (AXES_LOCKOUT_CALLABLE)."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(request, "registration/locked_out.html",
                  {"failure_limit": settings.AXES_FAILURE_LIMIT, "minutes": minutes}, status=429)
