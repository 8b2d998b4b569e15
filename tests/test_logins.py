"""Logins for the internet (issue 13): lockout, one-time passwords replaced at first login, idle sessions end,
an optional authenticator for Dinsos and administrators, and every login in the audit."""
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import TOTP

from accounts.models import LoginEvent, Role, User
from accounts.services import LAST_SEEN_KEY

from .factories import PASSWORD, VILLAGE, VILLAGE_OTHER_REGENCY, UserFactory, round_with_families

pytestmark = pytest.mark.django_db

LOGIN = "/akun/masuk/"


def post_login(client, username, password, **extra):
    return client.post(LOGIN, {"username": username, "password": password}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


# -- lockout ---------------------------------------------------------------------------------------------------
def test_the_right_password_is_refused_after_five_wrong_ones_with_a_lockout_page():
    UserFactory(username="op-kebun")
    client = Client()
    for _ in range(4):
        assert post_login(client, "op-kebun", "salah-terus").status_code == 200
    fifth = post_login(client, "op-kebun", "salah-terus")
    assert fifth.status_code == 429
    answer = post_login(client, "op-kebun", PASSWORD)
    assert answer.status_code == 429 and not logged_in(client)
    page = answer.content.decode()
    assert "Terlalu banyak" in page and "30 menit" in page
    kinds = list(LoginEvent.objects.filter(username="op-kebun").values_list("kind", flat=True))
    assert kinds.count(LoginEvent.Kind.FAILED) == 6 and LoginEvent.Kind.LOCKED_OUT in kinds
    assert LoginEvent.Kind.LOGIN not in kinds


def test_a_rotated_forwarded_for_header_does_not_escape_the_lockout():
    UserFactory(username="op-proxy")
    client = Client()
    for n in range(5):
        post_login(client, "op-proxy", "salah", HTTP_X_FORWARDED_FOR=f"10.0.0.{n}")
    answer = post_login(client, "op-proxy", PASSWORD, HTTP_X_FORWARDED_FOR="10.9.9.9")
    assert answer.status_code == 429 and not logged_in(client)


def test_a_lockout_of_one_username_leaves_other_accounts_alone():
    UserFactory(username="op-a")
    UserFactory(username="op-b")
    client = Client()
    for _ in range(5):
        post_login(client, "op-a", "salah")
    assert post_login(client, "op-b", PASSWORD).status_code == 302 and logged_in(client)


# -- one-time passwords ----------------------------------------------------------------------------------------
@pytest.fixture
def dinsos_client():
    client = Client()
    client.force_login(UserFactory(username="dinsos-asahan", role=Role.DINSOS, area_id="12.09"))
    return client


def create_operator(dinsos_client) -> str:
    import re

    response = dinsos_client.post(reverse("account-list"), {
        "username": "op-baru", "first_name": "Sari", "role": Role.VILLAGE_OPERATOR, "area_code": VILLAGE},
        follow=True)
    return re.search(r"sekali pakai[^:<]*: ([A-Za-z0-9_-]{12})", response.content.decode()).group(1)


def test_a_one_time_password_opens_only_the_password_change_until_the_user_picks_their_own(dinsos_client):
    one_time = create_operator(dinsos_client)
    client = Client()
    response = post_login(client, "op-baru", one_time, follow=True)
    assert response.request["PATH_INFO"] == reverse("password-change")
    assert "sekali pakai" in response.content.decode()
    assert client.get(reverse("round-list"))["Location"] == reverse("password-change")
    assert client.get("/api/v1/families/").status_code == 403
    response = client.post(reverse("password-change"), {
        "old_password": one_time, "new_password1": "Sawit-Meranti-2026", "new_password2": "Sawit-Meranti-2026"})
    assert response.status_code == 302
    assert client.get(reverse("round-list")).status_code == 200
    user = User.objects.get(username="op-baru")
    assert not user.must_change_password and user.check_password("Sawit-Meranti-2026")
    assert user.login_events.filter(kind=LoginEvent.Kind.PASSWORD_CHANGED).exists()


def test_a_reset_by_dinsos_asks_for_a_new_own_password_again(dinsos_client):
    user = UserFactory(username="kades-lama", role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    assert not user.must_change_password
    dinsos_client.post(reverse("account-action", args=[user.pk]), {"action": "reset"})
    user.refresh_from_db()
    assert user.must_change_password


def test_a_village_operator_changes_their_own_password_from_the_menu():
    client = Client()
    client.force_login(UserFactory(username="op-sendiri"))
    assert reverse("password-change") in client.get(reverse("home")).content.decode()
    client.post(reverse("password-change"), {
        "old_password": PASSWORD, "new_password1": "Kelapa-Sawit-77", "new_password2": "Kelapa-Sawit-77"})
    assert User.objects.get(username="op-sendiri").check_password("Kelapa-Sawit-77")
    assert logged_in(client)


# -- idle sessions ---------------------------------------------------------------------------------------------
def idle_for(client, seconds: int) -> None:
    session = client.session
    session[LAST_SEEN_KEY] = int(time.time()) - seconds
    session.save()


def test_a_session_idle_for_more_than_thirty_minutes_is_logged_out():
    client = Client()
    client.force_login(UserFactory(username="op-diam"))
    idle_for(client, 31 * 60)
    response = client.get(reverse("round-list"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert not logged_in(client)
    assert LoginEvent.objects.filter(username="op-diam", kind=LoginEvent.Kind.EXPIRED).exists()


def test_a_session_in_use_stays_logged_in_and_its_clock_restarts():
    client = Client()
    client.force_login(UserFactory(username="op-aktif"))
    idle_for(client, 29 * 60)
    assert client.get(reverse("round-list")).status_code == 200
    assert time.time() - client.session[LAST_SEEN_KEY] < 60


# -- authenticator (TOTP) --------------------------------------------------------------------------------------
def code_for(device, *, later: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = time.time() + later
    return f"{totp.token():06d}"


def enrol(client, user):
    client.get(reverse("totp-setup"))
    device = user.totpdevice_set.get()
    client.post(reverse("totp-setup"), {"token": code_for(device)})
    device.refresh_from_db()
    assert device.confirmed
    return device


def test_dinsos_with_an_authenticator_needs_its_code_after_the_password():
    user = UserFactory(username="dinsos-otp", role=Role.DINSOS, area_id="12.09")
    setup = Client()
    setup.force_login(user)
    assert "otpauth://totp/" in setup.get(reverse("totp-setup")).content.decode()
    device = enrol(setup, user)

    client = Client()
    assert post_login(client, "dinsos-otp", PASSWORD)["Location"] == reverse("home")
    assert client.get(reverse("home"))["Location"] == reverse("login-totp")
    assert client.get(reverse("account-list"))["Location"] == reverse("login-totp")
    wrong = client.post(reverse("login-totp"), {"token": "000000" if code_for(device, later=30) != "000000"
                                                 else "111111"})
    assert wrong.status_code == 200 and "salah" in wrong.content.decode()
    device.refresh_from_db()
    device.throttle_reset()  # django-otp makes the next try wait a second after a wrong code
    assert client.post(reverse("login-totp"), {"token": code_for(device, later=30)})["Location"] == reverse("home")
    assert client.get(reverse("account-list")).status_code == 200
    kinds = set(user.login_events.values_list("kind", flat=True))
    assert {LoginEvent.Kind.TOTP_ENABLED, LoginEvent.Kind.TOTP_FAILED, LoginEvent.Kind.TOTP_VERIFIED} <= kinds


def test_wrong_authenticator_codes_lock_the_login_out_like_wrong_passwords():
    user = UserFactory(username="admin-otp", role=Role.ADMIN, area_id=None, is_staff=True, is_superuser=True)
    setup = Client()
    setup.force_login(user)
    device = enrol(setup, user)
    good = code_for(device, later=30)
    wrong = "123456" if good != "123456" else "654321"
    client = Client()
    post_login(client, "admin-otp", PASSWORD)
    for _ in range(5):
        response = client.post(reverse("login-totp"), {"token": wrong})
    assert response.status_code == 429 and not logged_in(client)
    assert post_login(client, "admin-otp", PASSWORD).status_code == 429


def test_village_accounts_cannot_add_an_authenticator():
    client = Client()
    client.force_login(UserFactory(username="op-otp"))
    assert client.get(reverse("totp-setup")).status_code == 403


# -- login audit -----------------------------------------------------------------------------------------------
def test_dinsos_sees_the_logins_of_its_regency_and_not_of_others(dinsos_client):
    UserFactory(username="op-sini", area_id=VILLAGE)
    UserFactory(username="op-sana", area_id=VILLAGE_OTHER_REGENCY)
    for name in ("op-sini", "op-sana"):
        client = Client()
        post_login(client, name, "salah", HTTP_USER_AGENT="Mozilla/5.0 Uji")
        post_login(client, name, PASSWORD)
        client.post(reverse("logout"))
    page = dinsos_client.get(reverse("login-events")).content.decode()
    assert "op-sini" in page and "op-sana" not in page
    event = LoginEvent.objects.filter(username="op-sini", kind=LoginEvent.Kind.FAILED).get()
    assert event.ip_address == "127.0.0.1" and event.user_agent == "Mozilla/5.0 Uji"
    assert set(LoginEvent.objects.filter(username="op-sini").values_list("kind", flat=True)) == {
        LoginEvent.Kind.FAILED, LoginEvent.Kind.LOGIN, LoginEvent.Kind.LOGOUT}


# -- redirects -------------------------------------------------------------------------------------------------
def test_the_bulk_decision_never_redirects_off_the_site():
    round_ = round_with_families(1)
    client = Client()
    client.force_login(UserFactory(username="op-bulk"))
    entry = round_.entries.get()
    response = client.post(reverse("round-bulk", args=[round_.pk]), {
        "entry": f"{entry.pk}:{entry.version}", "bulk-decision": "eligible", "next": "https://jahat.example/",
        "confirm": "1"})
    assert response["Location"] == reverse("round-detail", args=[round_.pk])
    same_site = f"{reverse('round-detail', args=[round_.pk])}?page=2"
    response = client.post(reverse("round-bulk", args=[round_.pk]), {"entry": "x", "next": same_site})
    assert response["Location"] == same_site


def test_only_administrators_see_authenticators_in_the_admin_and_never_their_secret():
    from django.contrib.auth.models import Permission

    owner = UserFactory(username="dinsos-punya", role=Role.DINSOS, area_id="12.09")
    setup = Client()
    setup.force_login(owner)
    device = enrol(setup, owner)
    staff = UserFactory(username="dinsos-staf", role=Role.DINSOS, area_id="12.09", is_staff=True)
    staff.user_permissions.set(Permission.objects.filter(codename__endswith="totpdevice"))
    client = Client()
    client.force_login(staff)
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 403
    client.force_login(UserFactory(username="admin-lihat", role=Role.ADMIN, area_id=None, is_staff=True,
                                   is_superuser=True))
    assert client.get("/admin/otp_totp/totpdevice/").status_code == 200
    assert client.get(f"/admin/otp_totp/totpdevice/{device.pk}/config/").status_code == 403
    assert device.key not in client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
