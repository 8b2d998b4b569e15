"""Search, filters and sort order of a round's family list; the filters of the regency's round list."""
from django.db import connection
from django.db.models import Exists, OuterRef, Q
from django.utils.translation import gettext_lazy as _
from django_filters import rest_framework as filters

from accounts.scope import area_q
from registry.models import Member
from registry.validators import is_ascii_digits

from .models import RoundFamily, RoundState, VerificationRound

# The list's order by dusun and KK number: PostgreSQL keeps copies of both on each round entry (migration
# 0007) so the order is served by an index of the round's own rows; elsewhere through the family.
if connection.vendor == "postgresql":
    DUSUN, KK = "family_dusun", "family_kk"
else:
    DUSUN, KK = "family__dusun", "family__kk_number"


class SortFilter(filters.OrderingFilter):
    """django-filter's sort order, labelled in the portal's words: django-filter has no Indonesian of its own,
    so its "(descending)" and its "---------" showed through the Indonesian page."""

    descending_fmt = _("%s (descending)")


class EntryFilter(filters.FilterSet):
    STATUS_CHOICES = [
        ("undecided", _("Not decided yet")),
        *RoundFamily.Decision.choices,
        ("proposal", _("Proposals (usulan)")),
        ("returned", _("With a note from the regency")),
        ("flagged", _("Flagged by a ground-check")),
    ]
    q = filters.CharFilter(method="filter_q", label=_("Name, NIK or KK"))
    dusun = filters.CharFilter(field_name=DUSUN, label=_("Dusun"))
    rt = filters.CharFilter(field_name="family__rt", label=_("RT"))
    rw = filters.CharFilter(field_name="family__rw", label=_("RW"))
    desil = filters.NumberFilter(field_name="family__desil", label=_("Desil"))
    status = filters.ChoiceFilter(choices=STATUS_CHOICES, method="filter_status", label=_("Decision"),
                                  empty_label=_("All"))
    sort = SortFilter(
        fields=((KK, "kk"), ("head_name", "head"), ("family__desil", "desil"), (DUSUN, "dusun"),
                ("decided_at", "decided")),
        field_labels={KK: _("KK number"), "head_name": _("Head of family"), "family__desil": _("Desil"),
                      DUSUN: _("Dusun"), "decided_at": _("Decided")},
        label=_("Sort"), empty_label=_("Dusun and KK number (default)"),
    )

    class Meta:
        model = RoundFamily
        fields = []

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        if is_ascii_digits(value):
            nik = Member.objects.filter(family=OuterRef("family_id"), nik=value)
            return queryset.filter(Q(family__kk_number=value) | Exists(nik))
        if connection.vendor == "postgresql" and "\n" not in value:
            # The members' names kept on each entry (one a line): the round's own rows, not the village's members.
            return queryset.filter(family_names__icontains=value)
        return queryset.filter(Exists(Member.objects.filter(family=OuterRef("family_id"), name__icontains=value)))

    def filter_status(self, queryset, name, value):
        if value == "undecided":
            return queryset.filter(decision="")
        if value == "proposal":
            return queryset.filter(is_proposal=True)
        if value == "returned":
            return queryset.exclude(return_note="")
        if value == "flagged":
            return queryset.filter(flagged=True)
        return queryset.filter(decision=value)

    @property
    def qs(self):
        queryset = super().qs
        # A stable default order, so pages do not shuffle between requests.
        return queryset if self.form.cleaned_data.get("sort") else queryset.order_by(DUSUN, KK)


class EntryApiFilter(EntryFilter):
    """The same filters for the API, by round; the order there is the cursor pagination's (``ordering``)."""

    round = filters.NumberFilter(field_name="round_id", label=_("Round"))
    sort = None  # the page's sort needs the page's annotations and would fight the cursor's order

    @property
    def qs(self):
        return super(EntryFilter, self).qs


class RoundFilter(filters.FilterSet):
    """The regency's round list: by state (``?state=submitted`` is the review queue), by kecamatan, and by
    the village's name or code. Rounds are few (a regency's villages times its batches) and their counts come
    from the tallies, so these filters never touch the families. A value that is no choice (a hand-edited URL)
    is left out, and the list shows unfiltered by it."""

    state = filters.ChoiceFilter(choices=RoundState.choices, label=_("State"), empty_label=_("All states"))
    kecamatan = filters.ChoiceFilter(method="filter_kecamatan", label=_("Kecamatan"),
                                     empty_label=_("All kecamatan"))
    q = filters.CharFilter(method="filter_q", label=_("Village name or code"), max_length=100)

    class Meta:
        model = VerificationRound
        fields = []

    def __init__(self, *args, kecamatan_choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        # The user's own kecamatan: a code outside the area is no choice, so it cannot widen the list.
        self.filters["kecamatan"].extra["choices"] = list(kecamatan_choices)

    def filter_kecamatan(self, queryset, name, value):
        return queryset.filter(area_q(value, "village__pk"))

    def filter_q(self, queryset, name, value):
        value = value.strip()
        if not value:
            return queryset
        # A code is digits and dots ("12.09.08.2002", or its last part "2002"); anything else is a name.
        if all(ch.isascii() and (ch.isdigit() or ch == ".") for ch in value):
            return queryset.filter(village__pk__contains=value)
        return queryset.filter(village__name__icontains=value)
