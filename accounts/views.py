"""Village account management for regency Dinsos staff."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dtsen_portal.errors import NotInScope, ServiceError

from . import services
from .forms import VillageAccountForm
from .models import User
from .scope import scope_queryset


def _manager(user) -> None:
    if not (user.is_administrator or user.role in services.MANAGER_ROLES):
        raise PermissionDenied(_("Accounts are managed by Dinas Sosial staff."))


@login_required
def account_list(request):
    _manager(request.user)
    form = VillageAccountForm(request.POST or None)
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
    return render(request, "accounts/account_list.html", {"form": form, "users": users})


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
