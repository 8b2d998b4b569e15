"""The versioned REST API (/api/v1/): one router, every app's viewsets registered here."""
from rest_framework.routers import DefaultRouter

from registry.api.views import FamilyViewSet, RegionViewSet

router = DefaultRouter()
router.register("regions", RegionViewSet, basename="region")
router.register("families", FamilyViewSet, basename="family")

urlpatterns = router.urls
