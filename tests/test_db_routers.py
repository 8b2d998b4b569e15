"""The read-replica router: with no replica it answers nothing; with one, the declared pages read there, writes
and transactions never do, and who may see what is always read from the primary. The real streaming replica
is in test_read_replica.py."""
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connections
from django.http import HttpResponse, StreamingHttpResponse
from django.test import RequestFactory
from django.urls import URLPattern, URLResolver, get_resolver, resolve, reverse

from accounts.models import User
from dtsen_portal import db_routers
from dtsen_portal.db_routers import (
    REPLICA_URL_NAMES,
    ReplicaReadsMiddleware,
    ReplicaRouter,
    reads_from_replica,
    replica_reads,
)
from registry.models import Family

router = ReplicaRouter()


@pytest.fixture
def with_replica(monkeypatch):
    monkeypatch.setattr(db_routers, "replica_configured", lambda: True)


def _view_names(resolver: URLResolver, namespace: str = "") -> set[str]:
    names = set()
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            inner = f"{namespace}{pattern.namespace}:" if pattern.namespace else namespace
            names |= _view_names(pattern, inner)
        elif isinstance(pattern, URLPattern) and pattern.name:
            names.add(namespace + pattern.name)
    return names


def test_every_page_declared_for_the_replica_exists():
    assert not REPLICA_URL_NAMES - _view_names(get_resolver())


def test_without_a_replica_the_router_answers_nothing():
    with replica_reads():
        assert router.db_for_read(Family) is None
        assert router.db_for_write(Family) is None


def test_marked_reads_go_to_the_replica_and_writes_never(with_replica):
    assert router.db_for_read(Family) == "default"
    with replica_reads():
        assert router.db_for_read(Family) == "replica"
        assert router.db_for_write(Family) == "default"
    assert router.db_for_write(Family) == "default"


def test_accounts_and_sessions_are_always_read_from_the_primary(with_replica):
    from django.contrib.sessions.models import Session

    with replica_reads():
        assert router.db_for_read(User) == "default"
        assert router.db_for_read(Session) == "default"


def test_reads_inside_a_transaction_on_the_primary_stay_there(with_replica, monkeypatch):
    # What transaction.atomic() sets on the connection (the real thing runs in test_read_replica.py).
    monkeypatch.setattr(connections["default"], "in_atomic_block", True)
    with replica_reads():
        assert router.db_for_read(Family) == "default"


def test_the_replica_is_never_migrated():
    assert router.allow_migrate("replica", "registry") is False
    assert router.allow_migrate("default", "registry") is None


def _through_middleware(request):
    seen = []

    def view(request):
        seen.append(reads_from_replica())
        return HttpResponse()

    def handler(request):
        request.resolver_match = resolve(request.path_info)
        middleware.process_view(request, view, (), {})
        return view(request)

    middleware = ReplicaReadsMiddleware(handler)
    middleware(request)
    return seen[0]


def test_only_get_requests_to_declared_pages_are_marked(with_replica):
    rf = RequestFactory()
    assert _through_middleware(rf.get(reverse("cek-bansos"))) is True
    assert _through_middleware(rf.get(reverse("scorecard"))) is True
    assert _through_middleware(rf.post(reverse("cek-bansos"))) is False
    # Right after submitting, a citizen must find the report even if the replica lags.
    assert _through_middleware(rf.get(reverse("cek-bansos-status"))) is False
    assert _through_middleware(rf.get(reverse("home"))) is False
    assert reads_from_replica() is False  # nothing left marked after the request


def test_without_a_replica_no_request_is_marked():
    assert _through_middleware(RequestFactory().get(reverse("cek-bansos"))) is False


def test_a_streamed_export_reads_from_the_replica_while_it_is_sent(with_replica):
    def handler(request):
        request.resolver_match = resolve(request.path_info)
        middleware.process_view(request, None, (), {})
        return StreamingHttpResponse(str(reads_from_replica()) for _ in range(2))

    middleware = ReplicaReadsMiddleware(handler)
    response = middleware(RequestFactory().get(reverse("approved-export", kwargs={"kind": "csv"})))
    assert reads_from_replica() is False
    assert b"".join(response.streaming_content) == b"TrueTrue"


def test_a_replica_of_another_engine_stops_start_up():
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "dtsen_portal.settings",
           "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/x", "REPLICA_DATABASE_URL": "sqlite:///x"}
    done = subprocess.run([sys.executable, "-c", "import django; django.setup()"],  # noqa: S603 - our interpreter
                          cwd=Path(__file__).resolve().parent.parent, env=env, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode != 0 and "REPLICA_DATABASE_URL must be a replica of DATABASE_URL" in done.stderr
