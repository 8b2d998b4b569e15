"""The citizens' channel: Cek Bansos lookups, proposals and objections, and their resolution by the village.

Public and unauthenticated, so every verb here limits what it reveals (masked names, no NIK, address or
someone else's desil; only a whole name finds anyone), how often it may be called (``distribution.limits``:
per client and per village, with a challenge beyond the free allowance), and never says whether a NIK exists.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import secrets
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone, translation
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.errors import Conflict, InvalidState, NotAllowed, NotInScope
from dtsen_portal.formats import month
from groundcheck.photos import clean_photo
from privacy.masking import mask_nik
from registry.models import Family, Member, Region
from registry.search import validate_search_length
from registry.validators import ascii_int, parse_nik
from verification.models import APPROVED_STATES, EDITABLE_STATES, RoundFamily, RoundState, VerificationRound

from . import limits
from .models import CitizenReport, Determination, PendingChange, Programme

MIN_NAME_LENGTH = 3
MAX_RESULTS = 20
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread over the phone
DUPLICATE_REPORT_WINDOW = dt.timedelta(days=1)


def mask_name(name: str) -> str:
    """"Siti Aminah" -> "S*** A*****": enough for a neighbour to recognise, not to harvest."""
    return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split() if part)


def village_or_error(code: str) -> Region:
    village = Region.objects.filter(code=code, level=Region.Level.VILLAGE).first()
    if village is None:
        raise InvalidState(_("Choose your village from the list."))
    return village


def cek_bansos(*, village_code: str, name: str, nik: str = "", ip: str, client: str = "", returning: bool = False,
               challenge: str = "", answer: str = "") -> list[dict]:
    """Recipients in a village with exactly this name (case and spacing aside; and this NIK, if given):
    masked names and programmes/periods only.

    Only the whole name matches: parts of a name (or a NIK with a few letters) find nobody, so a mask cannot
    be filled in letter by letter. The same query runs whether or not the NIK exists.
    """
    name = " ".join(name.split())
    try:
        validate_search_length(name)
    except ValidationError as error:
        raise InvalidState(error.messages[0]) from error
    # Letters, not just characters: "%%%" or "___" is no name (and is compared literally, never as a pattern).
    if sum(c.isalpha() for c in name) < MIN_NAME_LENGTH:
        raise InvalidState(_("Type the whole name as on the KTP (at least %(n)d letters).") % {"n": MIN_NAME_LENGTH})
    limits.search_allow(ip=ip, village_code=village_code, client=client, returning=returning, challenge=challenge,
                        answer=answer)
    return recipients_named(village=village_or_error(village_code), name=name, nik=nik)


def recipients_named(*, village: Region, name: str, nik: str = "") -> list[dict]:
    """The reading behind ``cek_bansos`` once its checks have passed (two queries): living recipients in
    ``village`` named ``name`` (case aside), masked.

    The families are found first, as the meeting of two lists of ids read from indexes alone: the families
    where someone has the name (``member_name_upper``: ``UPPER(name) = UPPER(...)``, the ``iexact``) and the
    village's families (``family_village_id_id``). About 1,000 people in a regency share a common name,
    so this reads a few index pages instead of their rows and their families' rows. Only then are the
    few members themselves read."""
    with_name = Member.objects.filter(name__iexact=name).values("family_id")
    families = Family.objects.filter(village=village, pk__in=with_name).values("pk")
    members = Member.objects.filter(family__in=families, name__iexact=name, life_status=Member.LifeStatus.PRESENT)
    if nik:
        members = members.filter(nik=nik.strip())
    receives = Determination.objects.filter(family=OuterRef("family_id"))
    found = (members.filter(Exists(receives)).select_related("family").order_by("name")[:MAX_RESULTS])
    determinations: dict[int, list[str]] = {}
    name = Subquery(Programme.objects.filter(code=OuterRef("programme")).values("name")[:1])
    for family_id, programme, period in Determination.objects.filter(
            family_id__in=[m.family_id for m in found]).annotate(programme_name=Coalesce(name, "programme")) \
            .values_list("family_id", "programme_name", "period").order_by("programme", "period"):
        determinations.setdefault(family_id, []).append(f"{programme} · {month(period)}")
    # Two recipients named "Hasan" both read "H****": the family card number, masked by the portal's one rule
    # for whoever may not read the whole number (privacy.masking: the regency's four digits and the card's
    # serial), tells them apart. The family knows it from its own card; a neighbour learns nothing from a
    # serial. Birth year (a personal fact) and dusun or RT (an address) would say more, and the page promises
    # neither, so they are not shown.
    return [{"name": mask_name(m.name), "kk": mask_nik(m.family.kk_number), "village": village.name,
             "programmes": determinations.get(m.family_id, [])}
            for m in found]


def _reference() -> str:
    while True:
        reference = "CB-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        if not CitizenReport.objects.filter(reference=reference).exists():
            return reference


def _tidy(text: str) -> str:
    """Spaces collapsed within lines, line breaks kept: the same report typed twice compares equal."""
    return "\n".join(" ".join(line.split()) for line in text.strip().splitlines()).strip()


def _name_key(name: str) -> str:
    """"  siti   AMINAH" and "Siti Aminah" are one name: case and spacing aside."""
    return " ".join(name.split()).casefold()


def reporter_identify(*, nik: str, kk: str, name: str, birth_date: dt.date | None) -> Member | None:
    """The living person of the register with exactly this NIK, family card number, name (case and spacing
    aside) and birth date, or None. One query, whichever of the four is wrong; the caller never says which."""
    if not (nik and kk and birth_date):
        return None
    member = Member.objects.select_related("family").filter(
        nik=nik.strip(), family__kk_number=kk.strip(), birth_date=birth_date,
        life_status=Member.LifeStatus.PRESENT).first()
    return member if member is not None and _name_key(member.name) == _name_key(name) else None


def objection_refused_message() -> str:
    # One message for every reason an objection's reporter is not accepted (unknown NIK, another KK, another
    # name or birth date, another village): it must not tell which of the four was wrong.
    return _("An objection can be accepted only from someone registered in this village. Check that your NIK, "
             "KK number, name and date of birth are exactly as on your family card (KK), or send an usulan "
             "instead.")


def _check_position(latitude, longitude) -> None:
    """Both or neither, inside Indonesia: the model's validators, the ones a visit's position passes."""
    if (latitude is None) != (longitude is None):
        message = _("Send both latitude and longitude, or neither.")
        raise InvalidState(message, field_errors={"latitude": [message]})
    if latitude is None:
        return
    from groundcheck.forms import OUTSIDE_INDONESIA

    for field, value in (("latitude", latitude), ("longitude", longitude)):
        try:
            CitizenReport._meta.get_field(field).run_validators(value)
        except ValidationError:
            raise InvalidState(str(OUTSIDE_INDONESIA), field_errors={field: [str(OUTSIDE_INDONESIA)]}) from None


def report_submit(*, kind: str, village_code: str, subject_name: str, reason: str, reporter_name: str,
                  subject_nik: str = "", reporter_phone: str = "", reporter_nik: str = "", reporter_kk: str = "",
                  reporter_birth_date: dt.date | None = None, reporter_email: str = "", photo=None,
                  latitude=None, longitude=None,
                  ip: str, challenge: str = "", answer: str = "") -> CitizenReport:
    """A citizen's proposal or objection; lands in the village's queue (and, for an objection about a
    known family, in a facilitator's assignments). Returns the report with its reference number; the same
    report sent again within a day returns the first one.

    The reporter is identified against the register (``reporter_identify``: NIK, KK, name and birth date all
    matching) or files as not registered. An usulan is taken either way, with the same answer; an objection
    only from someone registered in the report's village, else refused with one neutral message and nothing
    stored. The report keeps whether the reporter was identified and as whom, never the numbers typed.

    Evidence: ``photo`` is the upload, checked and re-encoded by ``groundcheck.photos.clean_photo`` once the
    client is within its limits (image work is the costly part of a report), written to storage only with the
    report; ``latitude``/``longitude`` lie in Indonesia (both
    or neither).

    The input is checked first, then the client's limits (and the challenge, when asked); only a stored
    report counts against the village, so spam cannot use up the village's reports.
    """
    if kind not in CitizenReport.Kind.values:
        raise InvalidState(_("Choose proposal or objection."))
    village = village_or_error(village_code)
    identity = (reporter_nik.strip(), reporter_kk.strip(), reporter_birth_date)
    if any(identity) and not all(identity):
        message = _("Fill in your NIK, KK number and date of birth together, or none of them to send as someone "
                    "not registered.")
        raise InvalidState(message, field_errors={"reporter_nik": [message]})
    if kind == CitizenReport.Kind.OBJECTION and not all(identity):
        message = objection_refused_message()
        raise InvalidState(message, field_errors={"reporter_nik": [message]})
    subject_nik = subject_nik.strip()
    if subject_nik:
        try:
            parse_nik(subject_nik)
        except ValidationError as exc:
            raise InvalidState(" ".join(exc.messages), field_errors={"subject_nik": exc.messages}) from None
    limits.report_allow(ip=ip, village_code=village.code, challenge=challenge, answer=answer)
    if photo:
        try:
            photo = clean_photo(photo)[0]
        except ValidationError as exc:
            raise InvalidState(" ".join(exc.messages), field_errors={"photo": exc.messages}) from None
    # From here the answer depends on what the register holds (the reporter found or not, a facilitator given
    # the objection): it comes after a whole number of quanta either way, so its time reveals nothing. Only a
    # client within its limits gets this far, so the wait cannot be used to tie up the server.
    with _answer_at_quantum():
        reporter = reporter_identify(nik=identity[0], kk=identity[1], name=reporter_name, birth_date=identity[2])
        if kind == CitizenReport.Kind.OBJECTION and (reporter is None or reporter.family.village_id != village.pk):
            message = objection_refused_message()
            raise InvalidState(message, field_errors={"reporter_nik": [message]})
        _check_position(latitude, longitude)
        report, created = _report_store(
            kind=kind, village=village, subject_name=_tidy(subject_name), subject_nik=subject_nik,
            reason=_tidy(reason), reporter_name=_tidy(reporter_name), reporter_phone=reporter_phone.strip(),
            reporter=reporter, evidence={"photo": photo or "", "latitude": latitude, "longitude": longitude,
                                         "reporter_email": reporter_email.strip()})
    if created:
        # The report is stored: a cache that went away now must not turn its answer into an error.
        with contextlib.suppress(limits.LimitsUnavailable):
            limits.report_counted(village_code=village.code)
        _tell_received(report)
    return report


@contextlib.contextmanager
def _answer_at_quantum():
    """Ends the block after a whole number of ``settings.REPORT_ANSWER_QUANTUM`` seconds, raising or not."""
    quantum = settings.REPORT_ANSWER_QUANTUM
    started = time.monotonic()
    try:
        yield
    finally:
        elapsed = time.monotonic() - started
        time.sleep(quantum * (int(elapsed / quantum) + 1) - elapsed)


@transaction.atomic
def _report_store(*, kind: str, village: Region, subject_name: str, subject_nik: str, reason: str,
                  reporter_name: str, reporter_phone: str, reporter: Member | None,
                  evidence: dict) -> tuple[CitizenReport, bool]:
    same = CitizenReport.objects.filter(
        village=village, kind=kind, status=CitizenReport.Status.RECEIVED, subject_nik=subject_nik,
        subject_name__iexact=subject_name, reporter_name__iexact=reporter_name, reason=reason,
        created_at__gte=timezone.now() - DUPLICATE_REPORT_WINDOW).order_by("created_at").first()
    # Linked silently: the citizen is never told whether the NIK is in the register (the view pads the answer
    # to a fixed time besides). The ground-check comes only when the village accepts the objection.
    member = Member.objects.filter(nik=subject_nik, family__village=village).first() if subject_nik else None
    if same is not None:
        return same, False
    report = CitizenReport.objects.create(
        reference=_reference(), kind=kind, village=village, family=member.family if member else None,
        subject_name=subject_name, subject_nik=subject_nik, reason=reason, reporter_name=reporter_name,
        reporter_phone=reporter_phone, reporter_verified=reporter is not None, reporter_member=reporter,
        **evidence)
    return report, True


# -- notifications: the reporter who left a phone or e-mail, and the staff whose queue changed ---------------
def _tell_received(report: CitizenReport) -> None:
    from accounts.models import User
    from notifications.services import notify

    with translation.override(settings.LANGUAGE_CODE):
        due = date_format(report.due_on, "d-m-Y")
        notify(email=report.reporter_email, phone=report.reporter_phone,
               subject=_("Cek Bansos report %(ref)s received") % {"ref": report.reference},
               body=_("Your report reached the village; it is to be handled by %(due)s. Follow it on Cek Bansos "
                      "with the reference number %(ref)s.") % {"due": due, "ref": report.reference})
        operators = User.objects.filter(role=Role.VILLAGE_OPERATOR, area_id=report.village_id, is_active=True)
        for email, phone in operators.exclude(email="", phone="").values_list("email", "phone"):
            notify(email=email, phone=phone, subject=_("New citizen's report %(ref)s") % {"ref": report.reference},
                   body=_("A citizen's %(kind)s reached your village's queue; handle it by %(due)s.") % {
                       "kind": report.get_kind_display(), "due": due})


def _tell_reporter(report: CitizenReport) -> None:
    from notifications.services import notify

    with translation.override(settings.LANGUAGE_CODE):
        notify(email=report.reporter_email, phone=report.reporter_phone,
               subject=_("Cek Bansos report %(ref)s") % {"ref": report.reference},
               body=" ".join(part for part in (report_progress(report), report.resolution) if part))


def _tell_facilitator(report: CitizenReport) -> None:
    from notifications.services import notify

    facilitator = report.assignment.facilitator
    with translation.override(settings.LANGUAGE_CODE):
        notify(email=facilitator.email, phone=facilitator.phone,
               subject=_("New ground-check: citizen's objection %(ref)s") % {
            "ref": report.reference}, body=_("A family of %(village)s is waiting for your visit.") % {
            "village": report.village.name})


def _assign_objection(report: CitizenReport):
    """The ground-check of an accepted objection, for the kecamatan's least busy facilitator (None if the
    kecamatan has none yet: Dinsos assigns it later from the family's page)."""
    from groundcheck import services as groundcheck
    from groundcheck.models import Assignment

    facilitator = groundcheck.least_busy_facilitator(report.village_id[:8])
    if facilitator is None:
        return None
    return groundcheck.assignment_create(
        actor=None, family_id=report.family_id, facilitator_id=facilitator.pk, source=Assignment.Source.OBJECTION,
        note=_("Citizen's objection %(ref)s: %(reason)s") % {"ref": report.reference, "reason": report.reason[:200]})


def report_status(reference: str) -> CitizenReport | None:
    return CitizenReport.objects.select_related("village", "entry__round", "assignment") \
        .filter(reference=reference.strip().upper()).first()


def report_progress(report: CitizenReport) -> str:
    """Where a citizen's report stands, as the citizen reads it on the status page: only what was recorded,
    followed to the centre's answer.

    Accepted and taken into a round (``report.entry``: the family's entry, or the usulan entered for it), it
    follows the round: in the village's verval (an objection's ground-check pending or done), sent to the
    regency, approved, and the centre's answer once it came. A report accepted while the village's round was
    past its decisions (submitted or approved) was taken into nothing, so it waits for the next round; an
    accepted usulan waits for the village to enter it while its round is still open.
    """
    if report.status != CitizenReport.Status.ACCEPTED:
        return report.get_status_display()
    if report.centre_outcome:
        return _("The centre's answer: %(outcome)s.") % {"outcome": report.get_centre_outcome_display()}
    objection = report.kind == CitizenReport.Kind.OBJECTION
    visited = report.assignment_id and report.assignment.completed_at is not None
    if report.entry_id:
        state = report.entry.round.state
        if state in APPROVED_STATES:
            return _("Approved by the regency with the village's verval; waiting for the centre's answer.")
        if state == RoundState.SUBMITTED:
            return _("In the village's verval, sent to the regency for approval.")
        if not objection:
            return _("Entered as an usulan in the village's verval round.")
        if visited:
            return _("In the village's verval round; the facilitator has checked the family on the ground.")
        if report.assignment_id:
            return _("In the village's verval round; a facilitator will check the family on the ground.")
        return _("In the village's verval round.")
    if objection and report.assignment_id:
        return _("Accepted; a facilitator will check the family on the ground, and it will be discussed in the "
                 "next verval round.") if not visited else _(
            "Accepted; the facilitator has checked the family on the ground; it will be discussed in the next "
            "verval round.")
    open_round = VerificationRound.objects.filter(village_id=report.village_id, state__in=EDITABLE_STATES)
    if not objection and open_round.exists():
        return _("Accepted; the village has yet to enter it as an usulan in its current verval round.")
    return _("Accepted; it will be discussed in the next verval round.")


@transaction.atomic
def report_resolve(*, actor, report_id: int, accept: bool, resolution: str, kk_number: str = "") -> CitizenReport:
    """The village operator accepts a report into the verification or rejects it, saying why. A report past
    its due date (``CitizenReport.due_on``) has escalated: Dinsos of the regency may resolve it too.

    What acceptance does: an objection flags the family in the village's open round (the round it is taken
    into) and becomes a ground-check for the kecamatan's least busy facilitator; the family is the one the
    citizen's NIK found, or the one whose KK number the resolver gives (``kk_number``), and an objection about
    no known family cannot be accepted. An usulan is then entered by the village as a proposal of its open
    round, prefilled from the report (``report_proposal_create``), now or when the next round opens."""
    report = CitizenReport.objects.select_for_update().get(pk=report_id)
    if not user_covers_code(actor, report.village_id):
        raise NotInScope(_("Not found."))
    escalated = actor.role == Role.DINSOS and report.is_overdue
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR or escalated):
        if actor.role == Role.DINSOS and report.status == CitizenReport.Status.RECEIVED:
            raise NotAllowed(_("The village handles this report until %(due)s; after that it comes to Dinsos.")
                             % {"due": date_format(report.due_on, "d-m-Y")})
        raise NotAllowed(_("Your role may not do this."))
    if report.status != CitizenReport.Status.RECEIVED:
        raise InvalidState(_("This report is already resolved."))
    if not accept and not resolution.strip():
        raise InvalidState(_("Say why the report is rejected; the citizen will read it."))
    if accept and report.kind == CitizenReport.Kind.OBJECTION and report.family_id is None:
        family = Family.objects.filter(village_id=report.village_id, kk_number=kk_number.strip()).first() \
            if kk_number.strip() else None
        if family is None:
            message = _("Type the KK number of the family concerned, as registered in this village: the "
                        "objection becomes a ground-check of that family.")
            raise InvalidState(message, field_errors={"kk_number": [message]})
        report.family = family
    report.status = CitizenReport.Status.ACCEPTED if accept else CitizenReport.Status.REJECTED
    report.resolved_by, report.resolved_at = actor, timezone.now()
    if accept and report.family_id:
        open_entries = RoundFamily.objects.filter(family_id=report.family_id, round__state__in=EDITABLE_STATES)
        open_entries.update(flagged=True)
        # The round the report is taken into: its submission carries the report to the centre.
        report.entry = open_entries.order_by("-round__created_at").first()
    if accept and report.kind == CitizenReport.Kind.OBJECTION:
        report.assignment = _assign_objection(report)
        if report.assignment is not None:
            _tell_facilitator(report)
    # Without the operator's words the outcome says only what happened: taken into a round, or accepted.
    report.resolution = resolution.strip() or (_("Accepted into the village's verification.") if report.entry_id
                                               else _("Accepted by the village."))
    report._history_user = actor
    report.save()
    _tell_reporter(report)
    return report


@transaction.atomic
def report_link_proposal(*, actor, report_id: int, entry_id: int) -> CitizenReport:
    """Tie an accepted citizen's usulan to the usulan the village entered for it in an open round, so the
    round's submission carries the report to the centre and the citizen can follow it there."""
    report = CitizenReport.objects.select_for_update().get(pk=report_id)
    if not user_covers_code(actor, report.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR):
        raise NotAllowed(_("Your role may not do this."))
    if report.kind != CitizenReport.Kind.PROPOSAL or report.status != CitizenReport.Status.ACCEPTED:
        raise InvalidState(_("Only an accepted citizen's usulan can be tied to an usulan in the verval."))
    entry = RoundFamily.objects.filter(pk=entry_id, is_proposal=True, round__village_id=report.village_id,
                                       round__state__in=EDITABLE_STATES).first()
    if entry is None:
        raise InvalidState(_("Choose an usulan of this village's open verval round."))
    report.entry = entry
    report._history_user = actor
    report.save(update_fields=["entry"])
    return report


def _check_village_staff(actor, report: CitizenReport) -> None:
    if not user_covers_code(actor, report.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR):
        raise NotAllowed(_("Your role may not do this."))


def report_for_proposal(*, actor, report_id: int) -> CitizenReport:
    """An accepted citizen's usulan not yet entered, for the village to enter it as a proposal."""
    report = CitizenReport.objects.filter(pk=report_id).first()
    if report is None:
        raise NotInScope(_("Not found."))
    _check_village_staff(actor, report)
    if report.kind != CitizenReport.Kind.PROPOSAL or report.status != CitizenReport.Status.ACCEPTED \
            or report.entry_id:
        raise InvalidState(_("Only an accepted citizen's usulan not yet entered can be entered as an usulan."))
    return report


def report_proposal_initial(report: CitizenReport) -> tuple[dict, list[dict]]:
    """The proposal form's first values from the report: the person concerned as the head of the family
    (the village completes the rest from the family's KK)."""
    return {}, [{"name": report.subject_name, "nik": report.subject_nik,
                 "relationship": Member.Relationship.HEAD}]


@transaction.atomic
def report_proposal_create(*, actor, report_id: int, round_id: int, family_data: dict, members: list[dict],
                           confirm_duplicates: bool = False) -> RoundFamily:
    """An accepted citizen's usulan entered as a proposal of the village's open round: the proposal is made by
    ``verification.services.proposal_create`` (its checks, duplicates and history), and the report is tied
    to it, so the round's submission carries it to the centre and the citizen follows it there."""
    from verification import services as verification

    report = CitizenReport.objects.select_for_update().filter(pk=report_id).first()
    if report is None:
        raise NotInScope(_("Not found."))
    report_for_proposal(actor=actor, report_id=report.pk)
    round_ = VerificationRound.objects.filter(pk=round_id).only("village_id").first()
    if round_ is None or round_.village_id != report.village_id:
        raise InvalidState(_("Choose an usulan of this village's open verval round."))
    entry = verification.proposal_create(actor=actor, round_id=round_id, family_data=family_data, members=members,
                                         confirm_duplicates=confirm_duplicates)
    report.entry = entry
    report.save(update_fields=["entry"])
    _tell_reporter(report)
    return entry


REPORT_HISTORY_FIELDS = ("status", "resolution", "entry", "centre_outcome", "centre_reason")


def report_histories(reports) -> dict[int, list]:
    """Each citizen's report's handling (accepted or rejected, by whom, taken into a round, the centre's answer),
    for a list of reports in one query."""
    from registry.selectors import history_entries

    records = CitizenReport.history.filter(id__in=[r.pk for r in reports]).select_related("history_user")
    return history_entries(records, fields=REPORT_HISTORY_FIELDS,
                           words={"entry": lambda entry_id: _("a family in the verval")})


def reports_waiting(*, user):
    from accounts.scope import scope_queryset

    return scope_queryset(user, CitizenReport.objects.filter(status=CitizenReport.Status.RECEIVED))


def reports_escalate(*, today: dt.date | None = None) -> int:
    """Tell each regency's Dinsos, once, of the reports its villages left past their due date (one message per
    regency, listing them); returns how many reports were escalated now."""
    from accounts.models import User
    from notifications.services import notify

    with transaction.atomic():
        due = list(CitizenReport.objects.select_for_update(skip_locked=True)
                   .filter(overdue_q(today), escalated_at__isnull=True).order_by("village_id", "due_on")
                   .values_list("pk", "reference", "village_id"))
        if not due:
            return 0
        CitizenReport.objects.filter(pk__in=[pk for pk, _ref, _village in due]).update(escalated_at=timezone.now())
        by_regency: dict[str, list[str]] = {}
        for _pk, reference, village_id in due:
            by_regency.setdefault(village_id[:5], []).append(reference)
        staff = User.objects.filter(role=Role.DINSOS, is_active=True, area_id__in=by_regency) \
            .exclude(email="", phone="")
        with translation.override(settings.LANGUAGE_CODE):
            for user in staff.only("email", "phone", "area_id"):
                references = by_regency[user.area_id]
                notify(email=user.email, phone=user.phone,
                       subject=_("Citizens' reports overdue: %(n)d") % {"n": len(references)},
                       body=_("These reports were not handled by their village within 14 days and are now in your "
                              "queue: %(refs)s") % {"refs": ", ".join(references)})
    return len(due)


def overdue_q(today: dt.date | None = None) -> Q:
    """Reports still waiting for the village after their due date: escalated to Dinsos."""
    return Q(status=CitizenReport.Status.RECEIVED, due_on__lt=today or timezone.localdate())



# -- KPM lists, disbursements and the channel's payment report ---------------------------------------------
def rupiah(amount: int | None) -> str:
    """Rp1.250.000: the Indonesian way of writing rupiah."""
    return "Rp" + f"{int(amount or 0):,}".replace(",", ".")


def _check_regency_staff(actor) -> None:
    if not (actor.is_administrator or actor.role in (Role.DINSOS, Role.ADMIN)):
        raise NotAllowed(_("Your role may not do this."))


@transaction.atomic
def kpm_build(*, actor, period_id: int) -> int:
    """Schedule one disbursement per family the centre determined as KPM of the programme in one of the
    period's months (within the actor's area). Running it again adds only what is new; returns how many
    were added.

    One INSERT ... SELECT in the database (a regency's list holds hundreds of thousands of families), its
    statistics refreshed at once so the payment pages plan with the new rows."""
    from accounts.scope import scope_queryset

    from .models import Disbursement, PaymentPeriod

    _check_regency_staff(actor)
    period = PaymentPeriod.objects.select_related("programme").get(pk=period_id)
    determined = scope_queryset(actor, Determination.objects.filter(
        programme=period.programme_id, period__in=period.months, family__isnull=False))
    source, source_params = determined.order_by().values_list("family_id").distinct().query.sql_with_params()
    table = Disbursement._meta.db_table
    with connection.cursor() as cursor:
        # "WHERE true": SQLite (make run) needs a WHERE before ON CONFLICT in an INSERT ... SELECT.
        # The table name comes from the model and the SELECT from the ORM; every value is a parameter.
        columns = "family_id, programme_id, period_id, channel, amount_planned, amount_paid, status, reason, updated_at"
        sql = f"INSERT INTO {table} ({columns}) SELECT d.family_id, %s, %s, %s, %s, 0, %s, '', CURRENT_TIMESTAMP "  # noqa: S608  # nosec B608
        sql += f"FROM ({source}) d WHERE true ON CONFLICT (family_id, programme_id, period_id) DO NOTHING"
        cursor.execute(sql,
            [period.programme_id, period.pk, Disbursement.Channel.POS, period.amount,
             Disbursement.Status.SCHEDULED, *source_params])
        added = max(cursor.rowcount, 0)
        if added and connection.vendor == "postgresql":
            cursor.execute(f"ANALYZE {table}")
    return added


PAYMENT_COLUMNS = ("nomor_kk", "saluran", "jumlah", "status", "alasan")
PAYMENT_STATUS_WORDS = {"tersalur": "disbursed", "disbursed": "disbursed", "diterima": "received",
                        "received": "received", "retur": "returned", "dikembalikan": "returned",
                        "returned": "returned", "gagal": "failed", "failed": "failed"}
CHANNEL_WORDS = {"pos": "pos", "pt pos": "pos", "himbara": "himbara", "bank": "himbara", "kks": "himbara"}


def payment_report_read(*, actor, period_id: int, content: bytes, filename: str) -> tuple[list[dict], str]:
    """Read a channel's payment report; each row gets its errors (unknown family, wrong amount, duplicate,
    bad status). Nothing is saved here."""
    from accounts.scope import scope_queryset
    from dtsen_portal.spreadsheets import read_upload

    from .models import Disbursement

    _check_regency_staff(actor)
    lines, error = read_upload(content, filename, required=PAYMENT_COLUMNS[:4], expected=PAYMENT_COLUMNS)
    if error:
        return [], error
    planned = dict(scope_queryset(actor, Disbursement.objects.filter(period_id=period_id))
                   .values_list("family__kk_number", "amount_planned"))
    rows, seen = [], set()
    for line, cells in lines:
        if not any(cells.values()):
            continue
        kk = cells.get("nomor_kk", "").removesuffix(".0")
        row = {"line": line, "kk_number": kk, "errors": [], "status": PAYMENT_STATUS_WORDS.get(
            cells.get("status", "").lower(), ""), "channel": CHANNEL_WORDS.get(cells.get("saluran", "").lower(), ""),
            "reason": cells.get("alasan", "")[:200]}
        amount_text = cells.get("jumlah", "").replace("Rp", "").replace(".", "").replace(",", "").strip()
        row["amount"] = ascii_int(amount_text)
        if kk not in planned:
            row["errors"].append(_("KK number %(kk)s has no scheduled payment in this period.") % {"kk": kk or "-"})
        elif kk in seen:
            row["errors"].append(_("KK number %(kk)s appears twice in the report.") % {"kk": kk})
        seen.add(kk)
        if not row["status"]:
            row["errors"].append(_("Status %(value)s is not one of: tersalur, diterima, retur, gagal.")
                                 % {"value": cells.get("status", "") or "-"})
        if not row["channel"]:
            row["errors"].append(_("Channel %(value)s is not one of: pos, himbara.")
                                 % {"value": cells.get("saluran", "") or "-"})
        if row["amount"] is None:
            row["errors"].append(_("Amount %(value)s is not a number of rupiah.") % {"value": cells.get("jumlah")})
        elif kk in planned and row["status"] in ("disbursed", "received") and row["amount"] != planned[kk]:
            row["errors"].append(_("Amount %(paid)s differs from the planned %(planned)s.")
                                 % {"paid": rupiah(row["amount"]), "planned": rupiah(planned[kk])})
        if row["status"] in ("returned", "failed") and not row["reason"]:
            row["errors"].append(_("A returned or failed payment needs a reason."))
        rows.append(row)
    if not rows:
        return [], _("The file holds no payments.")
    return rows, ""


def _payment_summary(rows: list[dict]) -> dict:
    """What the confirming account reviews: rows, and families and rupiah per reported status."""
    by_status: dict[str, dict] = {}
    for row in rows:
        item = by_status.setdefault(row["status"], {"families": 0, "amount": 0})
        item["families"] += 1
        item["amount"] += row["amount"] or 0
    return {"rows": len(rows), "by_status": by_status, "amount": sum(i["amount"] for i in by_status.values())}


def _own_area(actor) -> str | None:
    # An administrator's change belongs to no area: only another administrator sees and confirms it.
    return None if actor.is_administrator else actor.area_id


@transaction.atomic
def payment_report_prepare(*, actor, period_id: int, rows: list[dict]) -> PendingChange:
    """Keep a checked payment report (server-side) until a second Dinsos or administrator account confirms
    it; nothing is applied yet. One report per period and area waits at a time."""
    from .models import PaymentPeriod, PendingChange

    _check_regency_staff(actor)
    if not rows or any(r["errors"] for r in rows):
        raise InvalidState(_("Fix the rows with problems first; nothing was saved."))
    period = PaymentPeriod.objects.select_for_update().get(pk=period_id)  # one preparer at a time per period
    waiting = PendingChange.objects.filter(kind=PendingChange.Kind.PAYMENT_REPORT, period=period,
                                           area_id=_own_area(actor), state=PendingChange.State.PENDING)
    if waiting.exists():
        raise InvalidState(_("A payment report for this period is already waiting for a second account's "
                             "confirmation; it must be confirmed, rejected or withdrawn first."))
    return PendingChange.objects.create(
        kind=PendingChange.Kind.PAYMENT_REPORT, area_id=_own_area(actor), period=period, prepared_by=actor,
        payload={"rows": rows}, summary=_payment_summary(rows))


PROGRAMME_RULES = ("max_desil", "monthly_amount", "active")


@transaction.atomic
def programme_change_prepare(*, actor, programme_code: str, max_desil: int, monthly_amount: int, active: bool,
                             note: str = "") -> PendingChange:
    """Propose new rules for a programme (highest desil, amount per month, active); they apply only once a
    second administrator confirms. Programmes are national, so only administrators prepare and confirm."""
    from .models import PendingChange

    if not actor.is_administrator:
        raise NotAllowed(_("Only administrators change a programme's rules: they apply in every regency."))
    programme = Programme.objects.select_for_update().filter(code=programme_code).first()
    if programme is None:
        raise NotInScope(_("Not found."))
    if not 1 <= max_desil <= 10:
        raise InvalidState(_("The highest desil is between 1 and 10."),
                           field_errors={"max_desil": [_("The highest desil is between 1 and 10.")]})
    new = {"max_desil": max_desil, "monthly_amount": monthly_amount, "active": active}
    changes = {f: [getattr(programme, f), v] for f, v in new.items() if getattr(programme, f) != v}
    if not changes:
        raise InvalidState(_("These are the programme's rules already; nothing to confirm."))
    if programme.pending_changes.filter(state=PendingChange.State.PENDING).exists():
        raise InvalidState(_("A change of this programme's rules is already waiting for confirmation."))
    return PendingChange.objects.create(kind=PendingChange.Kind.PROGRAMME_RULES, programme=programme,
                                        prepared_by=actor, payload=new, summary={"changes": changes},
                                        note=note.strip()[:1000])


def _locked_change(*, actor, change_id: int) -> PendingChange:
    """The change, locked, if ``actor`` may decide on it: a Dinsos or administrator account covering its area
    (an administrator's change: administrators only). Two accounts deciding at once queue on this lock; the
    second then finds it decided."""
    from .models import PendingChange

    # The job is read after the lock (a join locked alongside would be re-read stale by the second account).
    change = PendingChange.objects.select_for_update().filter(pk=change_id).first()
    if change is None:
        raise NotInScope(_("Not found."))
    _check_regency_staff(actor)
    covered = actor.is_administrator if change.area_id is None else user_covers_code(actor, change.area_id)
    if not covered:
        raise NotInScope(_("Not found."))
    if change.kind == change.Kind.PROGRAMME_RULES and not actor.is_administrator:
        raise NotAllowed(_("Only administrators change a programme's rules: they apply in every regency."))
    if not change.awaits_decision:
        who = change.decided_by or change.prepared_by
        raise Conflict(_("This change is already %(state)s (%(who)s, %(when)s); nothing more was done.") % {
            "state": change.get_state_display().lower(), "who": who.get_full_name() or who.username,
            "when": timezone.localtime(change.decided_at or change.prepared_at).strftime("%d-%m-%Y %H:%M")})
    return change


def _decide(change: PendingChange, actor, state: str, note: str = "") -> None:
    change.state, change.decided_by, change.decided_at = state, actor, timezone.now()
    if note:
        change.note = note


@transaction.atomic
def change_confirm(*, actor, change_id: int, return_url: str = "") -> PendingChange:
    """A second account confirms a prepared change. A payment report is then applied by a worker (the change's
    ``job``); a programme's new rules apply at once. The account that prepared it cannot confirm it."""
    change = _locked_change(actor=actor, change_id=change_id)
    if change.prepared_by_id == actor.pk:
        raise NotAllowed(_("You prepared this change, so you cannot confirm it: a second Dinsos or "
                           "administrator account must."))
    _decide(change, actor, change.State.CONFIRMED)
    if change.kind == change.Kind.PAYMENT_REPORT:
        from jobs.models import Job
        from jobs.services import job_start

        change.job = job_start(actor=actor, kind=Job.Kind.PAYMENT_REPORT, target=f"change:{change.pk}",
                               params={"change_id": change.pk}, return_url=return_url)
    else:
        _programme_apply(change, actor)
        change.applied_at = change.decided_at
    change.save()
    return change


@transaction.atomic
def change_reject(*, actor, change_id: int, note: str) -> PendingChange:
    """A second account sends a prepared change back with a note; nothing of it is applied."""
    change = _locked_change(actor=actor, change_id=change_id)
    if change.prepared_by_id == actor.pk:
        raise NotAllowed(_("You prepared this change; withdraw it instead."))
    if not note.strip():
        raise InvalidState(_("Say why the change is rejected; the preparer will read it."),
                           field_errors={"note": [_("Say why the change is rejected; the preparer will read it.")]})
    _decide(change, actor, change.State.REJECTED, note.strip()[:1000])
    change.payload = {}
    change.save()
    return change


@transaction.atomic
def change_withdraw(*, actor, change_id: int) -> PendingChange:
    """The preparer takes back a change still waiting for confirmation (a wrong file, say)."""
    change = _locked_change(actor=actor, change_id=change_id)
    if change.prepared_by_id != actor.pk:
        raise NotAllowed(_("Only the account that prepared this change can withdraw it."))
    _decide(change, actor, change.State.WITHDRAWN)
    change.payload = {}
    change.save()
    return change


def payment_reports_of(*, user, period_id: int, recent: int = 5) -> list[PendingChange]:
    """The period's payment reports waiting for confirmation in the user's area, then the latest decided ones
    (one query): who prepared each, who confirmed or rejected it, when, and its summary."""
    from accounts.scope import scope_queryset

    changes = scope_queryset(user, PendingChange.objects.filter(kind=PendingChange.Kind.PAYMENT_REPORT,
                                                                period_id=period_id))
    changes = list(changes.select_related("prepared_by", "decided_by", "job").defer("payload")
                   .order_by("-prepared_at", "-id")[:recent + 20])
    waiting = [c for c in changes if c.state == PendingChange.State.PENDING]
    return waiting + [c for c in changes if c.state != PendingChange.State.PENDING][:recent]


def _rule_word(field_name: str, value) -> str:
    if field_name == "monthly_amount":
        return rupiah(value)
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return str(value)


def programme_rules_overview(*, user) -> list[dict]:
    """Every programme with its rules, its history of rules and its changes waiting for confirmation (three
    queries, whatever the number of programmes)."""
    from registry.selectors import history_entries

    programmes = list(Programme.objects.all())
    records = Programme.history.select_related("history_user").order_by()
    rupiah_words = {"monthly_amount": rupiah}
    history = history_entries(records, fields=("name", *PROGRAMME_RULES, "conditions"), words=rupiah_words)
    waiting: dict[str, list] = {}
    pending = PendingChange.objects.filter(kind=PendingChange.Kind.PROGRAMME_RULES,
                                           state=PendingChange.State.PENDING).select_related("prepared_by")
    for change in pending if user.is_administrator else []:
        change.rows = [(str(Programme._meta.get_field(f).verbose_name), *(_rule_word(f, v) for v in values))
                       for f, values in change.summary.get("changes", {}).items()]
        waiting.setdefault(change.programme_id, []).append(change)
    return [{"programme": p, "history": history.get(p.code, []), "pending": waiting.get(p.code, [])}
            for p in programmes]


def _confirmation_reason(change: PendingChange) -> str:
    who = change.prepared_by.get_full_name() or change.prepared_by.username
    return (_("%(kind)s #%(id)s prepared by %(who)s") % {"kind": change.get_kind_display(), "id": change.pk,
                                                          "who": who})[:100]


def _programme_apply(change: PendingChange, actor) -> None:
    programme = Programme.objects.select_for_update().get(pk=change.programme_id)
    for field_name in PROGRAMME_RULES:
        setattr(programme, field_name, change.payload[field_name])
    programme._history_user = actor
    programme._change_reason = _confirmation_reason(change)
    programme.save()


@transaction.atomic
def payment_report_apply(*, actor, change_id: int) -> int:
    """Apply a confirmed payment report (the worker's side of ``change_confirm``), as the confirming account;
    all or nothing. The disbursements' history rows are written in bulk with them, naming the confirming
    account and the report."""
    from simple_history.utils import bulk_update_with_history

    from accounts.scope import scope_queryset

    from .models import Disbursement, PendingChange

    _check_regency_staff(actor)
    change = (PendingChange.objects.select_for_update(of=("self",)).select_related("prepared_by")
              .filter(pk=change_id, kind=PendingChange.Kind.PAYMENT_REPORT).first())
    if change is None:
        raise NotInScope(_("Not found."))
    if change.state != PendingChange.State.CONFIRMED or change.applied_at or change.decided_by_id != actor.pk:
        raise InvalidState(_("Only a payment report confirmed by a second account is applied, and only once."))
    rows = change.payload.get("rows") or []
    if any(r["errors"] for r in rows):
        raise InvalidState(_("Fix the rows with problems first; nothing was saved."))
    # Only the payments are locked, not their families (a verval edit on them need not wait for the apply).
    payments = {d.family.kk_number: d for d in scope_queryset(actor, Disbursement.objects.select_for_update(
                of=("self",)).select_related("family").filter(period_id=change.period_id,
                                                 family__kk_number__in=[r["kk_number"] for r in rows]))}
    for row in rows:
        payment = payments.get(row["kk_number"])
        if payment is None:
            raise NotInScope(_("Not found."))
        payment.status, payment.channel, payment.reason = row["status"], row["channel"], row["reason"]
        payment.amount_paid = row["amount"] if row["status"] in ("disbursed", "received") else 0
    bulk_update_with_history(list(payments.values()), Disbursement, ["status", "channel", "reason", "amount_paid"],
                             batch_size=2000, default_user=actor, default_change_reason=_confirmation_reason(change))
    change.applied_at = timezone.now()
    change.payload = {}  # the rows live on in the disbursements' history
    change.save(update_fields=["applied_at", "payload"])
    return len(payments)


PAYMENT_HISTORY_FIELDS = ("status", "channel", "amount_paid", "reason")


def payment_histories(payments) -> dict[int, list]:
    """Each payment's status changes (from the channel's reports: who confirmed which report, when), for a page
    of KPM in one query."""
    from registry.selectors import history_entries

    from .models import Disbursement

    records = Disbursement.history.filter(id__in=[p.pk for p in payments]).select_related("history_user")
    return history_entries(records, fields=PAYMENT_HISTORY_FIELDS, words={"amount_paid": rupiah})


def reconciliation(*, user, period_id: int) -> dict:
    """Planned, paid, returned and outstanding rupiah per kecamatan and village (two grouped queries)."""
    from django.db.models import Count, Q, Sum
    from django.db.models.functions import Coalesce, Substr

    from accounts.scope import scope_queryset

    from .models import Disbursement

    payments = scope_queryset(user, Disbursement.objects.filter(period_id=period_id))
    sums = {
        "families": Count("id"),
        "planned": Coalesce(Sum("amount_planned"), 0),
        "paid": Coalesce(Sum("amount_paid"), 0),
        "returned": Coalesce(Sum("amount_planned", filter=Q(status__in=["returned", "failed"])), 0),
        "outstanding": Coalesce(Sum("amount_planned", filter=Q(status="scheduled")), 0),
    }
    villages = list(payments.values("family__village_id", "family__village__name").annotate(**sums)
                    .order_by("family__village_id"))
    kecamatan = list(payments.annotate(kec=Substr("family__village_id", 1, 8)).values("kec").annotate(**sums)
                     .order_by("kec"))
    names = dict(Region.objects.filter(code__in=[k["kec"] for k in kecamatan]).values_list("code", "name"))
    for row in kecamatan:
        row["name"] = names.get(row["kec"], "")
    total = payments.aggregate(**sums)
    return {"villages": villages, "kecamatan": kecamatan, "total": total}


def rule_q(programme):
    """The programme's eligibility rule as a filter on families annotated with ``living`` (living members):
    its desil band plus the conditions kept as data. An unknown condition fails loudly, never silently."""
    from django.db.models import Q

    rule = Q(desil__lte=programme.max_desil)
    for condition, value in (programme.conditions or {}).items():
        if condition == "min_living_members":
            rule &= Q(living__gte=value)
        elif condition == "max_living_members":
            rule &= Q(living__lte=value)
        else:
            raise ValueError(f"unknown eligibility condition {condition!r} in programme {programme.code}")
    return rule


def targeting(*, user, programme_code: str) -> dict:
    """Inclusion errors (recipients above the programme's desil or judged not eligible by their village)
    and exclusion errors (eligible families in the desil band who receive nothing)."""
    from django.db.models import Count, Exists, OuterRef, Q, Subquery
    from django.db.models.functions import Coalesce

    from accounts.scope import scope_queryset
    from registry.models import Family
    from verification.models import RoundFamily

    from .models import Disbursement, Programme

    programme = Programme.objects.get(code=programme_code)
    latest = RoundFamily.objects.filter(family=OuterRef("pk")).exclude(decision="").order_by("-round__created_at")
    living = (Member.objects.filter(family=OuterRef("pk"), life_status=Member.LifeStatus.PRESENT).order_by()
              .values("family").annotate(n=Count("id")).values("n"))
    families = scope_queryset(user, Family.objects.select_related("village")).annotate(
        last_decision=Subquery(latest.values("decision")[:1]),
        living=Coalesce(Subquery(living), 0),
        receives=Exists(Disbursement.objects.filter(family=OuterRef("pk"), programme=programme)))
    qualifies = rule_q(programme)
    inclusion = families.filter(receives=True).filter(~qualifies | Q(last_decision="not_eligible"))
    exclusion = families.filter(qualifies, receives=False, last_decision__in=["eligible", "corrected"])
    return {"programme": programme, "inclusion": inclusion.order_by("village_id", "kk_number")[:500],
            "exclusion": exclusion.order_by("village_id", "kk_number")[:500]}


# -- demo data ---------------------------------------------------------------------------------------------
DEMO_PROGRAMME, DEMO_MONTH = "BLTS-KESRA", "2025-10"


@transaction.atomic
def demo_payments_remove(*, regency: str) -> None:
    """Remove the demo regency's determinations and payments before its demo families are reseeded."""
    from .models import Disbursement

    Disbursement.objects.filter(family__origin="demo", family__village__pk__startswith=regency + ".").delete()
    Determination.objects.filter(determination_id__startswith=f"DEMO-{regency}-").delete()


@transaction.atomic
def demo_determinations_create(*, regency: str) -> int:
    """The centre's (demo) BLTS Kesra determinations: every demo family in desil 1-4 of the regency."""
    from registry.models import Family

    from .models import Programme

    max_desil = Programme.objects.get(code=DEMO_PROGRAMME).max_desil
    families = Family.objects.filter(origin="demo", village__pk__startswith=regency + ".", desil__lte=max_desil) \
        .values_list("pk", "central_id", "village_id")
    return len(Determination.objects.bulk_create([
        Determination(determination_id=f"DEMO-{regency}-{pk}", central_id=central_id or "", family_id=pk,
                      village_id=village_id, programme=DEMO_PROGRAMME, period=DEMO_MONTH)
        for pk, central_id, village_id in families], batch_size=5000))


def payment_summary(*, user) -> list[dict]:
    """Recipients and rupiah per programme, period and payment status in the user's area (one query)."""
    from django.db.models import Count, Sum

    from accounts.scope import scope_queryset

    from .models import Disbursement

    rows = (scope_queryset(user, Disbursement.objects.all())
            .values("programme__name", "period__name", "status")
            .annotate(families=Count("id"), planned=Sum("amount_planned"), paid=Sum("amount_paid"))
            .order_by("programme__name", "period__name", "status"))
    summary: dict[tuple, dict] = {}
    for row in rows:
        key = (row["programme__name"], row["period__name"])
        item = summary.setdefault(key, {"programme": key[0], "period": key[1], "families": 0, "planned": 0,
                                        "paid": 0, "by_status": {}})
        item["families"] += row["families"]
        item["planned"] += row["planned"] or 0
        item["paid"] += row["paid"] or 0
        item["by_status"][str(Disbursement.Status(row["status"]).label)] = row["families"]
    for item in summary.values():
        item["paid_percent"] = round(100 * item["paid"] / item["planned"]) if item["planned"] else 0
    return list(summary.values())
