"""Shared fixtures: the real region tree of a few regencies, loaded once per test session."""
import os

import pytest
from django.conf import settings

# Production redirects plain HTTP to HTTPS; the test client and the live server speak plain HTTP (issue 13).
os.environ.setdefault("DJANGO_SECURE_SSL_REDIRECT", "0")

# Real regencies from the bundled wilayah.csv: Asahan (the demo regency), Pematangsiantar and Kayong Utara.
TEST_REGENCIES = ("12.09", "12.72", "61.11")


def pytest_collection_modifyitems(config, items):
    # In CI the PostgreSQL/Redis tests must run, never skip silently.
    if os.environ.get("CI") == "true":
        if not settings.IS_POSTGRES:
            raise pytest.UsageError("CI=true but DATABASE_URL is not PostgreSQL: integration tests would not run.")
        if not os.environ.get("CELERY_BROKER_URL", "").startswith("redis://"):
            raise pytest.UsageError("CI=true but CELERY_BROKER_URL is not Redis: integration tests would not run.")


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    from registry.services import regions_load

    with django_db_blocker.unblock():
        regions_load(only=TEST_REGENCIES)


@pytest.fixture(autouse=True, scope="session")
def _plain_static_storage():
    # Production serves hashed files collected by collectstatic; tests render templates without collecting.
    from django.test import override_settings

    storages = {**settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True, scope="session")
def _short_report_quantum():
    # Every citizen's report a test sends would wait a quarter of a second; the tests that measure the padding
    # set the real quantum themselves.
    from django.test import override_settings

    with override_settings(REPORT_ANSWER_QUANTUM=0.01):
        yield


@pytest.fixture(autouse=True, scope="session")
def _plain_http():
    # pytest-django reads the settings before this file; the variable above reaches the processes tests start.
    from django.test import override_settings

    with override_settings(SECURE_SSL_REDIRECT=False):
        yield


@pytest.fixture
def regions(transactional_db):
    """For tests that other processes must see (live server, Celery worker): committed data, so the
    region tree is loaded for each such test (the flush after it empties every table)."""
    from distribution.models import PaymentPeriod, Programme
    from distribution.reference import seed
    from registry.services import regions_load

    regions_load(only=TEST_REGENCIES)
    seed(Programme, PaymentPeriod)  # migration data is flushed too by earlier transactional tests
