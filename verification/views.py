"""Village verification pages: rounds, the family list of a round, one family's verval, proposals, the
Musdesus and submission. Views read through selectors, validate with forms and change state through
``verification.services`` only."""
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from central import selectors as central_selectors
from dtsen_portal.errors import Conflict, NotInScope, ServiceError
from dtsen_portal.formats import number
from groundcheck import selectors as groundcheck_selectors
from groundcheck import services as groundcheck_services
from jobs.models import Job
from jobs.services import job_start
from privacy.masking import Context, can_see_full_nik
from privacy.services import (
    BACKGROUND_EXPORT_ROWS,
    BACKGROUND_KINDS,
    export_job_start,
    record_export,
    record_view,
    streamed_export_response,
)
from registry import selectors as registry_selectors
from registry.validators import ascii_int

from . import selectors, services
from .berita_acara import render_berita_acara
from .documents import berita_acara_data, letterhead_lines
from .filters import EntryFilter, RoundFilter
from .forms import (
    AttendeeFormSet,
    BulkDecisionForm,
    DecisionForm,
    FamilyCorrectionForm,
    GroundcheckRequestForm,
    LetterheadForm,
    MemberAddForm,
    MemberChangeForm,
    MusdesusForm,
    ProposalFamilyForm,
    ProposalMemberFormSet,
    ReturnForm,
    ScanForm,
)
from .models import APPROVED_STATES, Musdesus, RoundFamily, RoundState, VillageLetterhead
from .spreadsheets import entry_sheet, only_changes, read_decisions

ENTRIES_PER_PAGE = 25
ROUNDS_PER_PAGE = 100  # a regency has up to ~1,500 villages: rendering every round would dominate the page


def _attempt(request, call, success: str):
    """Run a service call; a refusal becomes a message on the page, an object outside the area a 404."""
    try:
        result = call()
    except NotInScope:
        raise Http404 from None
    except ServiceError as exc:
        messages.error(request, exc.message)
        return None
    messages.success(request, success)
    return result if result is not None else True


def _note_pending_delivery(request, approval: services.Approval) -> None:
    if not approval.delivery_queued:
        messages.warning(request, _("Delivery to the centre is pending: the queue service is not reachable. The "
                                    "approval is saved and will be sent automatically when the service is back."))


def _can_edit(user, round_) -> bool:
    return round_.is_editable and (user.is_administrator or user.role in services.VILLAGE_ROLES)


@login_required
def round_list(request):
    round_filter = RoundFilter(request.GET, queryset=selectors.round_list(user=request.user),
                               kecamatan_choices=registry_selectors.kecamatan_choices(user=request.user))
    page = Paginator(round_filter.qs, ROUNDS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "verification/round_list.html", {
        "rounds": page.object_list, "page": page, "query": query.urlencode(), "filter": round_filter,
        "filtered": any(round_filter.form.cleaned_data.values()),
        "regency_staff": request.user.is_regency_staff})


@login_required
def round_detail(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    entry_filter = EntryFilter(request.GET, queryset=selectors.round_entries(round_=round_))
    page = selectors.entries_page(entry_filter.qs, request.GET.get("page"), ENTRIES_PER_PAGE)
    query = request.GET.copy()
    query.pop("page", None)
    return render(request, "verification/round_detail.html", {
        "round": round_, "filter": entry_filter, "page": page, "query": query.urlencode(),
        "progress": services.round_progress(round_), "can_edit": _can_edit(request.user, round_),
        "bulk_form": BulkDecisionForm(prefix="bulk"), "events": selectors.round_events(round_)[:10],
        "musdesus": Musdesus.objects.filter(round=round_).first(),
        # Once approved, the list says what the centre did with each family and usulan.
        "show_centre": round_.state in APPROVED_STATES or any(e.centre_outcome for e in page.object_list),
    })


@login_required
@require_POST
def round_bulk(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    form = BulkDecisionForm(request.POST, prefix="bulk")
    versions = {}
    for key in request.POST.getlist("entry"):
        entry_id, _sep, version = key.partition(":")
        if ascii_int(entry_id) is not None and ascii_int(version) is not None:
            versions[ascii_int(entry_id)] = ascii_int(version)
    if not versions:
        messages.error(request, _("Select at least one family."))
    elif not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    elif request.POST.get("confirm") != "1":
        # First the selection's desil spread, to be confirmed: a bulk "layak" over well-off families is the
        # costly mistake, and nothing is saved until the operator says yes.
        decision = form.cleaned_data["decision"]
        preview = selectors.bulk_preview(round_=round_, entry_ids=list(versions), decision=decision)
        return render(request, "verification/bulk_confirm.html", {
            "round": round_, "entries": request.POST.getlist("entry"), "next": _safe_next(request) or "",
            "decision": decision, "decision_label": RoundFamily.Decision(decision).label,
            "reason": form.cleaned_data["reason"], "spread": preview.spread, "count": len(versions),
            "well_off": preview.well_off})
    else:
        _attempt(request, lambda: services.entries_decide_bulk(
            actor=request.user, round_id=round_.pk, versions=versions, decision=form.cleaned_data["decision"],
            reason=form.cleaned_data["reason"]), _("%(n)s families decided.") % {"n": number(len(versions))})
    return redirect(_safe_next(request) or reverse("round-detail", args=[round_.pk]))


def _safe_next(request) -> str | None:
    """The page to return to, if it is on this site (anything else would make the portal an open redirect)."""
    target = request.POST.get("next", "")
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}, require_https=request.is_secure()):
        return target
    return None


@login_required
def entry_detail(request, pk: int, entry_pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    entry = selectors.entry_get(round_=round_, pk=entry_pk)
    family = registry_selectors.family_get(user=request.user, pk=entry.family_id)
    forms = {
        "decision_form": DecisionForm(initial={"decision": entry.decision, "reason": entry.reason,
                                               "note": entry.note, "version": entry.version}),
        "correction_form": FamilyCorrectionForm(instance=family, initial={"version": entry.version}),
        "member_add_form": MemberAddForm(initial={"version": entry.version}, prefix="new"),
    }
    if request.method == "POST":
        action = request.POST.get("action")
        handler = {"decide": _post_decision, "correct": _post_correction, "member": _post_member,
                   "member_add": _post_member_add}.get(action)
        if handler is None:
            raise Http404
        done, bound = handler(request, round_, entry, family)
        if done:
            return redirect(_next_url(request, round_, entry))
        forms.update(bound)
        entry.refresh_from_db()
        family = registry_selectors.family_get(user=request.user, pk=entry.family_id)
    member_forms = [(m, MemberChangeForm(instance=m, prefix=f"m{m.pk}",
                                         initial={"version": entry.version}))
                    for m in family.members.all()]
    full_nik = can_see_full_nik(request.user, Context.DETAIL)
    if full_nik:
        record_view(request, object_type="verval_entry", object_id=entry.pk, area_code=family.village_id,
                    people=len(member_forms))
    return render(request, "verification/entry_detail.html", {
        "round": round_, "entry": entry, "family": family, "member_forms": member_forms,
        "can_edit": _can_edit(request.user, round_), "corrections": selectors.entry_corrections(entry),
        "earlier": selectors.earlier_decisions(entry), "full_nik": full_nik,
        "decision_history": selectors.entry_decision_history(entry),
        "audit_trail": registry_selectors.family_audit_trail(family, full_nik=full_nik),
        "visits": groundcheck_selectors.visits_of_entry(entry),
        **forms,
    })


def _next_url(request, round_, entry) -> str:
    # "Save and next" walks the undecided families in list order; otherwise stay on the family.
    if request.POST.get("then") == "next":
        following = selectors.round_entries(round_=round_).filter(decision="").exclude(pk=entry.pk) \
            .order_by("family__dusun", "family__kk_number").values_list("pk", flat=True).first()
        if following:
            return reverse("round-entry", args=[round_.pk, following])
        return reverse("round-detail", args=[round_.pk])
    return reverse("round-entry", args=[round_.pk, entry.pk])


def _conflict(request, form, exc, entry_version: int):
    # Keep what the user typed, show why it was not saved, and let a second save go through on purpose.
    data = form.data.copy()
    data[form.add_prefix("version")] = entry_version
    form.data = data
    form.add_error(None, exc.message)
    messages.error(request, exc.message)


def _post_decision(request, round_, entry, family):
    form = DecisionForm(request.POST, request.FILES)
    if not form.is_valid():
        return False, {"decision_form": form}
    data = form.cleaned_data
    try:
        services.entry_decide(actor=request.user, round_id=round_.pk, entry_id=entry.pk, decision=data["decision"],
                              reason=data["reason"], note=data["note"], expected_version=data["version"],
                              evidence=data["evidence"] or None)
    except NotInScope:
        raise Http404 from None
    except Conflict as exc:
        entry.refresh_from_db()
        _conflict(request, form, exc, entry.version)
        return False, {"decision_form": form}
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return False, {"decision_form": form}
    messages.success(request, _("Decision saved for KK %(kk)s.") % {"kk": family.kk_number})
    return True, {}


def _post_correction(request, round_, entry, family):
    original = {f: getattr(family, f) for f in FamilyCorrectionForm._meta.fields}
    form = FamilyCorrectionForm(request.POST, instance=family)
    if not form.is_valid():
        return False, {"correction_form": form}
    changes = {f: form.cleaned_data[f] for f in FamilyCorrectionForm._meta.fields
               if form.cleaned_data[f] != original[f]}
    try:
        count = services.family_correct(actor=request.user, round_id=round_.pk, entry_id=entry.pk,
                                        changes=changes, expected_version=form.cleaned_data["version"])
    except NotInScope:
        raise Http404 from None
    except Conflict as exc:
        entry.refresh_from_db()
        _conflict(request, form, exc, entry.version)
        return False, {"correction_form": form}
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return False, {"correction_form": form}
    messages.success(request, _("%(n)s corrections saved.") % {"n": number(count)} if count
                     else _("Nothing was changed."))
    return True, {}


def _post_member(request, round_, entry, family):
    member_id = request.POST.get("member_id", "")
    member = family.members.filter(pk=ascii_int(member_id)).first() if ascii_int(member_id) else None
    if member is None:
        raise Http404
    original = {f: getattr(member, f) for f in services.MEMBER_CORRECTABLE}
    form = MemberChangeForm(request.POST, instance=member, prefix=f"m{member.pk}")
    if not form.is_valid():
        messages.error(request, _("The change to %(name)s was not saved; see the form.") % {"name": original["name"]})
        return False, {}
    changes = {f: form.cleaned_data[f] for f in services.MEMBER_CORRECTABLE if form.cleaned_data[f] != original[f]}
    ok = _attempt(request, lambda: services.member_update(
        actor=request.user, round_id=round_.pk, entry_id=entry.pk, member_id=member.pk, changes=changes,
        expected_version=form.cleaned_data["version"]), _("Member %(name)s updated.") % {"name": original["name"]})
    return bool(ok), {}


def _post_member_add(request, round_, entry, family):
    form = MemberAddForm(request.POST, prefix="new")
    if not form.is_valid():
        return False, {"member_add_form": form}
    data = {f: form.cleaned_data[f] for f in services.MEMBER_CORRECTABLE}
    try:
        services.member_add(actor=request.user, round_id=round_.pk, entry_id=entry.pk, data=data,
                            expected_version=form.cleaned_data["version"])
    except NotInScope:
        raise Http404 from None
    except ServiceError as exc:
        form.add_error(None, exc.message)
        return False, {"member_add_form": form}
    except ValidationError as exc:  # from the model: a NIK already in use, say
        form.add_error(None, exc)
        return False, {"member_add_form": form}
    messages.success(request, _("%(name)s added to the family card.") % {"name": data["name"]})
    return True, {}


@login_required
def proposal_create(request, pk: int):
    from distribution import services as reports

    round_ = selectors.round_get(user=request.user, pk=pk)
    # ?laporan=<id>: entering an accepted citizen's usulan, prefilled from it and tied to it once saved.
    report_id = ascii_int((request.POST or request.GET).get("laporan", "")) or None
    report = None
    if report_id:
        try:
            report = reports.report_for_proposal(actor=request.user, report_id=report_id)
        except NotInScope:
            raise Http404 from None
        except ServiceError as exc:
            messages.error(request, exc.message)
            return redirect("report-queue")
    family_initial, member_initial = reports.report_proposal_initial(report) if report else (None, None)
    family_form = ProposalFamilyForm(request.POST or None, initial=family_initial)
    members = ProposalMemberFormSet(request.POST or None, prefix="members", initial=member_initial)
    candidates, blocking = [], False
    if request.method == "POST" and family_form.is_valid() and members.is_valid():
        member_data = [f.cleaned_data for f in members.forms if f.cleaned_data and not f.cleaned_data.get("DELETE")]
        try:
            common = {"actor": request.user, "round_id": round_.pk, "family_data": family_form.cleaned_data,
                      "members": member_data, "confirm_duplicates": request.POST.get("confirm_duplicates") == "1"}
            entry = reports.report_proposal_create(report_id=report.pk, **common) if report \
                else services.proposal_create(**common)
        except NotInScope:
            raise Http404 from None
        except services.PossibleDuplicates as exc:
            candidates, blocking = exc.candidates, exc.blocking
            messages.error(request, exc.message)
        except ServiceError as exc:
            messages.error(request, exc.message)
        except ValidationError as exc:  # from the model: a NIK already in use, say
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, _("Proposal for KK %(kk)s added to the round.") % {
                "kk": entry.family.kk_number})
            return redirect("round-entry", round_.pk, entry.pk)
    return render(request, "verification/proposal_form.html", {
        "round": round_, "family_form": family_form, "members": members, "candidates": candidates, "report": report,
        "blocking": blocking, "can_edit": _can_edit(request.user, round_),
    })


@login_required
def musdesus(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    record = Musdesus.objects.filter(round=round_).prefetch_related("attendees").first()
    form = MusdesusForm(request.POST or None, instance=record)
    if request.method == "POST":
        # No initial when bound: rows equal to the stored attendees would count as unchanged (empty), and a
        # page saved again (back button, second tab) would be refused for having no attendee.
        attendees = AttendeeFormSet(request.POST, prefix="att")
    else:
        attendees = AttendeeFormSet(prefix="att", initial=[
            {"name": a.name, "role": a.role, "count": a.count} for a in record.attendees.all()] if record else None)
    if request.method == "POST" and form.is_valid() and attendees.is_valid():
        rows = [f.cleaned_data for f in attendees.forms if f.cleaned_data]
        done = _attempt(request, lambda: services.musdesus_record(
            actor=request.user, round_id=round_.pk, attendees=rows, **form.cleaned_data),
            _("Musdesus recorded. The village head can now sign off the berita acara."))
        if done:
            return redirect("round-musdesus", round_.pk)
    return render(request, "verification/musdesus.html", {
        "round": round_, "form": form, "attendees": attendees, "record": record,
        "progress": services.round_progress(round_), "scan_form": ScanForm(),
        "can_record": round_.state in (RoundState.IN_VERIFICATION, RoundState.MUSDESUS_HELD, RoundState.OPEN)
        and not (record and record.signed_off_at),
    })


@login_required
@require_POST
def musdesus_sign(request, pk: int):
    """The kades signs off the berita acara: first a page of what is being signed (the Musdesus, the decisions
    it ratifies, the PDF), then the signature itself on a second, explicit confirmation."""
    round_ = selectors.round_get(user=request.user, pk=pk)
    if request.POST.get("confirm") != "1":
        record = Musdesus.objects.filter(round=round_).first()
        if record is None or record.signed_off_at:
            return redirect("round-musdesus", round_.pk)
        progress = services.round_progress(round_)
        decisions = [(label, progress["by_decision"].get(value, 0)) for value, label in RoundFamily.Decision.choices]
        return render(request, "verification/musdesus_sign_confirm.html", {
            "round": round_, "record": record, "progress": progress, "decisions": decisions})
    _attempt(request, lambda: services.musdesus_sign_off(actor=request.user, round_id=round_.pk),
             _("Berita acara signed off."))
    return redirect("round-musdesus", round_.pk)


@login_required
@require_POST
def musdesus_scan(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    form = ScanForm(request.POST, request.FILES)
    if form.is_valid():
        _attempt(request, lambda: services.musdesus_upload_scan(actor=request.user, round_id=round_.pk,
                                                                scan=form.cleaned_data["scan"]),
                 _("Scan of the signed berita acara saved."))
    else:
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
    return redirect("round-musdesus", round_.pk)


@login_required
@require_POST
def musdesus_reopen(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    _attempt(request, lambda: services.musdesus_reopen(actor=request.user, round_id=round_.pk),
             _("The round is open for changes again; the Musdesus must be recorded and signed again."))
    return redirect("round-detail", round_.pk)


@login_required
def letterhead(request, pk: int):
    """The village's letterhead for its berita acara, reached from the round's Musdesus page."""
    round_ = selectors.round_get(user=request.user, pk=pk)
    current = VillageLetterhead.objects.select_related("updated_by").filter(village_id=round_.village_id).first()
    can_edit = request.user.is_administrator or request.user.role in services.VILLAGE_ROLES + services.HEAD_ROLES
    initial = {"address": current.address, "phone": current.phone, "email": current.email} if current else {}
    form = LetterheadForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():  # the service refuses a role that may not edit
        data = form.cleaned_data
        logo = {"logo": data["logo"]} if data["logo"] else {"logo": None} if data["remove_logo"] else {}
        done = _attempt(request, lambda: services.letterhead_save(
            actor=request.user, village_code=round_.village_id, address=data["address"], phone=data["phone"],
            email=data["email"], **logo), _("Letterhead saved; the berita acara now carries it."))
        if done:
            return redirect("round-letterhead", round_.pk)
    names, details = letterhead_lines(round_.village, current)
    return render(request, "verification/letterhead.html", {
        "round": round_, "form": form, "letterhead": current, "can_edit": can_edit, "names": names,
        "details": details})


@login_required
@require_POST
def round_submit(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    _attempt(request, lambda: services.round_submit(actor=request.user, round_id=round_.pk),
             _("The round was submitted to the regency's Dinas Sosial."))
    return redirect("round-detail", round_.pk)


@login_required
def berita_acara_pdf(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    record = Musdesus.objects.filter(round=round_).prefetch_related("attendees").first()
    if record is None:
        raise Http404
    data = berita_acara_data(round_, record)
    pdf = render_berita_acara(data)
    # The minutes name the attendees and, in the attached list, every family's head: personal data.
    record_export(request, export_name=f"berita-acara-{record.document_number}.pdf", area_code=round_.village_id,
                  rows=len(data.decisions), filters={"round": round_.pk})
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{record.document_number}.pdf"'
    return response


@login_required
def round_review(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    if not request.user.is_regency_staff:
        raise Http404
    if request.method == "POST":
        if request.POST.get("action") == "approve":
            approval = _attempt(request, lambda: services.round_approve(actor=request.user, round_id=round_.pk),
                                _("Round approved; its results are being sent to the centre."))
            if approval:
                _note_pending_delivery(request, approval)
                # The push runs in the background: its page follows it to the centre's receipt.
                submission_id = central_selectors.round_latest_submission_id(user=request.user, round_id=round_.pk)
                return redirect("sync-submission", submission_id) if submission_id else redirect("round-list")
        elif request.POST.get("action") in ("return", "recheck"):
            form = ReturnForm(request.POST, entry_ids=[
                ascii_int(key.removeprefix("family_note_")) for key in request.POST
                if key.startswith("family_note_") and ascii_int(key.removeprefix("family_note_"))])
            verb = services.round_return if request.POST["action"] == "return" else services.round_recheck
            if not form.is_valid():
                messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
            elif _attempt(request, lambda: verb(actor=request.user, round_id=round_.pk,
                                                note=form.cleaned_data["note"], family_notes=form.family_notes()),
                          _("Round returned to the village with your notes.")):
                return redirect("round-list")
        return redirect("round-review", round_.pk)
    corrections, not_eligible, proposals = selectors.review_changes(round_)
    return render(request, "verification/round_review.html", {
        "round": round_, "progress": services.round_progress(round_), "corrections": corrections,
        "not_eligible": not_eligible, "proposals": proposals,
        "disagreements": selectors.review_disagreements(round_),
        "musdesus": Musdesus.objects.filter(round=round_).prefetch_related("attendees").first(),
        "can_decide": round_.state == RoundState.SUBMITTED,
        "can_recheck": services.round_can_recheck(round_),
    })


@login_required
@require_POST
def rounds_bulk_approve(request):
    if not request.user.is_regency_staff:
        raise Http404
    ids = [ascii_int(v) for v in request.POST.getlist("round") if ascii_int(v)]
    # Only rounds the user can see; anything else is treated as not found.
    visible = set(selectors.round_list(user=request.user).filter(pk__in=ids).values_list("pk", flat=True))
    if not ids:
        messages.error(request, _("Select at least one round."))
    elif visible != set(ids):
        raise Http404
    else:
        approval = _attempt(request, lambda: services.rounds_approve(actor=request.user, round_ids=ids),
                            _("%(n)s rounds approved; their results are being sent to the centre.")
                            % {"n": number(len(ids))})
        if approval:
            _note_pending_delivery(request, approval)
            return redirect("sync-overview")  # where the pushes just queued are followed to the centre
    return redirect("round-list")


@login_required
@require_POST
def entry_request_groundcheck(request, pk: int, entry_pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    entry = selectors.entry_get(round_=round_, pk=entry_pk)
    form = GroundcheckRequestForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(e for errors in form.errors.values() for e in errors))
        return redirect("round-entry", round_.pk, entry.pk)
    _attempt(request, lambda: groundcheck_services.assignment_request_by_village(
        actor=request.user, entry_id=entry.pk, note=form.cleaned_data["note"]),
        _("A ground-check was requested; the kecamatan's facilitator will visit the family."))
    return redirect("round-entry", round_.pk, entry.pk)


@login_required
def round_export(request, pk: int, kind: str):
    round_ = selectors.round_get(user=request.user, pk=pk)
    entries = selectors.round_entries(round_=round_) \
        .order_by("family__dusun", "family__rw", "family__rt", "family__kk_number")
    headers, rows = entry_sheet(entries)
    return streamed_export_response(request, headers, rows, f"verval-{round_.village_id}-{round_.batch_ref}", kind,
                                    area_code=round_.village_id, filters={"round": round_.pk})


@login_required
def approved_export(request, kind: str):
    """The approved list: families the regency approved as eligible, across the user's area.

    CSV streams. Excel is written by a worker when asked by POST (the list page's button), or when a GET finds
    more rows than a web worker can write in time (the page then offers the button)."""
    if not request.user.is_regency_staff:
        raise Http404
    entries = selectors.approved_entries(user=request.user)
    if kind in BACKGROUND_KINDS:
        if request.method == "POST":
            job = export_job_start(request, name="daftar-disetujui", kind=kind, area_code=request.user.area_id,
                                   filters={})
            return redirect("export-job", job.pk)
        if entries.count() > BACKGROUND_EXPORT_ROWS:
            return render(request, "privacy/export_start.html", {"action": request.path})
    headers, rows = entry_sheet(entries)
    return streamed_export_response(request, headers, rows, "daftar-disetujui", kind, area_code=request.user.area_id)


@login_required
def round_import(request, pk: int):
    round_ = selectors.round_get(user=request.user, pk=pk)
    session_key = f"round-import-{round_.pk}"
    rows, problem, unchanged = [], "", 0
    if request.method == "POST" and request.POST.get("confirm") == "1":
        pending = request.session.pop(session_key, None)
        if not pending:
            messages.error(request, _("Upload the file again; the checked rows were not kept."))
        else:
            # Thousands of rows checked against the round under its lock: done by a worker, not in the request.
            job = job_start(actor=request.user, kind=Job.Kind.DECISION_IMPORT, target=f"round:{round_.pk}",
                            params={"round_id": round_.pk, "rows": pending},
                            return_url=reverse("round-detail", args=[round_.pk]))
            return redirect("job-detail", job.pk)
    elif request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            problem = _("Choose a file.")
        else:
            entries = list(round_.entries.values_list("family__kk_number", "version", "decision", "reason", "note"))
            rows, problem = read_decisions(upload.read(), upload.name,
                                           known_kk={kk: version for kk, version, *_rest in entries})
            rows, unchanged = only_changes(rows, current={kk: tuple(rest) for kk, _version, *rest in entries})
            if unchanged and not rows:
                problem = _("Every row of the file is as the round already has it: nothing to import.")
            if rows and not any(r.errors for r in rows):
                request.session[session_key] = [{"kk_number": r.kk_number, "decision": r.decision,
                                                 "reason": r.reason, "note": r.note, "version": r.version}
                                                for r in rows]
    return render(request, "verification/round_import.html", {
        "round": round_, "rows": rows, "problem": problem, "has_errors": any(r.errors for r in rows),
        "unchanged": unchanged,
        "can_edit": _can_edit(request.user, round_),
    })
