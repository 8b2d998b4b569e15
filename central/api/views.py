"""API of the central sync state (read): batches of data awal, submissions and what the centre answered."""
from rest_framework import serializers

from central import selectors
from central.models import CentralBatch, Submission, SubmissionItem
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet
from privacy.masking import mask_nik_fields


class BatchSerializer(ReadModelSerializer):
    class Meta:
        model = CentralBatch
        fields = ["id", "batch_id", "regency_code", "programme", "published_at", "family_count", "member_count",
                  "page_count", "state", "pages_done", "rows_done", "rows_total", "attempts", "last_error",
                  "rounds_created", "ingested_at"]


class BatchViewSet(ScopedReadOnlyViewSet):
    """Batches of data awal from the centre and how far each was applied."""

    queryset = CentralBatch.objects.all()
    serializer_class = BatchSerializer
    filterset_fields = ["state", "programme"]
    search_fields = ["batch_id"]
    ordering_fields = ["id", "created_at"]


class SubmissionSerializer(ReadModelSerializer):
    village = serializers.CharField(source="round.village_id", read_only=True)
    batch_ref = serializers.CharField(source="round.batch_ref", read_only=True)
    items_total = serializers.IntegerField(read_only=True)
    items_accepted = serializers.IntegerField(read_only=True)
    items_rejected = serializers.IntegerField(read_only=True)

    class Meta:
        model = Submission
        fields = ["id", "round", "village", "batch_ref", "approval", "protocol", "state", "receipt_id", "page_count",
                  "pages_sent", "result_count", "items_total", "items_accepted", "items_rejected", "attempts",
                  "last_error", "created_at", "sent_at", "acknowledged_at"]


class SubmissionViewSet(ScopedReadOnlyViewSet):
    """Approved rounds on their way to the centre: what went up and how much of it the centre accepted."""

    queryset = Submission.objects.all()
    serializer_class = SubmissionSerializer
    filterset_fields = ["state", "round"]
    ordering_fields = ["id", "created_at"]

    def base_queryset(self):
        return selectors.submission_list_base()


class SubmissionItemSerializer(ReadModelSerializer):
    kk_number = serializers.CharField(source="family.kk_number", read_only=True, allow_null=True)
    description = serializers.SerializerMethodField(help_text="What the item told the centre, in words.")

    class Meta:
        model = SubmissionItem
        fields = ["id", "submission", "kind", "ref", "page", "entry", "family", "kk_number", "report", "payload",
                  "description", "outcome", "reason", "central_id", "decided_at"]

    def get_description(self, item) -> str:
        return selectors.describe(item)

    def to_representation(self, item):
        # Items are read in lists and by every role of the village: NIKs in the payload stay masked
        # (privacy.masking); the family's detail is where a whole NIK is read, and recorded.
        data = super().to_representation(item)
        data["payload"] = mask_nik_fields(data["payload"])
        return data


class SubmissionItemViewSet(ScopedReadOnlyViewSet):
    """Every item a submission carried (decisions, corrections, member changes, usulan, recommendations,
    citizens' reports) exactly as sent, with the centre's answer: accepted, or rejected with its reason."""

    queryset = SubmissionItem.objects.all()
    serializer_class = SubmissionItemSerializer
    filterset_fields = ["submission", "kind", "outcome", "family", "entry", "submission__round"]
    search_fields = ["=ref", "=central_id", "=family__kk_number"]
    ordering_fields = ["id"]

    def base_queryset(self):
        return SubmissionItem.objects.select_related("family")
