"""Monitoring pages: how the update cycle went per village, and whose desil changed and why."""
from django.urls import path

from . import views

urlpatterns = [
    # The update cycle's scorecard per village and period.
    path("siklus/", views.scorecard, name="scorecard"),
    path("siklus.<sheet:kind>", views.scorecard_export, name="scorecard-export"),
    # The desil change feed after each monthly publication.
    path("perubahan-desil/", views.desil_changes, name="desil-changes"),
    path("perubahan-desil.<sheet:kind>", views.desil_changes_export, name="desil-changes-export"),
]
