"""Cek Bansos (the public page where a citizen checks recipients, proposes or objects, and follows up),
the village's queue of those reports, and the regency's payments: KPM list, payment report, reconciliation,
targeting."""
import re
import secrets
from urllib.parse import urlencode

import tablib
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import BooleanField, ExpressionWrapper
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from accounts.scope import require_regency_staff, scope_queryset
from dtsen_portal.client_address import client_ip
from dtsen_portal.errors import NotInScope, ServiceError
from jobs.models import Job
from jobs.services import job_start
from privacy.services import (
    BACKGROUND_EXPORT_ROWS,
    BACKGROUND_KINDS,
    export_job_start,
    export_response,
    streamed_export_response,
)
from registry.models import Region
from registry.validators import ascii_int
from verification import selectors as verification_selectors
from verification.models import EDITABLE_STATES, VerificationRound

from . import limits, services
from .challenge import challenge_image, challenge_issue
from .forms import ChangeDecisionForm, ProgrammeRulesForm, ReportForm, ResolveForm, SearchForm, StatusForm
from .models import CitizenReport, PaymentPeriod, Programme
from .spreadsheets import kpm_filtered, kpm_rows

REGION_LEVELS = ("province", "regency", "kecamatan", "village")


def _region_choices(chosen: dict[str, str]) -> dict:
    """The province → regency → kecamatan → village pickers, filled from what was chosen so far
    (server-side, so the page works on any phone without JavaScript).

    A choice is kept only when it lies in the one above it: after the province changes, the old regency,
    kecamatan and village are dropped rather than left selected under the wrong province."""
    chosen = {level: str(chosen.get(level) or "") for level in REGION_LEVELS}
    options, parent = {}, None
    for level in REGION_LEVELS:
        if level == "province":
            regions = Region.objects.filter(level=Region.Level.PROVINCE)
        elif parent:
            regions = Region.objects.filter(parent_id=parent).order_by("name")
        else:
            options[level], chosen[level] = [], ""
            continue
        options[level] = list(regions.only("code", "name"))
        if chosen[level] not in {region.code for region in options[level]}:
            chosen[level] = ""
        parent = chosen[level]
    return {"chosen": chosen, "options": options}


def _chosen_in(query) -> dict[str, str]:
    return {level: query.get(level, "") for level in REGION_LEVELS}


def _chosen_above(village_code: str) -> dict[str, str]:
    """The whole chain down to a village from its code alone ("12.09.08.2002" lies in "12.09.08", "12.09"
    and "12"): a form that carries only the village still shows the picker as it was chosen."""
    parts = village_code.split(".")
    return dict(zip(REGION_LEVELS, (".".join(parts[:depth]) for depth in range(1, 5)), strict=False))


# A random id in a signed cookie tells the browsers behind one shared address apart, so that the limits
# (distribution.limits) count each browser on its own. It holds nothing about the person and serves only the
# service's protection against abuse; a forged or expired one is ignored and replaced.
CLIENT_COOKIE = "cekbansos"
CLIENT_COOKIE_SALT = "distribution.client"
CLIENT_COOKIE_AGE = 30 * 24 * 3600
_CLIENT_ID = re.compile(r"^[A-Za-z0-9_-]{16}$")


def _client(request) -> tuple[str, bool]:
    """(the browser's id, whether the request brought it); a browser without one gets a new id."""
    known = request.get_signed_cookie(CLIENT_COOKIE, default="", salt=CLIENT_COOKIE_SALT, max_age=CLIENT_COOKIE_AGE)
    if _CLIENT_ID.match(known):
        return known, True
    return secrets.token_urlsafe(12), False


def _remember_client(response, client: tuple[str, bool]):
    client_id, returning = client
    if not returning:
        response.set_signed_cookie(CLIENT_COOKIE, client_id, salt=CLIENT_COOKIE_SALT, max_age=CLIENT_COOKIE_AGE,
                                   httponly=True, samesite="Lax", secure=settings.SESSION_COOKIE_SECURE)
    return response


STATUS_FOR = {limits.TooManyRequests: 429, limits.LimitsUnavailable: 503}


def _challenge_context(request, exc: ServiceError | None, form) -> dict:
    """A fresh picture when one is asked for; the solved one carried on while it is still good."""
    if isinstance(exc, limits.ChallengeRequired):
        return {"challenge": challenge_issue(ip=client_ip(request)), "challenge_answer": ""}
    if exc is None and form.is_bound and form.is_valid() and form.cleaned_data.get("challenge"):
        return {"challenge_passed": form.cleaned_data["challenge"], "challenge_answer": form.cleaned_data["answer"]}
    return {}


def cek_bansos(request):
    chosen = _chosen_in(request.GET)
    if chosen["village"] and not chosen["province"]:
        chosen = _chosen_above(chosen["village"])  # a link that names only the village
    context = _region_choices(chosen)
    village = context["chosen"]["village"]
    client = _client(request)
    results, searched, status, problem = [], False, 200, None
    fields = ("name", "nik", "website", "challenge", "answer")
    search = SearchForm({"village": village, **{f: request.GET.get(f, "") for f in fields}}) \
        if "name" in request.GET else SearchForm()
    if search.is_bound and search.is_valid():
        data = search.cleaned_data
        try:
            results = services.cek_bansos(village_code=village, name=data["name"], nik=data["nik"],
                                          ip=client_ip(request), client=client[0], returning=client[1],
                                          challenge=data["challenge"], answer=data["answer"])
            searched = True
        except ServiceError as exc:
            problem = exc
            search.add_error(None, exc.message)
            status = STATUS_FOR.get(type(exc), 200)
    context.update({"search": search, "results": results, "searched": searched,
                    "report_form": ReportForm(initial={"village": village}), "status_form": StatusForm(),
                    **_challenge_context(request, problem, search)})
    return _remember_client(render(request, "distribution/cek_bansos.html", context, status=status), client)


@require_POST
def report_submit(request):
    form = ReportForm(request.POST, request.FILES)
    status, problem = 400, None
    if form.is_valid():
        data = {k: v for k, v in form.cleaned_data.items() if k not in ("website", "village")}
        try:
            report = services.report_submit(village_code=form.cleaned_data["village"], ip=client_ip(request), **data)
        except ServiceError as exc:
            problem = exc
            for field, errors in exc.field_errors.items():
                for error in errors:
                    form.add_error(field, error)
            if not exc.field_errors:
                form.add_error(None, exc.message)
            status = STATUS_FOR.get(type(exc), 400)
        else:
            return redirect(f"{reverse('cek-bansos-status')}?reference={report.reference}&baru=1")
    # The form carries only the village: the picker above it is rebuilt from the village's code, so a refused
    # report comes back with the village still chosen and the citizen's text beside its errors.
    context = _region_choices(_chosen_above(request.POST.get("village", ""))) | {
        "report_form": form, "search": SearchForm(), "status_form": StatusForm()}
    if isinstance(problem, limits.ChallengeRequired):
        context["report_challenge"] = challenge_issue(ip=client_ip(request))
    return _remember_client(render(request, "distribution/cek_bansos.html", context, status=status),
                            _client(request))


def challenge_picture(request):
    """The picture of a challenge, drawn here; a forged or expired token has none."""
    picture = challenge_image(request.GET.get("challenge", ""))
    if picture is None:
        raise Http404
    response = HttpResponse(picture, content_type="image/png")
    response["Cache-Control"] = "no-store"
    return response


def report_status(request):
    form = StatusForm(request.GET or None)
    report = None
    if form.is_bound and form.is_valid():
        reference = form.cleaned_data["reference"].upper()
        reference = reference if "-" in reference else f"{reference[:2]}-{reference[2:]}"
        report = services.report_status(reference)
        if report is None:
            form.add_error("reference", _("No report with this reference number."))
    return render(request, "distribution/report_status.html", {
        "form": form, "report": report, "progress": services.report_progress(report) if report else "",
        "new": request.GET.get("baru") == "1"})


@login_required
def report_queue(request):
    # Overdue reports first: they have escalated to Dinsos, who may now resolve them, and the village is late.
    reports = scope_queryset(request.user, CitizenReport.objects.select_related("village", "family", "entry__family")) \
        .annotate(overdue=ExpressionWrapper(services.overdue_q(), output_field=BooleanField())) \
        .order_by("-overdue", "status", "-created_at").select_related("assignment__facilitator")[:200]
    reports = list(reports)
    # The open round of each village with an accepted usulan still to enter: where "Enter as usulan" leads.
    waiting = {r.village_id for r in reports if r.kind == CitizenReport.Kind.PROPOSAL and r.status == "accepted"
               and not r.entry_id}
    open_rounds = dict(VerificationRound.objects.filter(village_id__in=waiting, state__in=EDITABLE_STATES)
                       .order_by("village_id", "created_at").values_list("village_id", "pk")) if waiting else {}
    histories = services.report_histories(reports)
    for r in reports:
        r.open_round_id = open_rounds.get(r.village_id)
        r.riwayat = histories.get(r.pk, [])
    return render(request, "distribution/report_queue.html", {
        "reports": reports, "open_proposals": verification_selectors.open_proposals(user=request.user)})


@login_required
@require_POST
def report_resolve(request, pk: int):
    accept = request.POST.get("action") == "accept"
    form = ResolveForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("report-queue")
    try:
        services.report_resolve(actor=request.user, report_id=pk, accept=accept,
                                resolution=form.cleaned_data["resolution"], kk_number=form.cleaned_data["kk_number"])
    except (NotInScope, CitizenReport.DoesNotExist):
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("Report resolved; the citizen can see the outcome with the reference number."))
    return redirect("report-queue")


@login_required
@require_POST
def report_link_proposal(request, pk: int):
    entry_id = request.POST.get("entry", "")
    try:
        services.report_link_proposal(actor=request.user, report_id=pk,
                                      entry_id=ascii_int(entry_id) or 0)
    except (NotInScope, CitizenReport.DoesNotExist):
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The citizen's usulan is tied to the usulan in the verval; it goes to the "
                                    "centre with the round."))
    return redirect("report-queue")


def _change_action(request, back: str):
    """Confirm, reject or withdraw a change waiting for a second account (the services check who may)."""
    form = ChangeDecisionForm(request.POST)
    if not form.is_valid():
        note_errors = form.errors.get("note")
        messages.error(request, note_errors[0] if note_errors else _("Not found."))
        return redirect(back)
    action, change_id, note = (form.cleaned_data[k] for k in ("action", "change", "note"))
    try:
        if action == "confirm":
            change = services.change_confirm(actor=request.user, change_id=change_id, return_url=back)
            if change.job_id:
                return redirect("job-detail", change.job_id)
            messages.success(request, _("Confirmed; the change applies from now on."))
        elif action == "reject":
            services.change_reject(actor=request.user, change_id=change_id, note=note)
            messages.success(request, _("Rejected; nothing of it was applied."))
        else:
            services.change_withdraw(actor=request.user, change_id=change_id)
            messages.success(request, _("Withdrawn; nothing of it was applied."))
    except NotInScope:
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
    return redirect(back)


CHANGE_ACTIONS = ("confirm", "reject", "withdraw")


@login_required
def payments(request):
    """KPM list, payment report import and reconciliation for one payment period. A checked payment report
    waits for a second Dinsos or administrator account to confirm it before a worker applies it."""
    require_regency_staff(request.user)
    periods = list(PaymentPeriod.objects.select_related("programme"))
    period = next((p for p in periods if str(p.pk) == request.GET.get("period", "")), periods[0] if periods else None)
    rows, problem = [], ""
    if request.method == "POST" and period:
        back = f"{reverse('payments')}?period={period.pk}"
        action = request.POST.get("action")
        if action == "build":
            # A regency's list is hundreds of thousands of rows: built by a worker, followed on the job's page.
            job = job_start(actor=request.user, kind=Job.Kind.KPM_BUILD, target=f"period:{period.pk}",
                            params={"period_id": period.pk}, return_url=back)
            return redirect("job-detail", job.pk)
        if action in CHANGE_ACTIONS:
            return _change_action(request, back)
        upload = request.FILES.get("file")
        if upload is None:
            problem = _("Choose a file.")
        else:
            rows, problem = services.payment_report_read(actor=request.user, period_id=period.pk,
                                                         content=upload.read(), filename=upload.name)
            if rows and not any(r["errors"] for r in rows):
                try:
                    services.payment_report_prepare(actor=request.user, period_id=period.pk, rows=rows)
                except ServiceError as exc:
                    problem = exc.message
                else:
                    messages.success(request, _("The report is checked and kept; it waits for a second Dinsos or "
                                                "administrator account to confirm it before it is applied."))
    report = services.reconciliation(user=request.user, period_id=period.pk) if period else None
    top = max([r["planned"] for r in report["kecamatan"]] + [1]) if report else 1
    changes = services.payment_reports_of(user=request.user, period_id=period.pk) if period else []
    return render(request, "distribution/payments.html", {
        "periods": periods, "period": period, "report": report, "top": top, "rows": rows, "problem": problem,
        "has_errors": any(r["errors"] for r in rows), "changes": changes})


@login_required
def programme_rules(request):
    """Programmes and their rules; a change of rules is proposed here and applies once a second administrator
    confirms it. Each programme shows its history of rules."""
    require_regency_staff(request.user)
    back = reverse("programme-rules")
    bound = None
    if request.method == "POST":
        if request.POST.get("action") in CHANGE_ACTIONS:
            return _change_action(request, back)
        bound = ProgrammeRulesForm(request.POST)
        if bound.is_valid():
            try:
                services.programme_change_prepare(actor=request.user, **bound.cleaned_data)
            except NotInScope:
                raise Http404 from None
            except ServiceError as exc:
                bound.add_error(None, exc.message)
            else:
                messages.success(request, _("The new rules wait for a second administrator to confirm them."))
                return redirect(back)
    items = services.programme_rules_overview(user=request.user)
    for item in items:
        programme = item["programme"]
        if bound is not None and bound.data.get("programme_code") == programme.code:
            item["form"] = bound
        else:
            item["form"] = ProgrammeRulesForm(initial={
                "programme_code": programme.code, "max_desil": programme.max_desil,
                "monthly_amount": programme.monthly_amount, "active": programme.active},
                auto_id=f"id_{programme.code}_%s")
    return render(request, "distribution/programme_rules.html", {
        "items": items, "can_propose": request.user.is_administrator})


KPM_PER_PAGE = 50


@login_required
def kpm_list(request):
    """A payment period's KPM list: filtered by area, payment status and name or KK, paged; its exports
    take the same filters."""
    require_regency_staff(request.user)
    periods = list(PaymentPeriod.objects.select_related("programme"))
    period = next((p for p in periods if str(p.pk) == request.GET.get("period", "")), periods[0] if periods else None)
    context = {"periods": periods, "period": period}
    if period:
        kpm_filter = kpm_filtered(user=request.user, period=period, data=request.GET)
        entries = kpm_filter.qs.select_related("family__village__parent")
        page = Paginator(entries, KPM_PER_PAGE).get_page(request.GET.get("page"))
        histories = services.payment_histories(page.object_list)
        for payment in page.object_list:
            payment.riwayat = histories.get(payment.pk, [])
        query = request.GET.copy()
        query.pop("page", None)
        context.update(filter=kpm_filter, page=page, query=query.urlencode(), filtered=bool(kpm_filter.chosen()),
                       export_query=urlencode({"period": period.pk, **kpm_filter.chosen()}))
    return render(request, "distribution/kpm_list.html", context)


@login_required
def kpm_export(request, kind: str):
    """The KPM list of a payment period (``?period=``) in the user's area, every family with its payment.

    CSV streams. Excel streams too while the list is small; a larger one is written by a worker when asked
    by POST (the page offers the button), as the approved list is."""
    require_regency_staff(request.user)
    period_id = ascii_int(request.GET.get("period", ""))
    period = PaymentPeriod.objects.filter(pk=period_id).first() if period_id else None
    if period is None:
        raise Http404(_("Not found."))
    kpm_filter = kpm_filtered(user=request.user, period=period, data=request.GET)
    if not kpm_filter.is_valid():  # the list's own links carry valid filters only: this URL was edited
        return HttpResponseBadRequest(" ".join(e for errors in kpm_filter.errors.values() for e in errors),
                                      content_type="text/plain; charset=utf-8")
    filters = {"period": period.pk, **kpm_filter.chosen()}
    if kind in BACKGROUND_KINDS and request.method == "POST":
        job = export_job_start(request, name="daftar-kpm", kind=kind, area_code=request.user.area_id,
                               filters=filters)
        return redirect("export-job", job.pk)
    entries = kpm_filter.qs
    if kind in BACKGROUND_KINDS and entries.count() > BACKGROUND_EXPORT_ROWS:
        return render(request, "privacy/export_start.html", {"action": request.get_full_path()})
    headers, rows = kpm_rows(entries)
    return streamed_export_response(request, headers, rows, f"daftar-kpm-{period.pk}", kind,
                                    area_code=request.user.area_id, filters=filters)


@login_required
def targeting(request):
    require_regency_staff(request.user)
    code = request.GET.get("programme", "BLTS-KESRA")
    try:
        result = services.targeting(user=request.user, programme_code=code)
    except Programme.DoesNotExist:
        raise Http404 from None
    if request.GET.get("format") == "csv":
        dataset = tablib.Dataset(headers=["jenis", "nomor_kk", "desa", "desil", "keputusan_desa"])
        for kind, families in (("inklusi", result["inclusion"]), ("eksklusi", result["exclusion"])):
            for f in families:
                dataset.append([kind, f.kk_number, f.village.name, f.desil or "", f.last_decision or ""])
        return export_response(request, dataset, f"ketepatan-sasaran-{code}", "csv", area_code=request.user.area_id)
    return render(request, "distribution/targeting.html", {**result, "programmes": Programme.objects.all()})
