"""The versioned REST API (/api/v1/): one router, every app's viewsets registered here."""
from rest_framework.routers import DefaultRouter

from central.api.views import BatchViewSet, SubmissionItemViewSet, SubmissionViewSet
from distribution.api.views import (
    CitizenReportViewSet,
    DeterminationViewSet,
    DisbursementViewSet,
    PendingChangeViewSet,
    ProgrammeViewSet,
)
from groundcheck.api.views import VisitViewSet
from registry.api.views import FamilyViewSet, RegionViewSet
from verification.api.views import EntryViewSet, ProposalViewSet, RoundViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("families", FamilyViewSet, basename="family")
router.register("rounds", RoundViewSet, basename="round")
router.register("decisions", EntryViewSet, basename="decision")
router.register("proposals", ProposalViewSet, basename="proposal")
router.register("visits", VisitViewSet, basename="visit")
router.register("citizen-reports", CitizenReportViewSet, basename="citizen-report")
router.register("programmes", ProgrammeViewSet, basename="programme")
router.register("changes", PendingChangeViewSet, basename="change")
router.register("kpm", DeterminationViewSet, basename="kpm")
router.register("disbursements", DisbursementViewSet, basename="disbursement")
router.register("sync/batches", BatchViewSet, basename="batch")
router.register("sync/submissions", SubmissionViewSet, basename="submission")
router.register("sync/submission-items", SubmissionItemViewSet, basename="submission-item")

urlpatterns = router.urls
