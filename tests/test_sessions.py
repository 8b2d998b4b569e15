"""A forged session cookie is no session: every page and the API answer as to an anonymous visitor."""
import pytest
from django.conf import settings

from accounts.models import Role

from .factories import UserFactory

pytestmark = pytest.mark.django_db

FORGED_KEYS = ["abc\x00def1234567890", "../../etc/passwd", "abcdéfgh12345678", "x" * 5000 + "\x00"]


@pytest.mark.parametrize("key", FORGED_KEYS, ids=["nul", "path", "latin1", "long-nul"])
def test_a_forged_session_cookie_answers_as_to_an_anonymous_visitor(client, key):
    client.cookies[settings.SESSION_COOKIE_NAME] = key
    assert client.get("/akun/masuk/").status_code == 200
    assert client.get("/").status_code == 302  # to the login page, not a server error
    assert client.get("/api/v1/families/").status_code in (401, 403)


def test_a_real_session_still_logs_in(client):
    client.force_login(UserFactory(role=Role.DINSOS, area_id="12.09"))
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    assert len(key) == 32 and key.isalnum()
    assert client.get("/").status_code == 200
