from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("keluarga/", views.family_list, name="family-list"),
    path("keluarga/<int:pk>/", views.family_detail, name="family-detail"),
]
