"""The citizens' channel: Cek Bansos lookups, proposals and objections, and their resolution by the village.

Public and unauthenticated, so every verb here limits what it reveals (masked names, no NIK, address or
someone else's desil), how often it may be called (per IP and per village, in the cache), and never says
whether a NIK exists.
"""
from __future__ import annotations

import secrets

from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role
from accounts.scope import user_covers_code
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope, ServiceError
from registry.models import Member, Region
from registry.validators import parse_nik

from .models import CitizenReport, Determination

SEARCHES_PER_IP_HOUR = 30
REPORTS_PER_IP_HOUR = 5
REPORTS_PER_VILLAGE_HOUR = 60
MIN_NAME_LENGTH = 3
MAX_RESULTS = 20
REFERENCE_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I to misread over the phone


class TooManyRequests(ServiceError):
    code = "too_many_requests"


def _limit(key: str, limit: int, seconds: int = 3600) -> None:
    """Count one use of ``key``; refuse once the limit is reached within the window."""
    cache.add(key, 0, seconds)
    try:
        used = cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        used = 1
    if used > limit:
        raise TooManyRequests(_("Too many requests from here; please try again in an hour."))


def mask_name(name: str) -> str:
    """"Siti Aminah" -> "S*** A*****": enough for a neighbour to recognise, not to harvest."""
    return " ".join(part[0] + "*" * (len(part) - 1) for part in name.split() if part)


def village_or_error(code: str) -> Region:
    village = Region.objects.filter(code=code, level=Region.Level.VILLAGE).first()
    if village is None:
        raise InvalidState(_("Choose your village from the list."))
    return village


def cek_bansos(*, village_code: str, name: str, nik: str = "", ip: str) -> list[dict]:
    """Recipients in a village whose member's name contains ``name`` (and whose NIK matches, if given):
    masked names and programmes/periods only."""
    _limit(f"cekbansos:search:{ip}", SEARCHES_PER_IP_HOUR)
    village = village_or_error(village_code)
    name = " ".join(name.split())
    if len(name) < MIN_NAME_LENGTH:
        raise InvalidState(_("Type at least %(n)d letters of the name.") % {"n": MIN_NAME_LENGTH})
    members = Member.objects.filter(family__village=village, name__icontains=name,
                                     life_status=Member.LifeStatus.PRESENT)
    if nik:
        members = members.filter(nik=nik.strip())
    receives = Determination.objects.filter(family=OuterRef("family_id"))
    found = (members.filter(Exists(receives)).select_related("family").order_by("name")[:MAX_RESULTS])
    determinations: dict[int, list[str]] = {}
    for family_id, programme, period in Determination.objects.filter(
            family_id__in=[m.family_id for m in found]).values_list("family_id", "programme", "period") \
            .order_by("programme", "period"):
        determinations.setdefault(family_id, []).append(f"{programme} {period}")
    return [{"name": mask_name(m.name), "village": village.name, "programmes": determinations.get(m.family_id, [])}
            for m in found]


def _reference() -> str:
    while True:
        reference = "CB-" + "".join(secrets.choice(REFERENCE_ALPHABET) for _ in range(8))
        if not CitizenReport.objects.filter(reference=reference).exists():
            return reference


@transaction.atomic
def report_submit(*, kind: str, village_code: str, subject_name: str, reason: str, reporter_name: str,
                  subject_nik: str = "", reporter_phone: str = "", ip: str) -> CitizenReport:
    """A citizen's proposal or objection; lands in the village's queue (and, for an objection about a
    known family, in a facilitator's assignments). Returns the report with its reference number."""
    if kind not in CitizenReport.Kind.values:
        raise InvalidState(_("Choose proposal or objection."))
    village = village_or_error(village_code)
    _limit(f"cekbansos:report:ip:{ip}", REPORTS_PER_IP_HOUR)
    _limit(f"cekbansos:report:village:{village.code}", REPORTS_PER_VILLAGE_HOUR)
    subject_nik = subject_nik.strip()
    if subject_nik:
        try:
            parse_nik(subject_nik)
        except ValidationError as exc:
            raise InvalidState(" ".join(exc.messages), field_errors={"subject_nik": exc.messages}) from None
    # Linked silently: the citizen is never told whether the NIK is in the register.
    member = Member.objects.filter(nik=subject_nik, family__village=village).first() if subject_nik else None
    report = CitizenReport.objects.create(
        reference=_reference(), kind=kind, village=village, family=member.family if member else None,
        subject_name=subject_name.strip(), subject_nik=subject_nik, reason=reason.strip(),
        reporter_name=reporter_name.strip(), reporter_phone=reporter_phone.strip())
    if kind == CitizenReport.Kind.OBJECTION and member is not None:
        _assign_objection(report)
    return report


def _assign_objection(report: CitizenReport) -> None:
    from accounts.models import User
    from groundcheck import services as groundcheck

    facilitator = User.objects.filter(role=Role.FACILITATOR, is_active=True, area_id=report.village_id[:8]) \
        .order_by("pk").first()
    if facilitator is None:
        return  # no facilitator in this kecamatan yet: the village still has the report in its queue
    groundcheck.assignment_create(actor=None, family_id=report.family_id, facilitator_id=facilitator.pk,
                                  note=_("Citizen's objection %(ref)s: %(reason)s") % {
                                      "ref": report.reference, "reason": report.reason[:200]},
                                  source="objection")


def report_status(reference: str) -> CitizenReport | None:
    return CitizenReport.objects.select_related("village").filter(reference=reference.strip().upper()).first()


@transaction.atomic
def report_resolve(*, actor, report_id: int, accept: bool, resolution: str) -> CitizenReport:
    """The village operator accepts a report into the verification or rejects it, saying why."""
    report = CitizenReport.objects.select_for_update().get(pk=report_id)
    if not user_covers_code(actor, report.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR):
        raise NotAllowed(_("Your role may not do this."))
    if report.status != CitizenReport.Status.RECEIVED:
        raise InvalidState(_("This report is already resolved."))
    if not accept and not resolution.strip():
        raise InvalidState(_("Say why the report is rejected; the citizen will read it."))
    report.status = CitizenReport.Status.ACCEPTED if accept else CitizenReport.Status.REJECTED
    report.resolution = resolution.strip() or _("Accepted into the village's verification.")
    report.resolved_by, report.resolved_at = actor, timezone.now()
    report.save()
    if accept and report.family_id:
        from verification.models import EDITABLE_STATES, RoundFamily

        RoundFamily.objects.filter(family_id=report.family_id, round__state__in=EDITABLE_STATES).update(
            flagged=True)
    return report


def reports_waiting(*, user):
    from accounts.scope import scope_queryset

    return scope_queryset(user, CitizenReport.objects.filter(status=CitizenReport.Status.RECEIVED))

