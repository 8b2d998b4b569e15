"""The pages people wait for, measured through gunicorn over HTTP as browsers reach them.

On a regency built by ``benchmarks.regency``: gunicorn serves the bench database with the worker count the
README recommends; real logins (a Dinsos officer of the regency, the operator of the largest village) go
through the login form; each page is asked for by 1 client and then by 8 concurrent clients, and its p95
compared with the issue's target. Then 8 clients mix every page for ``mix_seconds``: no error and no request
over 2 s. Every answer is checked (status 200 and a marker of the content), so a fast error page cannot pass
for a fast page.
"""
from __future__ import annotations

import os
import random
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import requests
from django.db import connection

from .table import Figure, below

BASE_DIR = Path(__file__).resolve().parent.parent
WORKERS = int(os.environ.get("BENCH_GUNICORN_WORKERS", "5"))
PASSWORD = "bench-Pa55word-not-for-use"  # noqa: S105 - a scratch database's accounts


@dataclass
class Page:
    name: str
    role: str  # "dinsos", "operator" or "public"
    paths: list[str]  # one is drawn per request (different searches, families, pages)
    marker: str  # text the answer must contain
    one_ms: float  # p95 targets with 1 and 8 clients
    eight_ms: float | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _users(village: str) -> None:
    from accounts.models import Role, User

    for username, role, area in (("bench-dinsos", Role.DINSOS, village[:5]),
                                 ("bench-operator", Role.VILLAGE_OPERATOR, village)):
        user, _created = User.objects.get_or_create(username=username, defaults={"role": role, "area_id": area})
        user.role, user.area_id, user.must_change_password = role, area, False
        user.set_password(PASSWORD)
        user.save()


def _login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    form = session.get(f"{base}/akun/masuk/", timeout=30)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.text).group(1)
    answer = session.post(f"{base}/akun/masuk/", data={"username": username, "password": PASSWORD,
                                                      "csrfmiddlewaretoken": token},
                          headers={"Referer": f"{base}/akun/masuk/"}, timeout=30)
    if answer.status_code != 200 or "keluar" not in answer.text.lower():
        raise RuntimeError(f"bench login of {username} failed: {answer.status_code}")
    return session


def _pages(village: str) -> list[Page]:
    """The pages of the issue's table, with real families, names and rounds of the bench regency."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM verification_verificationround WHERE village_id = %s", [village])
        round_id = cursor.fetchone()[0]
        cursor.execute("SELECT count(*) FROM verification_roundfamily WHERE round_id = %s", [round_id])
        last_page = (cursor.fetchone()[0] + 49) // 50
        cursor.execute("SELECT id FROM verification_roundfamily WHERE round_id = %s ORDER BY random() LIMIT 50",
                       [round_id])
        entries = [r[0] for r in cursor.fetchall()]
        cursor.execute("SELECT m.name, f.village_id FROM registry_member m JOIN registry_family f ON f.id = "
                       "m.family_id WHERE m.relationship = 'head' ORDER BY random() LIMIT 50")
        heads = cursor.fetchall()
        cursor.execute("SELECT m.name FROM registry_member m JOIN registry_family f ON f.id = m.family_id "
                       "WHERE f.village_id = %s AND m.relationship = 'head' ORDER BY random() LIMIT 50", [village])
        village_heads = [r[0] for r in cursor.fetchall()]
    surnames = sorted({name.split()[-1] for name, _v in heads})
    parts = sorted({name.split()[0] for name, _v in heads})
    village_round = f"/verval/{round_id}/"
    return [
        Page("village round list, first page", "operator", [village_round], "keluarga", 60, 250),
        Page("village round list, last page", "operator", [f"{village_round}?page={last_page}"], "keluarga", 60, 250),
        Page("village round list, search by name", "operator",
             [f"{village_round}?q={n.split()[0]}" for n in village_heads], "keluarga", 60, 250),
        Page("village round list, filter desil 1 + undecided", "operator",
             [f"{village_round}?desil=1", f"{village_round}?desil=3&status=undecided"], "keluarga", 60, 250),
        Page("family verval page", "operator", [f"{village_round}keluarga/{e}/" for e in entries], "NIK", 60, 250),
        Page("Dinsos home dashboard", "dinsos", ["/"], "desil", 100, 400),
        Page("Dinsos rounds list (regency)", "dinsos", ["/verval/"], "verval", 100, 400),
        Page("Dinsos review queue", "dinsos", ["/verval/?state=submitted"], "verval", 100, 400),
        Page("Dinsos family search by name", "dinsos", [f"/keluarga/?q={p}" for p in parts], "keluarga", 80, None),
        Page("API families q= (surname)", "dinsos", [f"/api/v1/families/?q={s}" for s in surnames], "results",
             80, None),
        Page("API families search= (full name)", "dinsos",
             [f"/api/v1/families/?search={name}" for name, _v in heads], "results", 80, None),
        Page("Cek Bansos name search", "public",
             [f"/cek-bansos/?village={v}&name={name}" for name, v in heads], "cek", 80, None),
    ]


class Server:
    """gunicorn on a free port, serving the bench database; stopped on exit."""

    def __init__(self, workers: int = WORKERS):
        from django.core.management import call_command

        call_command("collectstatic", interactive=False, verbosity=0)  # production's static files, hashed
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DJANGO_DEBUG": "0", "DJANGO_SECURE_SSL_REDIRECT": "0", "DJANGO_SECURE_COOKIES": "0",
               "TRUSTED_PROXIES": "127.0.0.1",
               # As the README recommends for production: a worker keeps its database connection.
               "DATABASE_CONN_MAX_AGE": os.environ.get("DATABASE_CONN_MAX_AGE", "60")}
        self.process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "gunicorn", "dtsen_portal.wsgi", "--bind", f"127.0.0.1:{self.port}",
             "--workers", str(workers), "--timeout", "120", "--log-level", "warning"],
            cwd=BASE_DIR, env=env)
        for _ in range(300):
            try:
                if requests.get(f"{self.base}/healthz", timeout=10).status_code in (200, 503):
                    return
            except requests.RequestException:
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("gunicorn did not start")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            self.process.wait(30)


def _fetch(session: requests.Session, base: str, page: Page, rng: random.Random) -> tuple[float, str]:
    """One request; returns (milliseconds, problem or '')."""
    path = rng.choice(page.paths)
    headers = {"X-Forwarded-For": f"10.{rng.randrange(256)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"}
    started = time.perf_counter()
    try:
        answer = session.get(base + path, headers=headers, timeout=60, allow_redirects=False)
    except requests.RequestException as exc:
        return (time.perf_counter() - started) * 1000, f"{path}: {exc.__class__.__name__}"
    ms = (time.perf_counter() - started) * 1000
    if answer.status_code != 200:
        return ms, f"{path}: HTTP {answer.status_code}"
    if page.marker.lower() not in answer.text.lower():
        return ms, f"{path}: answer without {page.marker!r}"
    return ms, ""


def _p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def _clients(sessions: dict, base: str, pages: list[Page], clients: int, *, requests_each: int | None = None,
             seconds: float | None = None, seed: int = 0) -> tuple[list[float], list]:
    """``clients`` threads asking for pages drawn from ``pages``: ``requests_each`` requests each, or for
    ``seconds``. Returns every request's milliseconds and the problems seen."""
    times, problems, lock = [], [], threading.Lock()
    stop_at = time.monotonic() + seconds if seconds is not None else None

    def client(n: int) -> None:
        rng = random.Random(seed + n)
        done = 0
        while (done < requests_each) if stop_at is None else (time.monotonic() < stop_at):
            page = rng.choice(pages)
            ms, problem = _fetch(sessions[page.role][n % len(sessions[page.role])], base, page, rng)
            done += 1
            with lock:
                times.append(ms)
                if problem:
                    problems.append(problem)

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return times, problems


def _measure(sessions: dict, base: str, page: Page, clients: int, requests_each: int) -> tuple[list[float], list]:
    return _clients(sessions, base, [page], clients, requests_each=requests_each)


def _mix(sessions: dict, base: str, pages: list[Page], clients: int, seconds: float) -> tuple[list[float], list]:
    return _clients(sessions, base, pages, clients, seconds=seconds, seed=1000)


def largest_village() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT village_id FROM registry_family GROUP BY village_id ORDER BY count(*) DESC LIMIT 1")
        return cursor.fetchone()[0]


def run(*, families: int, mix_seconds: float = 300, samples: int = 40, log=print) -> list[Figure]:
    from django.core.cache import cache

    village = largest_village()
    _users(village)
    pages = _pages(village)
    cache.clear()  # Cek Bansos counts searches per village in the cache; each run starts afresh
    server = Server()
    figures, problems = [], []
    try:
        sessions = {"public": [requests.Session() for _ in range(8)],
                    "dinsos": [_login(server.base, "bench-dinsos") for _ in range(8)],
                    "operator": [_login(server.base, "bench-operator") for _ in range(8)]}
        for page in pages:
            # Warm as a running portal is: every gunicorn worker has served the page once (its templates and
            # plans cached, its connection open) and the rows were read once. One client warmed only the
            # workers it happened to reach; the others' first requests were the first page's slow tail.
            _measure(sessions, server.base, page, 8, 2)
            one, trouble = _measure(sessions, server.base, page, 1, samples)
            problems += trouble
            figures.append(below(f"{page.name}, p95, 1 client", _p95(one), page.one_ms, unit="ms",
                                 baseline_label=f"median {statistics.median(one):,.1f} ms"))
            eight, trouble = _measure(sessions, server.base, page, 8, max(5, samples // 4))
            problems += trouble
            if page.eight_ms:
                figures.append(below(f"{page.name}, p95, 8 clients", _p95(eight), page.eight_ms, unit="ms",
                                     baseline_label=f"median {statistics.median(eight):,.1f} ms"))
            log(f"  {page.name}: p95 {_p95(one):.0f} ms (1) / {_p95(eight):.0f} ms (8)", flush=True)
        cache.clear()
        log(f"  8 clients mixing every page for {mix_seconds:.0f}s ...", flush=True)
        mixed, trouble = _mix(sessions, server.base, pages, 8, mix_seconds)
        problems += trouble
    finally:
        server.stop()
    slowest = max(mixed)
    figures.append(below(f"8 clients mixing the pages for {mix_seconds:.0f}s ({len(mixed):,} requests): "
                         "slowest request", slowest, 2000, unit="ms",
                         baseline_label=f"p95 {_p95(mixed):,.1f} ms"))
    figures.append(below("requests answered wrongly (errors, timeouts, missing content)", len(problems), 1,
                         unit="", baseline_label=f"of {len(mixed):,}"))
    for problem in problems[:10]:
        log(f"  problem: {problem}", flush=True)
    return figures
