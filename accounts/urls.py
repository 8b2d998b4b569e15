from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("masuk/", views.PortalLoginView.as_view(), name="login"),
    path("masuk/kode/", views.login_totp, name="login-totp"),
    path("keluar/", auth_views.LogoutView.as_view(), name="logout"),
    path("kata-sandi/", views.password_change, name="password-change"),
    path("autentikator/", views.totp_setup, name="totp-setup"),
    path("log-masuk/", views.login_events, name="login-events"),
    path("pengguna/", views.account_list, name="account-list"),
    path("pengguna/<int:pk>/", views.account_action, name="account-action"),
]
