"""API of the central sync state: batches of data awal in the user's regency (read)."""

from central.models import CentralBatch
from dtsen_portal.api import ReadModelSerializer, ScopedReadOnlyViewSet


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
