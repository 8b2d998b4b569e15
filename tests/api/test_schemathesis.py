"""Property-based tests of the REST API against its own OpenAPI schema, as a user of each role.

Schemathesis generates requests from the live schema (served in-process over WSGI) and checks every answer:
no 5xx, status codes, content types and bodies as documented.
"""
import datetime as dt

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections, transaction
from django.test import override_settings
from hypothesis import HealthCheck, settings
from rest_framework.authtoken.models import Token
from schemathesis.specs.openapi import checks

from accounts.models import Role, User
from accounts.services import demo_accounts_ensure
from distribution.services import demo_determinations_create
from registry.services import demo_seed
from verification.services import demo_rounds_create

from ..factories import OBJECT_IN_VILLAGE, REGENCY, VILLAGE_OTHER_REGENCY

# The middleware reads its settings when the handler is built: build it speaking plain HTTP, as the test client does.
with override_settings(SECURE_SSL_REDIRECT=False):
    application = get_wsgi_application()
    schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
# The coverage phase enumerates boundary values of every query parameter in combination: minutes per list
# endpoint with many filters. Random generation (fuzzing) plus the schema's examples keeps the suite in time.
schema.config.phases.coverage.enabled = False


@pytest.fixture(autouse=True)
def keep_test_connection():
    # The WSGI handler closes database connections after each request; inside a test transaction that
    # would close the test's own connection (Django's test client does the same disconnect).
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture(scope="module")
def role_tokens(django_db_setup, django_db_blocker):
    # The demo regency (families, open rounds, KPM) with its demo account per role, plus one object of every
    # other API model in the demo village and in another regency, so lists and ids are real. Made once for the
    # module inside a transaction rolled back at its end; each test's own transaction nests inside it and
    # undoes what the generated requests wrote.
    with django_db_blocker.unblock(), transaction.atomic():
        demo = demo_seed(regency=REGENCY, households=200, seed=11, as_of=dt.date(2026, 11, 23))
        demo_rounds_create(regency=REGENCY, deadline=dt.date(2026, 12, 23))
        demo_determinations_create(regency=REGENCY)
        for make in OBJECT_IN_VILLAGE.values():
            make(demo.busiest_village)
            make(VILLAGE_OTHER_REGENCY)
        accounts = demo_accounts_ensure(village_code=demo.busiest_village, password="uji-schemathesis-1")
        yield {account.role: Token.objects.create(user=User.objects.get(username=account.username)).key
               for account in accounts}
        transaction.set_rollback(True)


@pytest.fixture
def token(request, role_tokens, db):
    return role_tokens[request.param]


@pytest.mark.parametrize("token", list(Role), indirect=True)
@schema.parametrize()
@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_answers_as_documented(case, token):
    # Unknown query parameters are ignored (as REST APIs usually do) and filters refuse values that name no
    # existing object with a documented 400, so the two "should have accepted/rejected" heuristics are off;
    # server errors, status codes, content types and response bodies are all checked.
    case.call_and_validate(headers={"Authorization": f"Token {token}"},
                           excluded_checks=[checks.negative_data_rejection, checks.positive_data_acceptance])
