"""The regency and village pages measured in-process through the Django test Client, one client.

On a regency the caller built with ``benchmarks.regency.build``: a Dinsos officer of the regency and the
operator of the largest village (signed in with ``force_login``, so no password hashing is timed) ask for
each page ``samples`` times after a warm-up; the p95 is compared with the issue's one-client target, and the
number of SQL queries of each page is reported beside it (constant whatever the village's size, pinned by
tests). This isolates the database and rendering work from the HTTP stack; ``benchmarks.pages`` measures
the same pages through gunicorn with 1 and 8 clients.
"""
from __future__ import annotations

import random
import statistics
import time

from django.db import connection
from django.test.utils import CaptureQueriesContext

from .table import Figure, below

# p95 targets with one client (issue 14).
VILLAGE_MS, REGENCY_MS = 60, 100


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def _users(village: str):
    from accounts.models import Role, User

    users = {}
    for username, role, area in (("bench-dinsos", Role.DINSOS, village[:5]),
                                 ("bench-operator", Role.VILLAGE_OPERATOR, village)):
        user, _created = User.objects.get_or_create(username=username, defaults={"role": role, "area_id": area})
        user.role, user.area_id, user.must_change_password = role, area, False
        user.save()
        users[role] = user
    return users[Role.DINSOS], users[Role.VILLAGE_OPERATOR]


def _pages(village: str) -> list[tuple[str, str, list[str], float]]:
    """(name, who, paths, target ms) with real rounds, families and names of the bench regency."""
    from verification.views import ENTRIES_PER_PAGE

    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM verification_verificationround WHERE village_id = %s ORDER BY id DESC LIMIT 1",
                       [village])
        round_id = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM verification_roundfamily WHERE round_id = %s", [round_id])
        last_page = max(1, (cursor.fetchone()[0] + ENTRIES_PER_PAGE - 1) // ENTRIES_PER_PAGE)
        cursor.execute("SELECT id FROM verification_roundfamily WHERE round_id = %s ORDER BY random() LIMIT 30",
                       [round_id])
        entries = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT m.name FROM registry_member m JOIN registry_family f ON f.id = m.family_id "
                       "WHERE f.village_id = %s AND m.relationship = 'head' ORDER BY random() LIMIT 30", [village])
        names = [r[0].split()[0] for r in cursor.fetchall()]
    base = f"/verval/{round_id}/"
    return [
        ("village round list, first page", "operator", [base], VILLAGE_MS),
        ("village round list, last page", "operator", [f"{base}?page={last_page}"], VILLAGE_MS),
        ("village round list, search by name", "operator", [f"{base}?q={n}" for n in names], VILLAGE_MS),
        ("village round list, filter desil 1 + undecided", "operator",
         [f"{base}?desil=1", f"{base}?desil=3&status=undecided"], VILLAGE_MS),
        ("family verval page", "operator", [f"{base}keluarga/{e}/" for e in entries], VILLAGE_MS),
        ("Dinsos home dashboard", "dinsos", ["/"], REGENCY_MS),
        ("Dinsos rounds list (regency)", "dinsos", ["/verval/"], REGENCY_MS),
        ("Dinsos review queue", "dinsos", ["/verval/?state=submitted"], REGENCY_MS),
    ]


def largest_village() -> str:
    with connection.cursor() as cursor:
        if "verification_villagedesiltally" in connection.introspection.table_names(cursor):
            cursor.execute("SELECT village_id FROM verification_villagedesiltally GROUP BY village_id "
                           "ORDER BY sum(families) DESC LIMIT 1")
            row = cursor.fetchone()
            if row:
                return row[0]
        cursor.execute("SELECT village_id FROM registry_family GROUP BY 1 ORDER BY count(*) DESC LIMIT 1")
        return cursor.fetchone()[0]


def run(*, samples: int = 30, log=print) -> list[Figure]:
    """p95 (ms) of each page with one client in-process, against the issue's targets."""
    from django.conf import settings
    from django.test import Client, override_settings

    village = largest_village()
    dinsos, operator = _users(village)
    clients = {}
    for who, user in (("dinsos", dinsos), ("operator", operator)):
        clients[who] = Client()
        clients[who].force_login(user)
    rng = random.Random(14)
    figures = []
    # Plain static storage: the hashed manifest needs collectstatic, and looking a name up in it costs the same.
    storages = {**settings.STORAGES,
                "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}
    with override_settings(ALLOWED_HOSTS=["testserver"], SECURE_SSL_REDIRECT=False, STORAGES=storages):
        for name, who, paths, target in _pages(village):
            client = clients[who]
            for path in paths[:3]:  # warm: plans, caches, the session
                client.get(path)
            times, queries = [], 0
            for _ in range(samples):
                path = rng.choice(paths)
                with CaptureQueriesContext(connection) as captured:
                    started = time.perf_counter()
                    answer = client.get(path)
                    times.append((time.perf_counter() - started) * 1000)
                if answer.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {answer.status_code}")
                queries = max(queries, len(captured))
            p95 = _p95(times)
            figures.append(below(f"{name}, p95, 1 client in-process", p95, target, unit="ms",
                                 baseline_label=f"median {statistics.median(times):,.1f} ms, {queries} queries"))
            log(f"  {name}: p95 {p95:.1f} ms, median {statistics.median(times):.1f} ms, {queries} queries",
                flush=True)
    return figures
