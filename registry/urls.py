from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("keluarga/", views.family_list, name="family-list"),
    path("keluarga/<int:pk>/", views.family_detail, name="family-detail"),
    path("duplikat/", views.duplicate_scans, name="duplicate-scans"),
    path("duplikat/<int:pk>/", views.duplicate_pairs, name="duplicate-pairs"),
]
