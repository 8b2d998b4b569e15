from django.urls import path

from . import views

urlpatterns = [
    path("", views.sync_overview, name="sync-overview"),
    path("sekarang/", views.sync_now, name="sync-now"),
    path("batch/<int:pk>/", views.batch_detail, name="sync-batch"),
    path("batch/<int:pk>/ulang/", views.batch_retry, name="sync-batch-retry"),
    path("publikasi/<str:period>/tidak-terdaftar/", views.publication_unmatched, name="sync-unmatched"),
    path("publikasi/<str:period>/tidak-terdaftar.<str:kind>", views.publication_unmatched_export,
         name="sync-unmatched-export"),
]
