"""Reads of reports, exports and Cek Bansos from a streaming read replica; everything else on the primary.

With ``REPLICA_DATABASE_URL`` set, the settings add a ``replica`` database alias (a PostgreSQL hot standby of
``default``). Which requests may read from it is declared once, here, by URL name (``REPLICA_URL_NAMES``):
``ReplicaReadsMiddleware`` marks a matching GET/HEAD request in a context variable and ``ReplicaRouter`` sends
that request's reads to the replica. Background work (a task building an export, say) opts in with
``with replica_reads():``. Everything else is untouched:

- writes always go to ``default`` (the replica is read-only: a write sent there would fail);
- inside ``transaction.atomic`` on ``default`` reads stay on ``default``, so a service reads what it writes;
- accounts, permissions, sessions, tokens and login throttling always read ``default``: a deactivated account,
  a logout or a changed role takes effect at once, not after the replica has caught up;
- without a ``replica`` alias the router answers nothing and Django behaves as if it were not installed.

See docs/scaling.md (replication lag, what to do when the replica is down).
"""
from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from django.db import DEFAULT_DB_ALIAS, connections

REPLICA = "replica"

# Pages whose reads may be a moment behind the primary: public lookups, reports and exports (namespaced view
# names, as in ``request.resolver_match.view_name``). Not ``cek-bansos-status``: a citizen is sent there right
# after submitting a report, which must be found even if the replica lags.
REPLICA_URL_NAMES = frozenset({
    # Cek Bansos, the public recipient lookup (the busiest public page)
    "cek-bansos",
    # monitoring and targeting reports
    "scorecard", "desil-changes", "targeting",
    # exports of personal data (the export's audit row is a write: it still goes to the primary)
    "scorecard-export", "desil-changes-export", "approved-export", "round-export", "groundcheck-visits-export",
    "sync-unmatched-export",
})
SAFE_METHODS = frozenset({"GET", "HEAD"})

# Who may see what is decided on the primary, never on a copy that may lag.
PRIMARY_ONLY_APPS = frozenset({"accounts", "auth", "sessions", "authtoken", "axes", "otp_totp", "django_otp",
                               "contenttypes"})

_reads_from_replica: contextvars.ContextVar[bool] = contextvars.ContextVar("reads_from_replica", default=False)


def replica_configured() -> bool:
    return REPLICA in connections.settings


@contextmanager
def replica_reads(enabled: bool = True) -> Iterator[None]:
    """Reads in this block (outside a transaction on the primary) go to the replica, when there is one."""
    token = _reads_from_replica.set(enabled)
    try:
        yield
    finally:
        _reads_from_replica.reset(token)


def reads_from_replica() -> bool:
    return _reads_from_replica.get()


class ReplicaRouter:
    def db_for_read(self, model, **hints):
        if not replica_configured():
            return None
        if (_reads_from_replica.get() and model._meta.app_label not in PRIMARY_ONLY_APPS
                and not connections[DEFAULT_DB_ALIAS].in_atomic_block):
            return REPLICA
        # Said explicitly: otherwise Django would read related rows of an instance loaded from the replica from
        # the replica again (the instance's database is its fallback), long after the marked request.
        return DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS if replica_configured() else None

    def allow_relation(self, obj1, obj2, **hints):
        # The replica is a copy of the primary: rows read from either are the same rows.
        if {obj1._state.db, obj2._state.db} <= {DEFAULT_DB_ALIAS, REPLICA}:
            return True
        return None

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        # The replica replays the primary's WAL, migrations included; it cannot be migrated itself.
        return False if db == REPLICA else None


class ReplicaReadsMiddleware:
    """Marks GET/HEAD requests to the pages in ``REPLICA_URL_NAMES``; their reads go to the replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _reads_from_replica.set(False)
        try:
            response = self.get_response(request)
        finally:
            marked = _reads_from_replica.get()
            _reads_from_replica.reset(token)
        if marked and getattr(response, "streaming", False) and not getattr(response, "is_async", False):
            # A streamed export reads while the server sends it, after this method has returned.
            response.streaming_content = _with_replica_reads(response.streaming_content)
        return response

    def process_view(self, request, view_func, view_args, view_kwargs):
        match = request.resolver_match
        if (replica_configured() and request.method in SAFE_METHODS and match is not None
                and match.view_name in REPLICA_URL_NAMES):
            _reads_from_replica.set(True)


def _with_replica_reads(chunks):
    with replica_reads():
        yield from chunks
