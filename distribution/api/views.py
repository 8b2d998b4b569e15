"""API of distribution: programmes (national reference data), citizens' reports, KPM determinations and
disbursements in the user's area. A village operator resolves a citizen's report through the same service as
the village queue page."""
from django.utils.translation import gettext as _
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from distribution import services
from distribution.models import CitizenReport, Determination, Disbursement, PaymentPeriod, PendingChange, Programme
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet


class PaymentPeriodSerializer(ReadModelSerializer):
    class Meta:
        model = PaymentPeriod
        fields = ["id", "code", "name", "months", "amount"]


class ProgrammeSerializer(ReadModelSerializer):
    periods = PaymentPeriodSerializer(many=True, read_only=True)

    class Meta:
        model = Programme
        fields = ["code", "name", "max_desil", "monthly_amount", "conditions", "active", "periods"]


class CitizenReportSerializer(ReadModelSerializer):
    """A report as the village queue shows it: its deadline, the reporter identified or not (never who), the
    evidence (the photo through the scoped media address, the location), and where it went: the round entry
    or ground-check it became, and the centre's answer."""

    overdue = serializers.BooleanField(source="is_overdue", read_only=True,
                                       help_text="Not handled by its due date (escalated to Dinsos).")
    photo = serializers.FileField(read_only=True, allow_null=True, use_url=True,
                                  help_text="The house photo's address (staff of the village's area, signed in).")

    class Meta:
        model = CitizenReport
        fields = ["id", "reference", "kind", "village", "family", "subject_name", "reason", "status", "resolution",
                  "created_at", "resolved_at", "due_on", "overdue", "escalated_at", "reporter_verified", "photo",
                  "latitude", "longitude", "entry", "assignment", "centre_outcome", "centre_reason",
                  "centre_answered_at"]


class DeterminationSerializer(ReadModelSerializer):
    class Meta:
        model = Determination
        fields = ["id", "determination_id", "central_id", "family", "village", "programme", "period", "status",
                  "received_at"]


class DisbursementSerializer(ReadModelSerializer):
    class Meta:
        model = Disbursement
        fields = ["id", "family", "programme", "period", "channel", "amount_planned", "amount_paid", "status",
                  "reason", "updated_at"]


class PendingChangeSerializer(ReadModelSerializer):
    class Meta:
        model = PendingChange
        fields = ["id", "kind", "state", "area", "period", "programme", "summary", "note", "prepared_by",
                  "prepared_at", "decided_by", "decided_at", "applied_at", "job"]


class ProgrammeChangeSerializer(serializers.Serializer):
    programme = serializers.CharField(max_length=30, help_text="The programme's code, e.g. PKH.")
    max_desil = serializers.IntegerField(min_value=1, max_value=10, help_text="The highest desil the programme serves.")
    monthly_amount = serializers.IntegerField(min_value=0, max_value=100_000_000, help_text="Rupiah per month.")
    active = serializers.BooleanField()
    note = serializers.CharField(required=False, allow_blank=True, default="", max_length=1000)

    def validate_programme(self, value):
        if not Programme.objects.filter(code=value).exists():
            raise serializers.ValidationError(_("No programme has this code."))
        return value


class RejectSerializer(serializers.Serializer):
    note = serializers.CharField(max_length=1000, help_text="Why: the preparer reads it.")


class ResolveSerializer(serializers.Serializer):
    accept = serializers.BooleanField(help_text="true: take the report into the village's verification.")
    resolution = serializers.CharField(required=False, allow_blank=True, default="", max_length=2000,
                                       help_text="Required when rejecting: the citizen reads it.")


class ProgrammeViewSet(viewsets.ReadOnlyModelViewSet):
    """Social assistance programmes and their payment periods (tahap): the same for every area."""

    queryset = Programme.objects.prefetch_related("periods")
    serializer_class = ProgrammeSerializer
    pagination_class = None  # a handful of national programmes
    filterset_fields = ["active"]
    search_fields = ["code", "name"]
    ordering_fields = ["code"]


class PendingChangeViewSet(ScopedReadOnlyViewSet):
    """Changes where money moves (a channel's payment report, a programme's rules) prepared by one Dinsos or
    administrator account and waiting for a second one (four eyes), in the user's area. The payment report is
    prepared by uploading the channel's file on the payments page; a programme's rules through
    ``changes/programme-rules/``. Confirm, reject and withdraw call the same services as the pages."""

    queryset = PendingChange.objects.all()
    serializer_class = PendingChangeSerializer
    filterset_fields = ["kind", "state", "period", "programme"]
    ordering_fields = ["id", "prepared_at"]

    def get_queryset(self):
        user = self.request.user
        if not user.is_regency_staff:
            return PendingChange.objects.none()
        return super().get_queryset()

    @extend_schema(request=ProgrammeChangeSerializer, responses={201: PendingChangeSerializer})
    @action(detail=False, methods=["post"], url_path="programme-rules")
    def programme_rules(self, request):
        """An administrator proposes a programme's new rules; they apply once a second administrator confirms
        them (``changes/{id}/confirm/``)."""
        payload = self.validated(ProgrammeChangeSerializer)
        change = services.programme_change_prepare(actor=request.user, programme_code=payload.pop("programme"),
                                                   **payload)
        return Response(PendingChangeSerializer(change).data, status=201)

    @extend_schema(request=None, responses={200: PendingChangeSerializer})
    @action(detail=True, methods=["post"])
    def confirm(self, request, pk=None):
        """A second account confirms: a payment report is then applied by a worker (``job``), a programme's
        rules at once. The account that prepared it cannot."""
        change = services.change_confirm(actor=request.user, change_id=self.get_object().pk)
        return Response(PendingChangeSerializer(change).data)

    @extend_schema(request=RejectSerializer, responses={200: PendingChangeSerializer})
    @action(detail=True, methods=["post"])
    def reject(self, request, pk=None):
        """A second account sends the change back with a note; nothing of it is applied."""
        change_id = self.get_object().pk
        change = services.change_reject(actor=request.user, change_id=change_id, **self.validated(RejectSerializer))
        return Response(PendingChangeSerializer(change).data)

    @extend_schema(request=None, responses={200: PendingChangeSerializer})
    @action(detail=True, methods=["post"])
    def withdraw(self, request, pk=None):
        """The preparer takes the change back while it waits."""
        change = services.change_withdraw(actor=request.user, change_id=self.get_object().pk)
        return Response(PendingChangeSerializer(change).data)


class CitizenReportViewSet(ScopedReadOnlyViewSet):
    """Citizens' proposals (usulan) and objections (sanggahan) for the villages in the user's area."""

    queryset = CitizenReport.objects.all()
    serializer_class = CitizenReportSerializer
    filterset_fields = ["kind", "status", "village"]
    search_fields = ["=reference", "subject_name"]
    ordering_fields = ["id", "created_at"]

    @extend_schema(request=ResolveSerializer, responses={200: CitizenReportSerializer})
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        """The village operator accepts the report into the verification or rejects it, saying why."""
        report = self.get_object()
        payload = self.validated(ResolveSerializer)
        report = services.report_resolve(actor=request.user, report_id=report.pk, **payload)
        return Response(CitizenReportSerializer(report).data)


class DeterminationViewSet(ScopedReadOnlyViewSet):
    """KPM: the centre's determinations of who receives which programme in which month."""

    queryset = Determination.objects.all()
    serializer_class = DeterminationSerializer
    filterset_fields = ["programme", "period", "village"]
    search_fields = ["=family__kk_number", "=determination_id"]
    ordering_fields = ["id", "received_at"]


class DisbursementViewSet(ScopedReadOnlyViewSet):
    """Payments per family, programme and period."""

    queryset = Disbursement.objects.all()
    serializer_class = DisbursementSerializer
    filterset_fields = ["programme", "period", "status", "channel"]
    search_fields = ["=family__kk_number"]
    ordering_fields = ["id", "updated_at"]
