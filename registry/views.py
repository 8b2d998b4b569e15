"""Register pages: the role home page and the family list/detail, all read through scoped selectors."""
from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from . import selectors


@login_required
def home(request):
    return render(request, "registry/home.html", {"summary": selectors.area_summary(user=request.user)})


@login_required
def family_list(request):
    families = selectors.family_list(user=request.user)
    return render(request, "registry/family_list.html", {"families": families[:50]})


@login_required
def family_detail(request, pk: int):
    family = selectors.family_get(user=request.user, pk=pk)
    return render(request, "registry/family_detail.html", {"family": family})
