"""Monitoring pages. Views check who may look, read through ``monitoring.selectors`` and render or export."""
import tablib
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from dtsen_portal.spreadsheets import spreadsheet_response

from . import selectors

# -- the update cycle's scorecard ---------------------------------------------------------------------------


def _scorecard_staff(user) -> None:
    if not (user.is_administrator or user.role == Role.DINSOS):
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
)


@login_required
def scorecard_export(request, kind: str):
    """The scorecard's rows (with the same filters) as a spreadsheet."""
    _scorecard_staff(request.user)
    if kind not in ("xlsx", "csv"):
        raise Http404
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
                row.items_rejected if row.centre_state else None, row.items_pending if row.centre_state else None)])
    name = f"siklus-{context['period'].code}-{card.regency.code}" if card else "siklus"
    return spreadsheet_response(dataset, name, kind)


# -- the scorecard ends here ---------------------------------------------------------------------------------


# -- the desil change feed ----------------------------------------------------------------------------------


@login_required
def desil_changes(request):
    raise Http404  # built in the desil change feed work


@login_required
def desil_changes_export(request, kind: str):
    raise Http404  # built in the desil change feed work


# -- the desil change feed ends here -------------------------------------------------------------------------
