from django.urls import path

from . import views

public = [
    path("", views.cek_bansos, name="cek-bansos"),
    path("lapor/", views.report_submit, name="cek-bansos-report"),
    path("status/", views.report_status, name="cek-bansos-status"),
    path("tantangan.png", views.challenge_picture, name="cek-bansos-challenge"),
]

staff = [
    path("", views.report_queue, name="report-queue"),
    path("<int:pk>/selesaikan/", views.report_resolve, name="report-resolve"),
    path("<int:pk>/tautkan-usulan/", views.report_link_proposal, name="report-link-proposal"),
]

payments = [
    path("", views.payments, name="payments"),
    path("daftar-kpm/", views.kpm_list, name="kpm-list"),
    path("daftar-kpm.<sheet:kind>", views.kpm_export, name="kpm-export"),
    path("ketepatan-sasaran/", views.targeting, name="targeting"),
    path("program/", views.programme_rules, name="programme-rules"),
]
