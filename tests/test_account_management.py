"""Regency Dinsos manages its villages' accounts: create, reset password, deactivate — nothing beyond."""
import re

import pytest
from django.http import HttpRequest
from django.test import Client
from django.urls import reverse

from accounts.models import Role, User

from .factories import VILLAGE, VILLAGE_OTHER_REGENCY, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def dinsos_client():
    client = Client()
    client.force_login(UserFactory(role=Role.DINSOS, area_id="12.09"))
    return client


def one_time_password(response) -> str:
    # The message shows it once: "... sekali pakai ...: <12 characters>".
    return re.search(r"sekali pakai[^:<]*: ([A-Za-z0-9_-]{12})", response.content.decode()).group(1)


def test_dinsos_creates_a_village_operator_who_can_log_in_with_the_one_time_password(dinsos_client):
    response = dinsos_client.post(reverse("account-list"), {
        "username": "op-meranti", "first_name": "Sari", "role": Role.VILLAGE_OPERATOR, "area_code": VILLAGE},
        follow=True)
    user = User.objects.get(username="op-meranti")
    assert user.area_id == VILLAGE and user.role == Role.VILLAGE_OPERATOR
    assert Client().login(request=HttpRequest(), username="op-meranti", password=one_time_password(response))


@pytest.mark.parametrize("role,area,message", [
    (Role.VILLAGE_OPERATOR, VILLAGE_OTHER_REGENCY, "kabupaten"),  # outside the regency
    (Role.VILLAGE_OPERATOR, "12.09.08", "desa"),  # an operator needs a village
])
def test_bad_account_requests_are_refused_with_a_message(dinsos_client, role, area, message):
    response = dinsos_client.post(reverse("account-list"), {
        "username": "baru", "first_name": "Baru", "role": role, "area_code": area})
    assert response.status_code == 200 and message in response.content.decode().lower()
    assert not User.objects.filter(username="baru").exists()


def test_a_phone_for_notifications_is_kept_and_a_malformed_one_refused(dinsos_client):
    account = {"username": "op-hp", "first_name": "Sari", "role": Role.VILLAGE_OPERATOR, "area_code": VILLAGE}
    refused = dinsos_client.post(reverse("account-list"), {**account, "phone": "<script>0812</script>"})
    assert refused.status_code == 200 and "6 sampai 20" in refused.content.decode()
    assert not User.objects.filter(username="op-hp").exists()
    dinsos_client.post(reverse("account-list"), {**account, "phone": "0812 3456 7890"})
    assert User.objects.get(username="op-hp").phone == "0812 3456 7890"


def test_dinsos_cannot_create_administrators_or_dinsos_accounts(dinsos_client):
    response = dinsos_client.post(reverse("account-list"), {
        "username": "boss", "first_name": "Boss", "role": Role.ADMIN, "area_code": "12.09"})
    assert response.status_code == 200 and not User.objects.filter(username="boss").exists()


def test_reset_and_deactivate_work_in_the_regency_and_answer_404_elsewhere(dinsos_client):
    mine = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE)
    theirs = UserFactory(role=Role.VILLAGE_HEAD, area_id=VILLAGE_OTHER_REGENCY)
    response = dinsos_client.post(reverse("account-action", args=[mine.pk]), {"action": "reset"}, follow=True)
    assert Client().login(request=HttpRequest(), username=mine.username, password=one_time_password(response))
    dinsos_client.post(reverse("account-action", args=[mine.pk]), {"action": "deactivate"})
    mine.refresh_from_db()
    assert not mine.is_active
    assert dinsos_client.post(reverse("account-action", args=[theirs.pk]), {"action": "deactivate"}).status_code \
        == 404
    theirs.refresh_from_db()
    assert theirs.is_active


def test_village_roles_cannot_manage_accounts():
    client = Client()
    client.force_login(UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE))
    assert client.get(reverse("account-list")).status_code == 403


def test_the_area_is_picked_from_the_regencys_kecamatan_and_villages_not_typed(dinsos_client):
    page = dinsos_client.get(reverse("account-list")).content.decode()
    assert '<select name="area_code"' in page
    assert f'<option value="{VILLAGE}"' in page and f'<option value="{VILLAGE[:8]}"' in page
    assert "seluruh kecamatan" in page and VILLAGE_OTHER_REGENCY not in page
