"""The sync page for regency Dinsos staff and administrators: what came from the centre, what went up,
what is waiting or failed and why, with retry actions."""
import datetime as dt

import tablib
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from dtsen_portal.errors import NotInScope, ServiceError
from dtsen_portal.queue import enqueue
from privacy.services import export_response, record_view
from registry.validators import ascii_int

from . import selectors, services, tasks
from .clashes import clash_resolve
from .forms import ClashResolveForm
from .models import BatchClash, BatchState, DesilPublication, SubmissionItem

LIST_LIMIT = 100
CLASHES_PER_PAGE = 50
ITEMS_PER_PAGE = 50
UNMATCHED_PER_PAGE = 50
HELD_ROWS_PER_PAGE = 50


def _sync_staff(user) -> None:
    if not (user.is_administrator or user.role in services.SYNC_ROLES):
        raise PermissionDenied(_("The sync page is for Dinas Sosial staff and administrators."))


@login_required
def sync_overview(request):
    _sync_staff(request.user)
    batches = list(selectors.batch_list(user=request.user)[:LIST_LIMIT])
    submissions = list(selectors.submission_list(user=request.user)[:LIST_LIMIT])
    # The page follows work it started (a pull, a push just approved) until the outcome shows.
    running = any(b.state in (BatchState.DOWNLOADING, BatchState.INGESTING) for b in batches) or \
        any(selectors.on_its_way(s) for s in submissions)
    return render(request, "central/sync.html", {
        "batches": batches, "submissions": submissions,
        "publications": list(selectors.desil_publications()), "running": running,
    })


@login_required
def batch_detail(request, pk: int):
    _sync_staff(request.user)
    batch = selectors.batch_get(user=request.user, pk=pk)
    held = Paginator(selectors.batch_held_rows(user=request.user, batch=batch), HELD_ROWS_PER_PAGE) \
        .get_page(request.GET.get("page")) if batch.rows_held else None
    return render(request, "central/batch_detail.html", {
        "batch": batch, "rounds": selectors.batch_rounds(user=request.user, batch=batch), "held": held,
        "running": batch.state in (BatchState.DOWNLOADING, BatchState.INGESTING),
    })


def _publication_or_404(period: str) -> DesilPublication:
    try:
        day = dt.date.fromisoformat(period)
    except ValueError:
        raise Http404 from None
    return get_object_or_404(DesilPublication, period=day)


@login_required
def publication_unmatched(request, period: str):
    """The families a publication ranks that the register does not hold, in the user's area."""
    _sync_staff(request.user)
    publication = _publication_or_404(period)
    rankings = selectors.unmatched_rankings(user=request.user, period=publication.period)
    page = Paginator(rankings, UNMATCHED_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "central/unmatched.html", {"publication": publication, "page": page})


@login_required
def publication_unmatched_export(request, period: str, kind: str):
    _sync_staff(request.user)
    publication = _publication_or_404(period)
    dataset = tablib.Dataset(headers=["publikasi", "id_dtsen", "kode_desa", "desil", "skor"])
    for row in selectors.unmatched_rankings(user=request.user, period=publication.period).iterator():
        # Ids and codes come from the centre as text; spreadsheet_response keeps formula-like ones text.
        dataset.append([period, row.central_id, row.village_code, row.desil, row.score])
    return export_response(request, dataset, f"tidak-terdaftar-{period}", kind, area_code=request.user.area_id)


@login_required
def submission_detail(request, pk: int):
    """One round's submission: what went up, by kind, and what the centre answered for each item."""
    _sync_staff(request.user)
    submission = selectors.submission_get(user=request.user, pk=pk)
    items = selectors.submission_items(submission=submission, kind=request.GET.get("kind", ""),
                                       outcome=request.GET.get("outcome", ""))
    page = Paginator(items, ITEMS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "central/submission_detail.html", {
        "submission": submission, "on_its_way": selectors.on_its_way(submission),
        "matrix": selectors.submission_matrix(submission), "page": page,
        "query": query.urlencode(), "kinds": SubmissionItem.Kind.choices, "outcomes": SubmissionItem.Outcome.choices,
        "kind": request.GET.get("kind", ""), "outcome": request.GET.get("outcome", ""),
    })


@login_required
@require_POST
def batch_retry(request, pk: int):
    _sync_staff(request.user)
    batch = selectors.batch_get(user=request.user, pk=pk)
    try:
        services.batch_retry(batch_id=batch.pk, actor=request.user)
    except ServiceError as exc:
        messages.error(request, str(exc))
    else:
        if enqueue(tasks.sync_batch, batch.pk):
            messages.success(request, _("Batch %(batch)s will be downloaded and applied again.") % {
                "batch": batch.batch_id})
        else:
            messages.warning(request, _("Batch %(batch)s will be downloaded and applied again by the next "
                                        "scheduled sync: the queue service is not reachable now.") % {
                "batch": batch.batch_id})
    return redirect("sync-overview")


@login_required
@require_POST
def sync_now(request):
    _sync_staff(request.user)
    # Both are tried: one may be sent even if the other is not.
    sent = [enqueue(tasks.pull_batches), enqueue(tasks.push_submissions)]
    if all(sent):
        messages.success(request, _("Sync started: new batches are pulled and approved rounds are sent."))
    else:
        messages.warning(request, _("The sync could not start now: the queue service is not reachable. Approved "
                                    "rounds are saved and go out with the next scheduled sync; try again in a few "
                                    "minutes."))
    return redirect("sync-overview")


# -- the adjudication queue: families held because they clash with the register, likely duplicates ----------
KINDS = {"clash": gettext_lazy("Clash with the register (KK or NIK)"),
         BatchClash.Kind.SIMILAR: gettext_lazy("Likely duplicate")}

@login_required
def clash_list(request):
    _sync_staff(request.user)
    state = request.GET.get("state", "")
    state = state if state in BatchClash.State.values else ""
    batch_pk = request.GET.get("batch", "")
    batch_pk = ascii_int(batch_pk)
    kind = request.GET.get("kind", "")
    kind = kind if kind in KINDS else ""
    page = Paginator(selectors.clash_list(user=request.user, state=state, batch_pk=batch_pk, kind=kind),
                     CLASHES_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "central/clash_list.html", {
        "page": page, "state": state, "batch_pk": batch_pk, "query": query.urlencode(), "kind": kind,
        "kinds": list(KINDS.items()),
        "states": BatchClash.State.choices, "batches": list(selectors.clash_batches(user=request.user)),
    })


@login_required
@require_http_methods(["GET", "POST"])
def clash_detail(request, pk: int):
    _sync_staff(request.user)
    clash = selectors.clash_get(user=request.user, pk=pk)
    form = ClashResolveForm(request.POST or None, clash=clash)
    if request.method == "POST":
        if form.is_valid():
            try:
                clash = clash_resolve(actor=request.user, clash_id=clash.pk, **form.cleaned_data)
            except NotInScope:
                raise Http404(_("Not found.")) from None
            except ServiceError as exc:
                messages.error(request, str(exc))
            else:
                messages.success(request, _resolved_message(clash))
                return redirect("sync-clash", pk=clash.pk)
        else:
            messages.error(request, _("The clash was not resolved: see the form below."))
    sides = selectors.clash_sides(clash)
    # Only Dinsos and administrators reach this page, and both versions of each person are the point of it.
    record_view(request, object_type="clash", object_id=clash.pk, area_code=clash.village_id,
                people=len(sides.get("members", [])))
    return render(request, "central/clash_detail.html", {"clash": clash, "sides": sides, "form": form,
                                                         "similar": clash.kind == BatchClash.Kind.SIMILAR})


def _resolved_message(clash: BatchClash) -> str:
    values = {"id": clash.central_id, "kk": clash.central_version.get("kk_number", "-"),
              "village": clash.village.display_name}
    if clash.resolution == BatchClash.Resolution.TAKE_CENTRE:
        return _("Resolved: the centre's version of %(id)s (KK %(kk)s) is now in the register and joins the "
                 "verval round of %(village)s.") % values
    if clash.resolution == BatchClash.Resolution.DUPLICATE and clash.kind == BatchClash.Kind.SIMILAR:
        return _("Resolved: the batch's family %(id)s is recorded as a duplicate and left the verval round of "
                 "%(village)s.") % values
    if clash.resolution == BatchClash.Resolution.DUPLICATE:
        return _("Resolved: the centre's family %(id)s is recorded as a duplicate of the register's family "
                 "and stays out of the register.") % values
    if clash.resolution == BatchClash.Resolution.KEEP_BOTH:
        return _("Resolved: both families stay in the register.")
    if clash.resolution == BatchClash.Resolution.MERGE:
        return _("Resolved: the batch's family %(id)s is merged into the register's family.") % values
    return _("Resolved: the register keeps its version; the centre's family %(id)s stays out.") % values
