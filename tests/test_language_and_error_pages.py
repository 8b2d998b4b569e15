"""Bahasa Indonesia whatever the browser says, English only by the header's switch (remembered), and the
portal's own 403, 404, 500 and expired-form pages in the language chosen."""
import pytest
from django.test import Client, RequestFactory
from django.urls import reverse
from django.views import defaults

from accounts.models import Role

from .factories import VILLAGE, UserFactory, client_for

pytestmark = pytest.mark.django_db

ENGLISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}


def test_an_english_browser_still_gets_bahasa_indonesia():
    page = Client().get(reverse("login"), **ENGLISH_BROWSER).content.decode()
    assert '<html lang="id">' in page and "Masuk" in page
    assert 'data-testid="lang-id" aria-pressed="true"' in page


def test_the_switch_turns_the_portal_english_and_back_and_is_remembered():
    client = Client()
    answer = client.post(reverse("set_language"), {"language": "en", "next": reverse("cek-bansos")})
    assert answer.status_code == 302 and answer["Location"] == reverse("cek-bansos")
    assert client.cookies["django_language"].value == "en" and client.cookies["django_language"]["httponly"]
    page = client.get(reverse("login")).content.decode()
    assert '<html lang="en">' in page and "Log in" in page
    client.post(reverse("set_language"), {"language": "id", "next": "/"})
    assert '<html lang="id">' in client.get(reverse("login"), **ENGLISH_BROWSER).content.decode()


def test_a_switch_to_elsewhere_or_to_an_unknown_language_goes_nowhere_harmful():
    client = Client()
    answer = client.post(reverse("set_language"), {"language": "en", "next": "https://evil.example/"})
    assert answer.status_code == 302 and "evil.example" not in answer["Location"]
    client.cookies["django_language"] = "xx"
    assert '<html lang="id">' in client.get(reverse("login")).content.decode()


def test_a_missing_page_answers_404_with_the_portals_page_in_the_chosen_language():
    client = Client()
    page = client.get("/tidak-ada-di-sini/", **ENGLISH_BROWSER)
    assert page.status_code == 404
    body = page.content.decode()
    assert 'data-testid="error-404"' in body and "Halaman tidak ditemukan" in body and "Portal Verval DTSEN" in body
    client.post(reverse("set_language"), {"language": "en", "next": "/"})
    assert "Page not found" in client.get("/tidak-ada-di-sini/").content.decode()


def test_a_page_outside_the_role_answers_403_with_the_reason_in_indonesian():
    operator = UserFactory(role=Role.VILLAGE_OPERATOR, area_id=VILLAGE)
    page = client_for(operator).get(reverse("account-list"), **ENGLISH_BROWSER)
    assert page.status_code == 403
    body = page.content.decode()
    assert 'data-testid="error-403"' in body and "Tidak diizinkan" in body and "Dinas Sosial" in body


def test_a_server_error_shows_the_portals_page_without_needing_the_database():
    request = RequestFactory().get("/")
    answer = defaults.server_error(request)
    body = answer.content.decode()
    assert answer.status_code == 500 and 'data-testid="error-500"' in body and "Terjadi kesalahan" in body


def test_an_expired_form_explains_itself_instead_of_djangos_csrf_page():
    answer = Client(enforce_csrf_checks=True).post(reverse("login"), {"username": "x", "password": "y"})
    body = answer.content.decode()
    assert answer.status_code == 403 and 'data-testid="error-403-csrf"' in body and "Formulir kedaluwarsa" in body
