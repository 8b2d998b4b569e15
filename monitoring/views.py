"""Monitoring pages. Views check who may look, read through ``monitoring.selectors`` and render or export."""
import tablib
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.models import Role
from dtsen_portal.spreadsheets import SPREADSHEET_TYPES, neutralise_cell, spreadsheet_response

from . import selectors

# -- the update cycle's scorecard ---------------------------------------------------------------------------


@login_required
def scorecard(request):
    raise Http404  # built in the scorecard work


@login_required
def scorecard_export(request, kind: str):
    raise Http404  # built in the scorecard work


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------
FEED_PER_PAGE = 25
FEED_EXPORT_CHUNK = 1000  # rows whose verification is looked up together (three queries per chunk)


def _feed_filters(request) -> tuple[list, selectors.FeedFilters]:
    publications = selectors.feed_publications()
    return publications, selectors.FeedFilters.from_query(user=request.user, params=request.GET,
                                                          publications=publications)


def _feed_exporter(user) -> bool:
    return user.is_administrator or user.role == Role.DINSOS


@login_required
def desil_changes(request):
    """Whose desil changed in a publication, in the user's area, and the village verification behind it."""
    publications, filters = _feed_filters(request)
    page = Paginator(selectors.desil_changes(user=request.user, filters=filters), FEED_PER_PAGE).get_page(
        request.GET.get("page"))
    changes = list(page.object_list)
    if filters.publication is not None:
        selectors.desil_change_reasons(changes, cutoff=filters.cutoff)
    summary_title, summary, totals = selectors.desil_change_summary(user=request.user, filters=filters)
    query = request.GET.copy()
    query.pop("page", None)
    keep = {key: request.GET[key] for key in ("publication", "movement") if request.GET.get(key)}
    return render(request, "monitoring/desil_changes.html", {
        "publications": publications, "filters": filters, "page": page, "changes": changes,
        "query": query.urlencode(), "drill_query": urlencode(keep), "summary_title": summary_title,
        "summary": summary, "totals": totals,
        "breadcrumbs": selectors.feed_breadcrumbs(user=request.user, area=filters.area),
        "movements": [("", _("Entered or left desil 1-4")), ("entered", _("Entered desil 1-4")),
                      ("left", _("Left desil 1-4")), ("all", _("All changes"))],
        "can_export": _feed_exporter(request.user),
    })


def _feed_row(change, period: str) -> list:
    v = change.verification
    row = [period, change.village.parent.name if change.village.parent else "", change.village.name,
           change.family.kk_number, change.head_name or "", change.old_desil, change.new_desil,
           change.old_score, change.new_score, change.get_movement_display()]
    if v is None:
        row += [_("no village verval (the centre's own re-ranking)"), "", "", "", "", "", ""]
    else:
        approval, musdesus, entry = v.approval, v.musdesus, v.entry
        row += [f"{entry.round.batch_ref} · {entry.round.village.name}", entry.get_decision_display(),
                v.corrections_text(), musdesus.document_number if musdesus else "",
                (approval.actor.get_full_name() or approval.actor.username) if approval and approval.actor else "",
                timezone.localtime(approval.at).strftime("%d-%m-%Y %H:%M") if approval else "",
                " · ".join(filter(None, [entry.get_centre_outcome_display(), entry.centre_reason]))]
    return [neutralise_cell(str(value) if isinstance(value, Promise) else value) for value in row]


@login_required
def desil_changes_export(request, kind: str):
    """The filtered feed as a spreadsheet, the verification behind each change as text (Dinsos, administrators)."""
    if not _feed_exporter(request.user) or kind not in SPREADSHEET_TYPES:
        raise Http404
    _publications, filters = _feed_filters(request)
    if filters.publication is None:
        raise Http404
    period = filters.publication.period.isoformat()
    dataset = tablib.Dataset(headers=[
        "publikasi", "kecamatan", "desa", "nomor_kk", "kepala_keluarga", "desil_lama", "desil_baru", "skor_lama",
        "skor_baru", "perubahan", "verval", "keputusan", "koreksi", "berita_acara", "disetujui_oleh",
        "disetujui_pada", "jawaban_pusat"])
    changes = selectors.desil_changes(user=request.user, filters=filters)
    chunk = []
    for change in changes.iterator(chunk_size=FEED_EXPORT_CHUNK):
        chunk.append(change)
        if len(chunk) == FEED_EXPORT_CHUNK:
            for done in selectors.desil_change_reasons(chunk, cutoff=filters.cutoff):
                dataset.append(_feed_row(done, period))
            chunk = []
    for done in selectors.desil_change_reasons(chunk, cutoff=filters.cutoff):
        dataset.append(_feed_row(done, period))
    return spreadsheet_response(dataset, f"perubahan-desil-{period}", kind)


# -- the desil change feed ends here -------------------------------------------------------------------------
