"""The personal-data access log for the regency's Dinsos staff and administrators (UU PDP)."""
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import render
from django.utils.translation import gettext as _

from accounts.models import Role

from . import selectors
from .forms import AccessFilterForm

ACCESSES_PER_PAGE = 50


@login_required
def access_log(request):
    user = request.user
    if not (user.is_administrator or user.role == Role.DINSOS):
        raise PermissionDenied(_("The access log is for Dinas Sosial staff and administrators."))
    form = AccessFilterForm(request.GET)
    data = form.cleaned_data if form.is_valid() else {}
    accesses = selectors.access_list(user=user, username=data.get("user", ""), kind=data.get("kind", ""),
                                     date_from=data.get("date_from"), date_to=data.get("date_to"))
    page = Paginator(accesses, ACCESSES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "privacy/access_log.html", {
        "form": form, "page": page, "query": query.urlencode(),
        "usernames": selectors.access_usernames(user=user),
    })
