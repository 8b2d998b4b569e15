"""State changes of ground-checks: assigning families to facilitators and recording their visits.

A visit is stored once per phone-made id, only by the facilitator the family was assigned to; where it
disagrees with the register, the family is flagged in its village's open round with the differences.
"""
from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from accounts.models import Role, User
from accounts.scope import user_covers_code
from dtsen_portal.errors import InvalidState, NotAllowed, NotInScope
from dtsen_portal.formats import number
from registry.models import Family
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


def assignment_request_by_village(*, actor, entry_id: int, note: str) -> Assignment:
    """The village asks for a ground-check of a family; the kecamatan's least busy facilitator gets it."""
    entry = RoundFamily.objects.select_related("round", "family").get(pk=entry_id)
    if not user_covers_code(actor, entry.round.village_id):
        raise NotInScope(_("Not found."))
    if not (actor.is_administrator or actor.role == Role.VILLAGE_OPERATOR):
        raise NotAllowed(_("Your role may not do this."))
    kecamatan = entry.round.village_id[:8]
    facilitator = (User.objects.filter(role=Role.FACILITATOR, is_active=True, area_id=kecamatan)
                   .annotate(open=Count("assignments", filter=Q(assignments__completed_at__isnull=True)))
                   .order_by("open", "pk").first())
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
