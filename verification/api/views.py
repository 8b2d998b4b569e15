"""API of verification rounds: rounds, their families (decisions) and the village's proposals.

Every write calls the same service as the browser (role, village, round state, optimistic locking, audit):
decide, propose a missing family, submit, approve, return.
"""
from django.db.models import Count, Q
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.validators import UniqueValidator

from accounts.scope import scope_queryset
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet
from registry.models import Family, Member
from registry.validators import ascii_int
from verification import services
from verification.filters import EntryApiFilter
from verification.models import NOTE_MAX_LENGTH, ROUND_NOTE_MAX_LENGTH, RoundFamily, VerificationRound


class RoundSerializer(ReadModelSerializer):
    village_name = serializers.CharField(source="village.name", read_only=True)
    total = serializers.IntegerField(read_only=True)
    decided = serializers.IntegerField(read_only=True)

    class Meta:
        model = VerificationRound
        fields = ["id", "public_id", "village", "village_name", "batch_ref", "programme", "period", "deadline", "state",
                  "return_note", "total", "decided", "created_at", "state_changed_at"]


class RoundApprovalSerializer(RoundSerializer):
    delivery_pending = serializers.BooleanField(
        read_only=True, help_text="True when the push to the centre could not be queued yet; it is saved and "
                                  "sent by the next scheduled push.")

    class Meta(RoundSerializer.Meta):
        fields = [*RoundSerializer.Meta.fields, "delivery_pending"]


class EntrySerializer(ReadModelSerializer):
    kk_number = serializers.CharField(source="family.kk_number", read_only=True)
    central_id = serializers.CharField(source="family.central_id", read_only=True, allow_null=True,
                                       help_text="The family's DTSEN id; an accepted usulan gets one from the centre.")
    village = serializers.CharField(source="round.village_id", read_only=True)

    class Meta:
        model = RoundFamily
        fields = ["id", "round", "family", "kk_number", "central_id", "village", "decision", "reason", "note",
                  "is_proposal", "flagged", "return_note", "version", "decided_at", "centre_outcome",
                  "centre_reason", "centre_answered_at"]


class DecisionSerializer(serializers.Serializer):
    decision = serializers.ChoiceField(choices=RoundFamily.Decision.choices)
    reason = serializers.ChoiceField(choices=RoundFamily.Reason.choices, required=False, allow_blank=True,
                                     default="")
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=NOTE_MAX_LENGTH)
    version = serializers.IntegerField(min_value=1, help_text="The version you based the decision on.")


class RoundNoteSerializer(serializers.Serializer):
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=ROUND_NOTE_MAX_LENGTH)


class RoundReturnSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=ROUND_NOTE_MAX_LENGTH,
                                 help_text="Why the round goes back: the village reads it.")
    family_notes = serializers.DictField(
        child=serializers.CharField(max_length=NOTE_MAX_LENGTH), required=False, default=dict,
        help_text="Notes per family, keyed by decision (entry) id.")

    def validate_family_notes(self, value):
        if not all(ascii_int(key) for key in value):
            raise serializers.ValidationError(_("Keys must be decision (entry) ids."))
        return {ascii_int(key): note for key, note in value.items()}


class RoundViewSet(ScopedReadOnlyViewSet):
    """Verification rounds in the user's area, with progress; submit, approve and return them."""

    queryset = VerificationRound.objects.all()
    serializer_class = RoundSerializer
    filterset_fields = ["state", "batch_ref", "programme"]
    search_fields = ["batch_ref", "village__name"]
    ordering_fields = ["id", "created_at"]

    def base_queryset(self):
        return VerificationRound.objects.select_related("village").annotate(
            total=Count("entries"), decided=Count("entries", filter=~Q(entries__decision="")))

    def _answer(self, round_id: int) -> Response:
        return Response(RoundSerializer(self.get_queryset().get(pk=round_id)).data)

    @extend_schema(request=None, responses={200: RoundSerializer})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        """The village submits its round to the regency (Musdesus signed off, every family decided)."""
        round_ = self.get_object()
        services.round_submit(actor=request.user, round_id=round_.pk)
        return self._answer(round_.pk)

    @extend_schema(request=RoundNoteSerializer, responses={200: RoundApprovalSerializer})
    @action(detail=True, methods=["post"])
    def approve(self, request, pk=None):
        """Dinsos approves a submitted round; it is then sent to the centre. ``delivery_pending`` is true when
        the push could not be queued right away: the approval is saved and the next scheduled push sends it."""
        round_ = self.get_object()
        payload = self.validated(RoundNoteSerializer)
        approval = services.round_approve(actor=request.user, round_id=round_.pk, note=payload["note"])
        round_ = self.get_queryset().get(pk=round_.pk)
        round_.delivery_pending = not approval.delivery_queued
        return Response(RoundApprovalSerializer(round_).data)

    @extend_schema(request=RoundReturnSerializer, responses={200: RoundSerializer})
    @action(detail=True, methods=["post"], url_path="return")
    def return_to_village(self, request, pk=None):
        """Dinsos sends a submitted round back to the village with notes."""
        round_ = self.get_object()
        data = self.validated(RoundReturnSerializer)
        services.round_return(actor=request.user, round_id=round_.pk, note=data["note"],
                              family_notes=data["family_notes"])
        return self._answer(round_.pk)

    @extend_schema(request=RoundReturnSerializer, responses={200: RoundSerializer})
    @action(detail=True, methods=["post"])
    def recheck(self, request, pk=None):
        """Dinsos sends an approved round back for re-checking before its period's publication is final; the
        next approval sends the new state to the centre, replacing the earlier one there."""
        round_ = self.get_object()
        data = self.validated(RoundReturnSerializer)
        services.round_recheck(actor=request.user, round_id=round_.pk, note=data["note"],
                               family_notes=data["family_notes"])
        return self._answer(round_.pk)


class RoundFamilyViewSet(ScopedReadOnlyViewSet):
    """Families in rounds, in the user's area: the base of decisions and proposals."""

    queryset = RoundFamily.objects.all()
    serializer_class = EntrySerializer
    filterset_class = EntryApiFilter
    search_fields = ["=family__kk_number"]

    def base_queryset(self):
        return RoundFamily.objects.select_related("family", "round")


class EntryViewSet(RoundFamilyViewSet):
    """Families in rounds (decisions), in the user's area; `decide` records a decision."""

    @extend_schema(request=DecisionSerializer, responses={200: EntrySerializer})
    @action(detail=True, methods=["post"])
    def decide(self, request, pk=None):
        entry = self.get_object()
        data = self.validated(DecisionSerializer)
        services.entry_decide(actor=request.user, round_id=entry.round_id, entry_id=entry.pk,
                              decision=data["decision"], reason=data["reason"], note=data["note"],
                              expected_version=data["version"])
        entry.refresh_from_db()
        return Response(EntrySerializer(entry).data, status=status.HTTP_200_OK)


class WithoutUniqueChecks:
    """Uniqueness (KK, NIK) is the service's to check: it answers with the families that already hold them."""

    def build_standard_field(self, field_name, model_field):
        field_class, kwargs = super().build_standard_field(field_name, model_field)
        kwargs["validators"] = [v for v in kwargs.get("validators", []) if not isinstance(v, UniqueValidator)]
        return field_class, kwargs


class ProposalFamilySerializer(WithoutUniqueChecks, serializers.ModelSerializer):
    class Meta:
        model = Family
        fields = list(services.PROPOSAL_FAMILY_FIELDS)


class ProposalMemberSerializer(WithoutUniqueChecks, serializers.ModelSerializer):
    class Meta:
        model = Member
        fields = list(services.MEMBER_CORRECTABLE)


class ProposalCreateSerializer(serializers.Serializer):
    round = serializers.IntegerField(help_text="The round (in an editable state) the family is proposed in.")
    family = ProposalFamilySerializer()
    members = ProposalMemberSerializer(many=True, allow_empty=False)
    confirm_duplicates = serializers.BooleanField(
        default=False, help_text="Save although families with the same name and birth date exist (never for a "
        "KK number or NIK already in the register).")


class ProposalViewSet(mixins.CreateModelMixin, RoundFamilyViewSet):
    """Families the village proposed (usulan baru) because they were missing from the data awal."""

    def base_queryset(self):
        return super().base_queryset().filter(is_proposal=True)

    def get_serializer_class(self):
        return ProposalCreateSerializer if self.action == "create" else EntrySerializer

    @extend_schema(request=ProposalCreateSerializer, responses={201: EntrySerializer})
    def create(self, request, *args, **kwargs):
        data = self.validated(ProposalCreateSerializer)
        if not scope_queryset(request.user, VerificationRound.objects.filter(pk=data["round"])).exists():
            raise serializers.ValidationError({"round": [_("No round with this id in your area.")]})
        entry = services.proposal_create(actor=request.user, round_id=data["round"], family_data=data["family"],
                                         members=data["members"], confirm_duplicates=data["confirm_duplicates"])
        return Response(EntrySerializer(entry).data, status=status.HTTP_201_CREATED)
