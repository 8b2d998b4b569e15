"""/healthz reports the database and the broker, and answers 503 when one is down."""
import json
import os
import subprocess
import sys

import pytest
from django.conf import settings
from django.test import override_settings

pytestmark = pytest.mark.django_db


def test_healthy_portal_answers_200_with_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"]["ok"] is True
    assert body["broker"]["ok"] is True


@pytest.mark.integration
@pytest.mark.skipif(not os.environ.get("CELERY_BROKER_URL"), reason="needs a real broker (CI sets Redis)")
def test_real_redis_broker_is_checked(client):
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL=os.environ["CELERY_BROKER_URL"]):
        body = client.get("/healthz").json()
    assert body["broker"] == {"ok": True, "mode": "broker", "transport": "redis"}


def test_broker_down_answers_503(client):
    # Port 1 on loopback: nothing listens there, so the connection is refused at once.
    with override_settings(CELERY_TASK_ALWAYS_EAGER=False, CELERY_BROKER_URL="redis://127.0.0.1:1/0"):
        response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["broker"]["ok"] is False
    assert response.json()["status"] == "unavailable"


def test_database_down_answers_503():
    # A separate process whose database is unreachable, so the test database itself is untouched.
    env = {**os.environ, "DATABASE_URL": "postgres://nobody@127.0.0.1:1/none", "DJANGO_SECRET_KEY": "x",
           "DJANGO_ALLOWED_HOSTS": "testserver", "CELERY_BROKER_URL": ""}
    code = (
        "import django, json; django.setup();"
        "from django.test import Client; r = Client().get('/healthz');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    out = subprocess.run([sys.executable, "-c", code], env={**env, "DJANGO_SETTINGS_MODULE": "dtsen_portal.settings"},
                         cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=60, check=True)
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["status"] == 503
    assert result["body"]["database"]["ok"] is False
