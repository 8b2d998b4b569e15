"""State changes of ground-checks: assigning families to facilitators and recording their visits.

A visit is stored once per phone-made id, only by the facilitator the family was assigned to; where it
disagrees with the register, the family is flagged in its village's open round with the differences.
"""
from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Count, Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.scope import user_covers_code
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from dtsen_portal.formats import number
from registry.models import Family, Region
from verification.models import EDITABLE_STATES, RoundFamily

from .models import Assignment, Visit, VisitPhoto
from .photos import clean_photo

# The Regsosek items a facilitator checks; the same fields as the register's house and assets.
CHECKLIST_FIELDS = ("house_ownership", "floor_area_m2", "floor_type", "wall_type", "roof_type", "water_source",
                    "lighting", "cooking_fuel", "toilet", *Family.ASSET_FIELDS)
MAX_PHOTOS = 4
DINSOS_ROLES = (Role.DINSOS, Role.ADMIN)


def checklist_display(field: str, value) -> str:
    """A checklist value as people read it: the choice's label, yes/no, or the number; "-" when empty."""
    model_field = Family._meta.get_field(field)
    if value in (None, ""):
        return "-"
    if model_field.choices:
        return str(dict(model_field.flatchoices).get(value, value))
    if isinstance(value, bool):
        return _("yes") if value else _("no")
    return number(value)


def differences(family: Family, checklist: dict, mismatches=()) -> list[list[str]]:
    """[field, label, register, visit] for each checklist item that disagrees with the register.

    An item in ``mismatches`` (the facilitator said "not as in the register" without noting what was seen)
    disagrees too; its visit side says so in words."""
    found = []
    for field in CHECKLIST_FIELDS:
        label = str(Family._meta.get_field(field).verbose_name)
        register = checklist_display(field, getattr(family, field))
        if field not in checklist or checklist[field] in (None, ""):
            if field in mismatches:
                found.append([field, label, register, _("not as in the register (value not noted)")])
            continue  # not checked on this visit
        if getattr(family, field) != checklist[field]:
            found.append([field, label, register, checklist_display(field, checklist[field])])
    return found


def _open_entry(family_id: int) -> RoundFamily | None:
    return (RoundFamily.objects.filter(family_id=family_id, round__state__in=EDITABLE_STATES)
            .order_by("-round__created_at").first())


@transaction.atomic
def assignment_create(*, actor, family_id: int, facilitator_id: int, note: str = "",
                      source: str = Assignment.Source.DINSOS) -> Assignment:
    """Dinsos (or the system, for the village's request) gives a facilitator a family to visit."""
    family = Family.objects.select_related("village").get(pk=family_id)
    if actor is not None:
        if not user_covers_code(actor, family.village_id):
            raise NotInScope(_("Not found."))
        if not (actor.is_administrator or actor.role in DINSOS_ROLES):
            raise NotAllowed(_("Your role may not do this."))
    facilitator = User.objects.filter(pk=facilitator_id, role=Role.FACILITATOR, is_active=True).first()
    if facilitator is None or not user_covers_code(facilitator, family.village_id):
        raise InvalidState(_("Choose an active facilitator of this family's kecamatan."))
    existing = Assignment.objects.filter(family=family, facilitator=facilitator, completed_at__isnull=True).first()
    if existing:
        return existing
    return Assignment.objects.create(family=family, facilitator=facilitator, entry=_open_entry(family.pk),
                                     source=source, note=note.strip(), assigned_by=actor)


def least_busy_facilitator(kecamatan_code: str):
    """The kecamatan's active facilitator with the fewest open assignments (the lowest id among equals), or None."""
    return (User.objects.filter(role=Role.FACILITATOR, is_active=True, area_id=kecamatan_code)
            .annotate(open=Count("assignments", filter=Q(assignments__completed_at__isnull=True)))
            .order_by("open", "pk").first())


def assignment_request_by_village(*, actor, entry_id: int, note: str) -> Assignment:
    """The village asks for a ground-check of a family; the kecamatan's least busy facilitator gets it."""
    entry = RoundFamily.objects.select_related("round", "family").get(pk=entry_id)
    if not user_covers_code(actor, entry.round.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR):
        raise NotAllowed(_("Your role may not do this."))
    facilitator = least_busy_facilitator(entry.round.village_id[:8])
    if facilitator is None:
        raise InvalidState(_("No PKH facilitator is assigned to this kecamatan yet; ask Dinsos."))
    return assignment_create(actor=None, family_id=entry.family_id, facilitator_id=facilitator.pk,
                             note=note or _("Requested by the village during verval"),
                             source=Assignment.Source.VILLAGE_FLAG)


def visit_record(*, actor, assignment_id: int, client_uuid, visited_at: dt.datetime, checklist: dict,
                 findings: str, recommendation: str, latitude=None, longitude=None, accuracy_m=None,
                 photos=(), mismatches=()) -> tuple[Visit, bool]:
    """Store a visit once (by the phone's id); returns (visit, created). Flags the family in its open round
    when the findings disagree with the register.

    ``checklist`` holds what was seen, item by item; ``mismatches`` names the items the facilitator found
    not as in the register without noting the value (an item with a value in ``checklist`` is judged by
    that value instead)."""
    existing = Visit.objects.filter(client_uuid=client_uuid).first()
    if existing:
        if existing.facilitator_id != actor.pk:
            raise NotInScope(_("Not found."))
        return existing, False
    if len(photos) > MAX_PHOTOS:
        raise InvalidState(_("At most %(n)d photos per visit.") % {"n": MAX_PHOTOS})
    if set(mismatches) - set(CHECKLIST_FIELDS):
        raise InvalidState(_("Unknown checklist item."))
    mismatches = [f for f in CHECKLIST_FIELDS if f in set(mismatches) and checklist.get(f) in (None, "")]
    cleaned = [clean_photo(photo) for photo in photos]  # before the transaction: image work is slow
    try:
        with transaction.atomic():
            assignment = (Assignment.objects.select_for_update().select_related("family")
                          .filter(pk=assignment_id).first())
            if assignment is None:
                raise NotInScope(_("Not found."))
            if assignment.facilitator_id != actor.pk:
                raise NotAllowed(_("This family is not assigned to you."))
            family = assignment.family
            entry = _open_entry(family.pk)
            found = differences(family, checklist, mismatches)
            visit = Visit.objects.create(
                client_uuid=client_uuid, assignment=assignment, family=family, facilitator=actor, entry=entry,
                visited_at=visited_at, latitude=latitude, longitude=longitude, accuracy_m=accuracy_m,
                checklist=checklist, mismatches=mismatches, findings=findings.strip(),
                recommendation=recommendation, differences=found)
            for content, width, height in cleaned:
                VisitPhoto.objects.create(visit=visit, image=content, width=width, height=height)
            if assignment.completed_at is None:
                assignment.completed_at = timezone.now()
                assignment.save(update_fields=["completed_at"])
            if entry is not None and (found or recommendation != Visit.Recommendation.CONTINUE):
                RoundFamily.objects.filter(pk=entry.pk).update(flagged=True)
    except IntegrityError:
        # The same visit arriving twice at once: the other request stored it.
        visit = Visit.objects.filter(client_uuid=client_uuid).first()
        if visit is None:
            raise
        return visit, False
    return visit, True


# Families one selection may name: a page of the bulk assignment list holds far fewer.
MAX_SELECTED_FAMILIES = 1000


@dataclass(frozen=True)
class BulkAssignment:
    """What a bulk assignment did (or, previewed, would do): families assigned and families skipped because
    they already wait for a ground-check."""

    assigned: int
    skipped: int


def _bulk_targets(*, actor, facilitator_id: int, village_code: str, dusun: str = "", family_ids=None):
    """The guards of a bulk assignment, then (facilitator, the families chosen).

    Refuses, before anything is written: a role other than Dinsos, a village outside the actor's area, a
    facilitator who does not serve the village's kecamatan (another kecamatan or regency), an empty
    selection, and any selected id that is not a family of this village (and dusun)."""
    if not (actor.is_administrator or actor.role in DINSOS_ROLES):
        raise NotAllowed(_("Your role may not do this."))
    village_code = str(village_code or "")
    if (not user_covers_code(actor, village_code) or Region.level_of(village_code) != Region.Level.VILLAGE
            or not Region.objects.filter(pk=village_code).exists()):
        raise NotInScope(_("This village is not in your area."))
    facilitator = User.objects.filter(pk=facilitator_id, role=Role.FACILITATOR, is_active=True).first()
    if facilitator is None or not user_covers_code(facilitator, village_code):
        raise InvalidState(_("Choose an active facilitator of this village's kecamatan."))
    families = Family.objects.filter(village_id=village_code)
    if dusun:
        families = families.filter(dusun=dusun)
    if family_ids is not None:
        wanted = set(family_ids)
        if not wanted:
            raise InvalidState(_("Select at least one family."))
        if len(wanted) > MAX_SELECTED_FAMILIES:
            raise InvalidState(_("Select at most %(n)d families at once.") % {"n": MAX_SELECTED_FAMILIES})
        families = families.filter(pk__in=wanted)
        if families.count() != len(wanted):
            # A forged or stale id: name nothing about it, and assign nobody.
            raise NotInScope(_("Some of the selected families are not in this village; nothing was assigned."))
    return facilitator, families


def _waiting():
    # A family already waiting for a ground-check (anyone's open assignment) is skipped.
    return Exists(Assignment.objects.filter(family=OuterRef("pk"), completed_at__isnull=True))


def assignments_bulk_preview(*, actor, facilitator_id: int, village_code: str, dusun: str = "",
                             family_ids=None) -> BulkAssignment:
    """What ``assignments_create_bulk`` would do with the same arguments (same guards), in one count query."""
    _facilitator, families = _bulk_targets(actor=actor, facilitator_id=facilitator_id, village_code=village_code,
                                           dusun=dusun, family_ids=family_ids)
    counts = families.aggregate(total=Count("pk"), waiting=Count("pk", filter=_waiting()))
    if not counts["total"]:
        raise InvalidState(_("No family matches this choice."))
    return BulkAssignment(assigned=counts["total"] - counts["waiting"], skipped=counts["waiting"])


@transaction.atomic
def assignments_create_bulk(*, actor, facilitator_id: int, village_code: str, dusun: str = "", family_ids=None,
                            note: str = "") -> BulkAssignment:
    """Dinsos gives one facilitator many families at once: every family of a village, of one of its dusun,
    or a selection (``family_ids``). Families already waiting for a ground-check (by anyone) are skipped and
    counted. Each assignment records who assigned it, as ``assignment_create`` does; the writes are
    set-based (a few queries whatever the number of families)."""
    facilitator, families = _bulk_targets(actor=actor, facilitator_id=facilitator_id, village_code=village_code,
                                          dusun=dusun, family_ids=family_ids)
    rows = list(families.annotate(waiting=_waiting()).values_list("pk", "waiting"))
    if not rows:
        raise InvalidState(_("No family matches this choice."))
    to_assign = [pk for pk, waiting in rows if not waiting]
    # Each family's entry in its village's newest open round (as _open_entry finds it), in one query:
    # ordered oldest first, so the dict keeps the newest.
    entries = dict(RoundFamily.objects.filter(family_id__in=to_assign, round__state__in=EDITABLE_STATES)
                   .order_by("round__created_at", "round_id").values_list("family_id", "pk"))
    note = note.strip()
    # ignore_conflicts: a family given to this facilitator by a concurrent request meanwhile stays assigned
    # once (the one-open-assignment constraint) instead of failing the whole batch.
    Assignment.objects.bulk_create(
        [Assignment(family_id=pk, facilitator=facilitator, entry_id=entries.get(pk), source=Assignment.Source.DINSOS,
                    note=note, assigned_by=actor) for pk in to_assign],
        batch_size=1000, ignore_conflicts=True)
    return BulkAssignment(assigned=len(to_assign), skipped=len(rows) - len(to_assign))
