"""Register pages: the role home page and the family list/detail, all read through scoped selectors."""
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse

from accounts.models import Role
from accounts.scope import require_regency_staff
from distribution import services as distribution_services
from privacy.masking import Context, can_see_full_nik
from privacy.services import record_view
from verification import selectors as verification_selectors
from verification import tallies

from . import duplicates, selectors
from .filters import FamilyFilter
from .forms import DuplicateScanForm

FAMILIES_PER_PAGE = 25
PAIRS_PER_PAGE = 50


@login_required
def home(request):
    title, breakdown = tallies.area_breakdown(user=request.user)
    return render(request, "registry/home.html", {
        "next_steps": verification_selectors.next_steps(user=request.user),
        "summary": tallies.area_summary(user=request.user),
        "rounds": list(verification_selectors.round_list(user=request.user, open_only=True)[:10])
        if request.user.role in (Role.VILLAGE_OPERATOR, Role.VILLAGE_HEAD) else [],
        "reports_waiting": distribution_services.reports_waiting(user=request.user).count(),
        "payments": distribution_services.payment_summary(user=request.user),
        "dashboard": verification_selectors.regency_dashboard(user=request.user)
        if request.user.is_administrator or request.user.role == Role.DINSOS else None,
        "breakdown_title": title,
        "breakdown": breakdown,
    })


@login_required
def family_list(request):
    family_filter = FamilyFilter(request.GET, queryset=selectors.family_list(user=request.user))
    # A refused search (too long, "%%%") lists nothing rather than everything; the form says why.
    families = family_filter.qs if family_filter.is_valid() else family_filter.queryset.none()
    page = Paginator(families, FAMILIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "registry/family_list.html", {
        "filter": family_filter, "page": page, "query": query.urlencode(),
        "villages": selectors.villages_in_scope(user=request.user), "desil_choices": range(1, 11),
    })


@login_required
def family_detail(request, pk: int):
    family = selectors.family_get(user=request.user, pk=pk)
    full_nik = can_see_full_nik(request.user, Context.DETAIL)
    if full_nik:
        record_view(request, object_type="family", object_id=family.pk, area_code=family.village_id,
                    people=len(family.members.all()))
    return render(request, "registry/family_detail.html", {
        "family": family, "audit_trail": selectors.family_audit_trail(family, full_nik=full_nik),
        "full_nik": full_nik,
    })


@login_required
def duplicate_scans(request):
    """Start a regency-wide duplicate scan (a background job) and list the user's earlier scans."""
    from jobs.models import Job
    from jobs.services import job_start

    require_regency_staff(request.user)
    form = DuplicateScanForm(request.POST or None, user=request.user)
    if request.method == "POST" and form.is_valid():
        region = form.cleaned_data["region"]
        job = job_start(actor=request.user, kind=Job.Kind.DUPLICATE_SCAN, target=f"region:{region}",
                        params={"region": region}, return_url=reverse("duplicate-scans"))
        return redirect("job-detail", job.pk)
    return render(request, "registry/duplicate_scans.html", {
        "form": form, "scans": list(selectors.duplicate_scans(user=request.user)[:20]),
        "available": duplicates.available()})


@login_required
def duplicate_pairs(request, pk: int):
    """The pairs one scan found, most likely first, a page at a time; NIK masked."""
    from jobs.models import Job

    require_regency_staff(request.user)
    job = get_object_or_404(Job, pk=pk, user=request.user, kind=Job.Kind.DUPLICATE_SCAN)
    page = Paginator(selectors.duplicate_pairs(user=request.user, job=job), PAIRS_PER_PAGE).get_page(
        request.GET.get("page"))
    for pair in page:
        pair.reason_labels = [str(duplicates.REASONS.get(r, r)) for r in pair.reasons]
    return render(request, "registry/duplicate_pairs.html", {"job": job, "page": page, "query": ""})
