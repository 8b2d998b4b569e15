from django.urls import path

from . import views

urlpatterns = [
    path("", views.sync_overview, name="sync-overview"),
    path("sekarang/", views.sync_now, name="sync-now"),
    path("batch/<int:pk>/", views.batch_detail, name="sync-batch"),
    path("batch/<int:pk>/ulang/", views.batch_retry, name="sync-batch-retry"),
    path("kiriman/<int:pk>/", views.submission_detail, name="sync-submission"),
    path("bentrok/", views.clash_list, name="sync-clashes"),
    path("bentrok/<int:pk>/", views.clash_detail, name="sync-clash"),
    path("publikasi/<str:period>/tidak-terdaftar/", views.publication_unmatched, name="sync-unmatched"),
    path("publikasi/<str:period>/tidak-terdaftar.<sheet:kind>", views.publication_unmatched_export,
         name="sync-unmatched-export"),
]
