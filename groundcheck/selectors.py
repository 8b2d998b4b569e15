"""Reads of ground-checks, scoped: facilitators see their own assignments, Dinsos its regency's."""
import json

from django.db.models import Exists, OuterRef, Subquery

from accounts.models import Role, User
from accounts.scope import scope_queryset
from registry.models import Family, Member

from .models import Assignment, Visit
from .services import CHECKLIST_FIELDS, checklist_display


def _with_head(queryset):
    head = Member.objects.filter(family=OuterRef("family_id"), relationship=Member.Relationship.HEAD).order_by("id")
    return queryset.annotate(head_name=Subquery(head.values("name")[:1]))


def my_assignments(*, user, open_only: bool = True):
    """A facilitator's families to visit (within their area, assigned to them)."""
    assignments = scope_queryset(user, Assignment.objects.filter(facilitator=user)
                                 .select_related("family__village"))
    if open_only:
        assignments = assignments.filter(completed_at__isnull=True)
    return _with_head(assignments).order_by("family__village_id", "family__dusun", "family__rw", "family__rt")


def phone_assignments(*, user) -> list[Assignment]:
    """The facilitator's open assignments, each carrying ``register_json``: the register's checklist values
    (``register_checklist``) the visit form shows beside each item, kept in the page for use offline."""
    rows = list(my_assignments(user=user))
    for assignment in rows:
        assignment.register_json = json.dumps(register_checklist(assignment.family))
    return rows


def area_assignments(*, user):
    return _with_head(scope_queryset(user, Assignment.objects.select_related("family__village", "facilitator"))
                      ).order_by("completed_at", "-created_at")[:200]


def facilitators_in_area(*, user):
    return scope_queryset(user, User.objects.filter(role=Role.FACILITATOR, is_active=True)).order_by("username")


def visits_of_entry(entry):
    return Visit.objects.filter(family_id=entry.family_id).select_related("facilitator").prefetch_related("photos")


def area_visits(*, user):
    return scope_queryset(user, Visit.objects.select_related("family__village", "facilitator")).order_by(
        "family__village_id", "-visited_at")


def bulk_assignment_families(*, user, village_code: str, dusun: str = ""):
    """A village's families in the user's area for the bulk assignment list, with their head and whether
    each already waits for a ground-check, in dusun and address order (one query per page)."""
    families = scope_queryset(user, Family.objects.filter(village_id=village_code))
    if dusun:
        families = families.filter(dusun=dusun)
    head = Member.objects.filter(family=OuterRef("pk"), relationship=Member.Relationship.HEAD).order_by("id")
    waiting = Assignment.objects.filter(family=OuterRef("pk"), completed_at__isnull=True)
    return families.annotate(head_name=Subquery(head.values("name")[:1]), waiting=Exists(waiting)).order_by(
        "dusun", "rw", "rt", "kk_number")


def village_dusun(*, village_code: str) -> list[str]:
    """The dusun of a village as its families' register rows name them."""
    return list(Family.objects.filter(village_id=village_code).exclude(dusun="").order_by("dusun")
                .values_list("dusun", flat=True).distinct())


def register_checklist(family) -> dict[str, list[str]]:
    """The register's value of each checklist item as the visit form writes it, with its label:
    {field: [form value, label]}; the form value is "" when the register holds nothing."""
    values = {}
    for field in CHECKLIST_FIELDS:
        value = getattr(family, field)
        form_value = _form_value(value)
        values[field] = [form_value, checklist_display(field, value) if form_value else ""]
    return values


def _form_value(value) -> str:
    # As VisitForm reads it back: yes/no as "1"/"0" (its TRI_STATE), nothing as "".
    if isinstance(value, bool):
        return "1" if value else "0"
    return "" if value is None else str(value)
