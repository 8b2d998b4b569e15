from django.urls import path

from . import views

urlpatterns = [
    path("akses/", views.access_log, name="privacy-access-log"),
    path("ekspor/<int:pk>/", views.export_job, name="export-job"),
    path("ekspor/<int:pk>/unduh", views.export_job_download, name="export-job-download"),
]
