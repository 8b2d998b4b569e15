"""/healthz answers up or down to anyone (503 when the database or the broker is down); why, with hosts and
errors, only administrators see."""
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

from accounts.models import Role

from .factories import UserFactory

pytestmark = pytest.mark.django_db

BROKER_DOWN = {"CELERY_TASK_ALWAYS_EAGER": False, "CELERY_BROKER_URL": "redis://127.0.0.1:1/0"}


@pytest.fixture
def admin_client(client):
    client.force_login(UserFactory(role=Role.ADMIN, area_id=None, is_staff=True, is_superuser=True))
    return client


def test_healthy_portal_answers_200_and_nothing_but_its_status_to_the_public(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_administrators_see_database_and_broker_details(admin_client):
    body = admin_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


def test_other_staff_see_only_the_public_answer(client):
    client.force_login(UserFactory(role=Role.DINSOS, area_id="12.09"))
    assert client.get("/healthz").json() == {"status": "ok"}


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs a real broker (CI sets Redis)")
def test_real_redis_broker_is_checked(admin_client):
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"]):
        body = admin_client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "mode": "broker", "transport": "redis"}


def test_broker_down_answers_503_without_host_or_error_to_the_public(client):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    with override_settings(**BROKER_DOWN):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "error"}
    assert b"127.0.0.1" not in response.content


def test_broker_down_is_explained_to_administrators(admin_client):
    with override_settings(**BROKER_DOWN):
        response = admin_client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False and response.json()["broker"]["error"]


def test_database_down_answers_503_with_nothing_but_its_status():
    # A separate process whose database is unreachable, so the test database itself is untouched.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "DJANGO_SECRET_KEY": "x",
           "DJANGO_ALLOWED_HOSTS": "testserver", "CELERY_BROKER_URL": "", "DJANGO_SECURE_SSL_REDIRECT": "0"}
    code = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "dtsen_portal.settings"},
                         cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result == {"status": 503, "body": {"status": "error"}}
