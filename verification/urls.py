from django.urls import path

from . import views

urlpatterns = [
    path("", views.round_list, name="round-list"),
    path("<int:pk>/", views.round_detail, name="round-detail"),
    path("<int:pk>/tinjau/", views.round_review, name="round-review"),
    path("setujui/", views.rounds_bulk_approve, name="rounds-approve"),
    path("disetujui.<sheet:kind>", views.approved_export, name="approved-export"),
    path("<int:pk>/ekspor.<sheet:kind>", views.round_export, name="round-export"),
    path("<int:pk>/impor/", views.round_import, name="round-import"),
    path("<int:pk>/massal/", views.round_bulk, name="round-bulk"),
    path("<int:pk>/keluarga/<int:entry_pk>/", views.entry_detail, name="round-entry"),
    path("<int:pk>/keluarga/<int:entry_pk>/cek-lapangan/", views.entry_request_groundcheck,
         name="round-entry-groundcheck"),
    path("<int:pk>/usulan/", views.proposal_create, name="round-proposal"),
    path("<int:pk>/musdesus/", views.musdesus, name="round-musdesus"),
    path("<int:pk>/musdesus/tanda-tangan/", views.musdesus_sign, name="round-musdesus-sign"),
    path("<int:pk>/musdesus/pindaian/", views.musdesus_scan, name="round-musdesus-scan"),
    path("<int:pk>/musdesus/buka/", views.musdesus_reopen, name="round-musdesus-reopen"),
    path("<int:pk>/musdesus/kop-surat/", views.letterhead, name="round-letterhead"),
    path("<int:pk>/kirim/", views.round_submit, name="round-submit"),
    path("<int:pk>/berita-acara.pdf", views.berita_acara_pdf, name="round-berita-acara"),
]
