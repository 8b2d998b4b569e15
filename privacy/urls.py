from django.urls import path

from . import views

urlpatterns = [
    path("akses/", views.access_log, name="privacy-access-log"),
]
