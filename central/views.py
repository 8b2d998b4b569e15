"""The sync page for regency Dinsos staff and administrators: what came from the centre, what went up,
what is waiting or failed and why, with retry actions."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from dtsen_portal.errors import ServiceError

from . import selectors, services, tasks
from .models import BatchState, SubmissionItem

LIST_LIMIT = 100
ITEMS_PER_PAGE = 50


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
        "submission": submission, "matrix": selectors.submission_matrix(submission), "page": page,
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
