"""Reads of the sync records, with the user's area scope applied."""
from accounts.scope import get_scoped_or_404, scope_queryset
from verification.models import VerificationRound

from .models import CentralBatch, DesilPublication, Submission, UnmatchedRanking


def batch_list(*, user):
    return scope_queryset(user, CentralBatch.objects.all()).order_by("-created_at")


def batch_get(*, user, pk: int) -> CentralBatch:
    return get_scoped_or_404(user, CentralBatch.objects.all(), pk=pk)


def batch_rounds(*, user, batch: CentralBatch):
    return scope_queryset(user, VerificationRound.objects.filter(batch_ref=batch.batch_id)
                          .select_related("village")).order_by("village_id")


def submission_list(*, user):
    return scope_queryset(user, Submission.objects.select_related("round__village")).order_by("-created_at")


def desil_publications():
    return DesilPublication.objects.all()[:12]


def unmatched_rankings(*, user, period):
    """Families a publication ranks that the register does not hold, in the user's area (by village code)."""
    return scope_queryset(user, UnmatchedRanking.objects.filter(period=period)).order_by("village_code", "central_id")
