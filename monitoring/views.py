"""Monitoring pages. Views check who may look, read through ``monitoring.selectors`` and render or export."""
import tablib
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.http import urlencode
from django.utils.translation import gettext as _

from accounts.models import Role
from dtsen_portal.spreadsheets import spreadsheet_response
from privacy.masking import mask_numbers_in_text
from privacy.services import export_response

from . import selectors

# -- the update cycle's scorecard ---------------------------------------------------------------------------


def _scorecard_staff(user) -> None:
    if not user.is_regency_staff:
        raise PermissionDenied(_("The scorecard is for Dinas Sosial staff and administrators."))


def _scorecard_read(request) -> tuple[dict, selectors.Scorecard | None]:
    """The period, regency, kecamatan and status chosen in the query string, and the scorecard they give."""
    user, today = request.user, timezone.localdate()
    periods = selectors.scorecard_periods(user=user)
    code = request.GET.get("periode", "")
    period = next((p for p in periods if p.code == code), None)
    if code and period is None:
        messages.error(request, _("There is no update period %(code)s; the current one is shown.") % {
            "code": code[:20]})
    period = period or selectors.scorecard_default_period(periods, today)
    context = {"periods": periods, "period": period, "statuses": selectors.SCORECARD_STATUSES,
               "status": request.GET.get("status", ""), "regencies": [], "today": today}
    if period is None:
        return context, None
    if user.is_administrator:
        context["regencies"] = selectors.scorecard_regencies(user=user, period=period)
    default = user.area_id if not user.is_administrator else (
        context["regencies"][0].code if context["regencies"] else "")
    regency_code = request.GET.get("kabupaten", "") or default
    if not regency_code:
        return context, None
    # Another regency than the user's answers 404, as if it did not exist.
    regency = selectors.scorecard_regency(user=user, code=regency_code)
    card = selectors.scorecard(user=user, period=period, regency=regency, kecamatan=request.GET.get("kecamatan", ""),
                               status=request.GET.get("status", ""), today=today)
    query = request.GET.copy()
    query["periode"], query["kabupaten"] = period.code, regency.code
    # The summary's counts link to the same page filtered by their status.
    unfiltered = query.copy()
    unfiltered.pop("status", None)
    context.update({"card": card, "query": query.urlencode(), "unfiltered_query": unfiltered.urlencode()})
    return context, card


@login_required
def scorecard(request):
    """Per village of a regency and update period: data awal, verval, Musdesus, sign-off, submission on time
    or late, approval and the centre's answer."""
    _scorecard_staff(request.user)
    context, _card = _scorecard_read(request)
    return render(request, "monitoring/scorecard.html", context)


def _cell(value):
    # A text a spreadsheet would read as a formula is kept as text.
    if isinstance(value, str) and value.startswith(("=", "+", "-", "@")):
        return "'" + value
    return "" if value is None else value


SCORECARD_COLUMNS = (
    "kode_kecamatan", "kecamatan", "kode_desa", "desa", "batch", "program", "status_ronde", "data_awal_diterima",
    "keluarga", "usulan", "sudah_diputuskan", "persen_verval", "musdesus", "berita_acara_ditandatangani",
    "tenggat", "dikirim_pertama", "ketepatan_waktu", "dikirim_terakhir", "dikembalikan", "disetujui",
    "status_pusat", "dikirim_ke_pusat", "dijawab_pusat", "item_diterima", "item_ditolak", "item_menunggu",
    "laporan_warga_lewat_tenggat",
)


@login_required
def scorecard_export(request, kind: str):
    """The scorecard's rows (with the same filters) as a spreadsheet."""
    _scorecard_staff(request.user)
    context, card = _scorecard_read(request)
    dataset = tablib.Dataset(headers=list(SCORECARD_COLUMNS))
    for group in card.kecamatan if card else []:
        for row in group.rows:
            dataset.append([_cell(v) for v in (
                row.kecamatan_code, group.name, row.village_code, row.village_name, row.batch_ref, row.programme,
                row.state_display if row.received else _("Data awal not received yet"), row.received_on,
                row.families if row.received else None, row.proposals if row.received else None,
                row.decided if row.received else None, row.percent if row.received else None, row.musdesus_on,
                row.signed_on, row.deadline, row.first_submitted_on, row.timeliness, row.last_submitted_on,
                row.returns or None, row.approved_on, row.centre_state_display, row.centre_sent_on,
                row.centre_answered_on, row.items_accepted if row.centre_state else None,
                row.items_rejected if row.centre_state else None, row.items_pending if row.centre_state else None,
                row.overdue_reports)])
    name = f"siklus-{context['period'].code}-{card.regency.code}" if card else "siklus"
    return spreadsheet_response(dataset, name, kind)


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
                mask_numbers_in_text(v.corrections_text()), musdesus.document_number if musdesus else "",
                (approval.actor.get_full_name() or approval.actor.username) if approval and approval.actor else "",
                timezone.localtime(approval.at).strftime("%d-%m-%Y %H:%M") if approval else "",
                " · ".join(filter(None, [entry.get_centre_outcome_display(), entry.centre_reason]))]
    # spreadsheet_response neutralises formula-like text when the file is written.
    return [str(value) if isinstance(value, Promise) else value for value in row]


@login_required
def desil_changes_export(request, kind: str):
    """The filtered feed as a spreadsheet, the verification behind each change as text (Dinsos, administrators)."""
    if not _feed_exporter(request.user):
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
    return export_response(request, dataset, f"perubahan-desil-{period}", kind, area_code=request.user.area_id)


