"""Top-level URLs: the browser app at /, the admin, the API under /api/v1/, /healthz."""
from csp.decorators import csp_update
from django.conf import settings
from django.contrib import admin
from django.urls import include, path, register_converter
from django.views.i18n import JavaScriptCatalog
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from dtsen_portal.health import healthz
from dtsen_portal.media import protected_media
from dtsen_portal.spreadsheets import SpreadsheetKindConverter

# Before the apps' URL modules are read (include() imports them): their export URLs use <sheet:kind>.
register_converter(SpreadsheetKindConverter, "sheet")

from distribution import urls as distribution_urls  # noqa: E402 - its export URLs use the converter above

urlpatterns = [
    path("", include("registry.urls")),
    path("akun/", include("accounts.urls")),
    path("sinkronisasi/", include("central.urls")),
    path("verval/", include("verification.urls")),
    path("cek-lapangan/", include("groundcheck.urls")),
    path("cek-bansos/", include(distribution_urls.public)),
    path("laporan-warga/", include(distribution_urls.staff)),
    path("bansos/", include(distribution_urls.payments)),
    path("pemantauan/", include("monitoring.urls")),
    path("privasi/", include("privacy.urls")),
    path("pekerjaan/", include("jobs.urls")),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("healthz", healthz, name="healthz"),
    path("api/v1/", include(("dtsen_portal.api_urls", "api"))),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    # The vendored Swagger UI loads its start-up script as a file (the split view) but styles itself inline;
    # only this page gets inline styles, never inline scripts (issue 13).
    path("api/docs/", csp_update({"style-src": "'unsafe-inline'"})(
        SpectacularSwaggerSplitView.as_view(url_name="api-schema")), name="api-docs"),
]

handler404 = "dtsen_portal.api.page_not_found"

# Uploads are personal data: served through the area scope, in development as in production.
urlpatterns += [path(f"{settings.MEDIA_URL.strip('/')}/<path:path>", protected_media, name="media")]
