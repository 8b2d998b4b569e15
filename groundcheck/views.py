"""Ground-check pages: the facilitator's phone page (works offline), the visit endpoint, the service
worker, and the Dinsos assignment pages (one family, many at once)."""
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.http import JsonResponse
from django.shortcuts import redirect, render, resolve_url
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.models import Role
from accounts.scope import scope_queryset
from dtsen_portal.errors import NotInScope, ServiceError
from dtsen_portal.formats import number
from privacy.services import export_response
from registry.models import Family, Region
from registry.selectors import area_choices

from . import selectors, services
from .forms import AssignmentForm, BulkAssignmentForm, VisitForm
from .spreadsheets import VisitResource


def _facilitator(user) -> None:
    if not (user.is_administrator or user.role == Role.FACILITATOR):
        raise PermissionDenied(_("This page is for PKH facilitators and TKSK."))


@login_required
def facilitator_home(request):
    _facilitator(request.user)
    return render(request, "groundcheck/home.html", {
        "assignments": selectors.phone_assignments(user=request.user),
        "done": list(selectors.my_assignments(user=request.user, open_only=False)
                     .filter(completed_at__isnull=False).order_by("-completed_at")[:20]),
        "form": VisitForm(),
    })


@require_POST
def visit_submit(request):
    """Receives a visit from the phone (possibly long after it was recorded offline); JSON in, JSON out.

    Never a redirect: a phone whose session expired must hear 401 and keep the visit, not follow a redirect
    to the login page (200) and take it for stored. A stored visit is confirmed by the id the phone made."""
    if not request.user.is_authenticated:
        login_url = f"{resolve_url(settings.LOGIN_URL)}?{urlencode({'next': reverse('groundcheck-home')})}"
        return JsonResponse({"status": "unauthenticated", "login_url": login_url,
                             "errors": {"__all__": [_("Your session has ended; please log in again.")]}}, status=401)
    _facilitator(request.user)
    form = VisitForm(request.POST, request.FILES)
    if not form.is_valid():
        return JsonResponse({"status": "invalid", "errors": {k: [str(e) for e in v] for k, v in form.errors.items()}},
                            status=400)
    data = form.cleaned_data
    try:
        visit, created = services.visit_record(
            actor=request.user, assignment_id=data["assignment"], client_uuid=data["client_uuid"],
            visited_at=data["visited_at"], checklist=form.checklist(), findings=data["findings"],
            recommendation=data["recommendation"], latitude=data["latitude"], longitude=data["longitude"],
            accuracy_m=data["accuracy_m"], photos=data["photos"], mismatches=form.mismatched())
    except NotInScope:
        # JSON, so the phone shows it beside the visit instead of waiting on it forever.
        return JsonResponse({"status": "refused", "errors": {"__all__": [_("This family is not assigned to you.")]}},
                            status=404)
    except ServiceError as exc:
        return JsonResponse({"status": "refused", "errors": {"__all__": [exc.message]}}, status=403)
    except ValidationError as exc:
        return JsonResponse({"status": "invalid", "errors": {"photos": exc.messages}}, status=400)
    return JsonResponse({"status": "stored" if created else "duplicate", "id": visit.pk, "visit": visit.pk,
                         "client_uuid": str(visit.client_uuid), "differences": len(visit.differences)},
                        status=201 if created else 200)


@never_cache
def service_worker(request):
    # Served from the page's own path so its scope covers /cek-lapangan/ (a static file could not).
    response = render(request, "groundcheck/sw.js", content_type="application/javascript")
    response["Service-Worker-Allowed"] = "/cek-lapangan/"
    return response


@login_required
def assignments(request):
    if not (request.user.is_administrator or request.user.role in services.DINSOS_ROLES):
        raise PermissionDenied(_("Assignments are made by Dinas Sosial staff."))
    form = AssignmentForm(request.POST or None, facilitators=selectors.facilitators_in_area(user=request.user))
    if request.method == "POST" and form.is_valid():
        family = Family.objects.filter(kk_number=form.cleaned_data["kk_number"]).first()
        if family is None:
            form.add_error("kk_number", _("No family with this KK number in the register."))
        else:
            try:
                services.assignment_create(actor=request.user, family_id=family.pk,
                                           facilitator_id=form.cleaned_data["facilitator"].pk,
                                           note=form.cleaned_data["note"])
            except NotInScope:
                form.add_error("kk_number", _("No family with this KK number in the register."))
            except ServiceError as exc:
                form.add_error(None, exc.message)
            else:
                messages.success(request, _("Family %(kk)s assigned.") % {"kk": family.kk_number})
                return redirect("groundcheck-assignments")
    return render(request, "groundcheck/assignments.html", {
        "form": form, "assignments": selectors.area_assignments(user=request.user)})


@login_required
def visits_export(request, kind: str):
    if not (request.user.is_administrator or request.user.role in services.DINSOS_ROLES):
        raise PermissionDenied(_("Assignments are made by Dinas Sosial staff."))
    visits = selectors.area_visits(user=request.user)
    dataset = VisitResource().export(queryset=visits)
    return export_response(request, dataset, "hasil-cek-lapangan", kind, area_code=request.user.area_id)


BULK_FAMILIES_PER_PAGE = 100


def _village_choices(user) -> list | None:
    """The villages of the user's area grouped by kecamatan (the area picker without its whole-kecamatan
    entries), or None when the area holds too many to list."""
    groups = area_choices(user=user)
    if groups is None:
        return None
    return [(label, [(code, name) for code, name in choices if Region.level_of(code) == Region.Level.VILLAGE])
            for label, choices in groups]


@login_required
def assignments_bulk(request):
    """Many families of one village to one facilitator: pick the village, then the facilitator and the
    families (the whole village, a dusun, or ticked ones), see how many will be assigned, confirm."""
    if not (request.user.is_administrator or request.user.role in services.DINSOS_ROLES):
        raise PermissionDenied(_("Assignments are made by Dinas Sosial staff."))
    code = (request.POST.get("village") or request.GET.get("village", "")).strip()[:13]
    village = (scope_queryset(request.user, Region.objects.filter(level=Region.Level.VILLAGE, pk=code))
               .select_related("parent").first() if code else None)
    if village is None:
        if code:
            messages.error(request, _("This village is not in your area."))
        return render(request, "groundcheck/assignments_bulk.html", {
            "villages": _village_choices(request.user), "village": None})
    list_dusun = request.GET.get("dusun", "")
    form = BulkAssignmentForm(
        request.POST or None, initial={"village": village.code, "dusun": list_dusun},
        facilitators=selectors.facilitators_in_area(user=request.user).filter(area_id=village.parent_id),
        dusun_choices=selectors.village_dusun(village_code=village.code))
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        chosen = {"actor": request.user, "facilitator_id": data["facilitator"].pk, "village_code": village.code,
                  "dusun": data["dusun"] if data["scope"] == "dusun" else "",
                  "family_ids": form.family_ids if data["scope"] == "selected" else None}
        try:
            if request.POST.get("confirm") == "1":
                done = services.assignments_create_bulk(**chosen, note=data["note"])
                name = data["facilitator"].get_full_name() or data["facilitator"].username
                text = ngettext("%(n)s family assigned to %(name)s.", "%(n)s families assigned to %(name)s.",
                                done.assigned) % {"n": number(done.assigned), "name": name}
                if done.skipped:
                    text += " " + ngettext("%(n)s skipped: it already waits for a ground-check.",
                                           "%(n)s skipped: they already wait for a ground-check.",
                                           done.skipped) % {"n": number(done.skipped)}
                messages.success(request, text)
                return redirect("groundcheck-assignments")
            preview = services.assignments_bulk_preview(**chosen)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            return render(request, "groundcheck/assignments_bulk_confirm.html", {
                "form": form, "village": village, "preview": preview, "family_ids": form.family_ids})
    families = selectors.bulk_assignment_families(user=request.user, village_code=village.code, dusun=list_dusun)
    page = Paginator(families, BULK_FAMILIES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "groundcheck/assignments_bulk.html", {
        "village": village, "form": form, "page": page, "query": query.urlencode(), "list_dusun": list_dusun,
        "checked": set(form.family_ids)})
