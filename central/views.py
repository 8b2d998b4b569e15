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
from django.views.decorators.http import require_POST

from dtsen_portal.errors import ServiceError
from dtsen_portal.spreadsheets import SPREADSHEET_TYPES, neutralise_cell, spreadsheet_response

from . import selectors, services, tasks
from .models import BatchState, DesilPublication

LIST_LIMIT = 100
UNMATCHED_PER_PAGE = 50


def _sync_staff(user) -> None:
    if not (user.is_administrator or user.role in services.SYNC_ROLES):
        raise PermissionDenied(_("The sync page is for Dinas Sosial staff and administrators."))


@login_required
def sync_overview(request):
    _sync_staff(request.user)
    batches = list(selectors.batch_list(user=request.user)[:LIST_LIMIT])
    running = any(b.state in (BatchState.DOWNLOADING, BatchState.INGESTING) for b in batches)
    return render(request, "central/sync.html", {
        "batches": batches, "submissions": list(selectors.submission_list(user=request.user)[:LIST_LIMIT]),
        "publications": list(selectors.desil_publications()), "running": running,
    })


@login_required
def batch_detail(request, pk: int):
    _sync_staff(request.user)
    batch = selectors.batch_get(user=request.user, pk=pk)
    return render(request, "central/batch_detail.html", {
        "batch": batch, "rounds": selectors.batch_rounds(user=request.user, batch=batch),
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
    if kind not in SPREADSHEET_TYPES:
        raise Http404
    publication = _publication_or_404(period)
    dataset = tablib.Dataset(headers=["publikasi", "id_dtsen", "kode_desa", "desil", "skor"])
    for row in selectors.unmatched_rankings(user=request.user, period=publication.period).iterator():
        # Ids and codes come from the centre as text: one that looks like a formula must stay text.
        dataset.append([period, neutralise_cell(row.central_id), neutralise_cell(row.village_code), row.desil,
                        row.score])
    return spreadsheet_response(dataset, f"tidak-terdaftar-{period}", kind)


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
        tasks.enqueue(tasks.sync_batch, batch.pk)
        messages.success(request, _("Batch %(batch)s will be downloaded and applied again.") % {
            "batch": batch.batch_id})
    return redirect("sync-overview")


@login_required
@require_POST
def sync_now(request):
    _sync_staff(request.user)
    tasks.enqueue(tasks.pull_batches)
    tasks.enqueue(tasks.push_submissions)
    messages.success(request, _("Sync started: new batches are pulled and approved rounds are sent."))
    return redirect("sync-overview")
