from django.urls import path

from . import views

urlpatterns = [
    path("", views.facilitator_home, name="groundcheck-home"),
    path("kunjungan/", views.visit_submit, name="groundcheck-visit"),
    path("sw.js", views.service_worker, name="groundcheck-sw"),
    path("penugasan/", views.assignments, name="groundcheck-assignments"),
    path("penugasan/massal/", views.assignments_bulk, name="groundcheck-assignments-bulk"),
    path("kunjungan.<sheet:kind>", views.visits_export, name="groundcheck-visits-export"),
]
