"""Name search in a regency of a million families: p95 of the database work of the three searches, one client.

Runs on the database the caller built with ``benchmarks.regency.build`` (migrated, so the search indexes of
``registry`` migration 0004 exist). The names searched are taken from that register: the full names (and
last words, as surnames) of members drawn at random, so most are common names (the generator draws from a
few dozen first names, second names and marga), the hard case where a search must stop at its limit.

A fifth figure searches part of a word (a surname
without its first two letters), which no name has as a word, so the trigram index answers it.

Each figure is the p95 of the database work (the time of each query, from the driver's call to its last
row, summed per search; the wall-clock time with Python is logged beside it), driven through the project's
own code: the
Dinsos family list (``FamilyFilter`` on ``selectors.family_list`` with the paginator's COUNT and the first
page), the API families list (the same filter on the API's queryset, its cursor page of 51 ordered by -id
with members and rankings prefetched) for ``?search=`` full name and ``q=`` surname, and Cek Bansos
(``distribution.services.recipients_named``, after the rate limits, for a living member's full name in
their village). The baseline is the query shape before this work (EXISTS ... UPPER(name) LIKE '%...%' over
every member, a full COUNT, DRF's SearchFilter joining members), timed a few times in the same run.

Families and members are vacuumed first (see ``run``). Everything else runs in one transaction that is
rolled back: the Dinsos user, and KPM determinations for the
families of desil 1-4 (so Cek Bansos has recipients to look for), leave nothing behind.
"""
from __future__ import annotations

import functools
import operator
import random
import statistics
import time

from django.core.paginator import Paginator
from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.test.utils import CaptureQueriesContext

from accounts.models import Role, User
from accounts.scope import scope_queryset
from distribution.models import Determination
from distribution.services import recipients_named
from registry import selectors
from registry.api.views import FamilyViewSet
from registry.filters import FamilyFilter
from registry.models import Family, Member, Region

from .regency import REGENCY
from .table import Figure, below

TARGET_MS = 80.0
PAGE = 25  # registry.views.FAMILIES_PER_PAGE
API_PAGE = 51  # the cursor paginator reads page_size + 1


def _p95(times: list[float]) -> float:
    return statistics.quantiles(times, n=20, method="inclusive")[-1] if len(times) > 1 else times[0]


WALL: dict[str, list[float]] = {}  # wall-clock of the last _timed call, Python included, for the log


def _timed(work, inputs) -> list[float]:
    """Milliseconds of database work per input: the time of each query from the driver's call to its last
    row (Django's query log), summed. The wall-clock time, Python included, is kept in WALL["last"]: on a
    loaded shared machine it mostly measures how long the process waited for a core."""
    times, wall = [], []
    for item in inputs:
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            work(item)
            wall.append((time.perf_counter() - started) * 1000)
        times.append(sum(float(q["time"]) for q in queries.captured_queries) * 1000)
    WALL["last"] = wall
    return times


def _wall() -> str:
    wall = WALL["last"]
    return f"(wall-clock with Python: p95 {_p95(wall):.1f} ms, median {statistics.median(wall):.1f} ms)"


def _family_list(user, text: str) -> None:
    family_filter = FamilyFilter({"q": text}, queryset=selectors.family_list(user=user))
    families = family_filter.qs if family_filter.is_valid() else family_filter.queryset.none()
    page = Paginator(families, PAGE).get_page(1)
    list(page.object_list)


def _family_list_before(user, text: str) -> None:
    name_match = Member.objects.filter(family=OuterRef("pk"), name__icontains=text)
    families = selectors.family_list(user=user).filter(Exists(name_match) | Q(address__icontains=text))
    page = Paginator(families, PAGE).get_page(1)
    list(page.object_list)


def _api_queryset(user):
    return scope_queryset(user, FamilyViewSet().base_queryset())


def _api(user, params: dict) -> None:
    family_filter = FamilyFilter(params, queryset=_api_queryset(user))
    if not family_filter.is_valid():
        return
    list(family_filter.qs.order_by("-id")[:API_PAGE])


def _api_before(user, params: dict) -> None:
    families = _api_queryset(user)
    if "q" in params:  # FamilyFilter.filter_q before: EXISTS over the members or the address
        name_match = Member.objects.filter(family=OuterRef("pk"), name__icontains=params["q"])
        families = families.filter(Exists(name_match) | Q(address__icontains=params["q"]))
    else:  # DRF SearchFilter on ["=kk_number", "=members__nik", "members__name"], then distinct
        terms = params["search"].split()
        families = families.filter(functools.reduce(operator.and_, [
            Q(kk_number__iexact=t) | Q(members__nik__iexact=t) | Q(members__name__icontains=t) for t in terms
        ])).distinct()
    list(families.order_by("-id")[:API_PAGE])


def _members(rng: random.Random, n: int) -> list[tuple[str, str]]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT min(id), max(id) FROM {Member._meta.db_table}")
        low, high = cursor.fetchone()
    picked = rng.sample(range(low, high + 1), min(n * 3, high - low + 1))
    rows = list(Member.objects.filter(pk__in=picked, life_status=Member.LifeStatus.PRESENT,
                                      family__village__pk__startswith=REGENCY + ".")
                .values_list("name", "family__village_id"))
    rng.shuffle(rows)
    return rows[:n]


def _with_recipients() -> int:
    """KPM determinations for the regency's families of desil 1-4 (rolled back with the run)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Determination._meta.db_table} (determination_id, central_id, family_id, village_id, "
            "programme, period, status, receipt_id, received_at) "
            "SELECT 'BENCH-' || f.id, COALESCE(f.central_id, f.kk_number), f.id, f.village_id, 'PKH', "
            f"'2026-11', 'kpm', '', now() FROM {Family._meta.db_table} f "
            "WHERE f.village_id LIKE %s AND f.desil <= 4", [REGENCY + ".%"])
        count = cursor.rowcount
        cursor.execute(f"ANALYZE {Determination._meta.db_table}")
    return count


def run(*, families: int | None = None, samples: int = 60, baseline_samples: int = 3, seed: int = 14,
        vacuum: bool = True, log=print) -> list[Figure]:
    """Time the searches on the regency already in the database (of ``families`` families, for the labels);
    return their figures.

    ``vacuum`` first runs ``VACUUM (ANALYZE)`` on families and members, as autovacuum does after a bulk load
    (the bench cluster runs with autovacuum off): until then PostgreSQL cannot answer from indexes alone,
    which Cek Bansos' plan relies on."""
    size = f" ({families:,} families)" if families else ""
    rng = random.Random(seed)
    figures: list[Figure] = []
    if vacuum:
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for model in (Family, Member):
                cursor.execute(f"VACUUM (ANALYZE) {model._meta.db_table}")
        log(f"  search: VACUUM (ANALYZE) of families and members in {time.perf_counter() - started:.1f} s",
            flush=True)
    with transaction.atomic():
        user = User.objects.create(username="bench-search-dinsos", role=Role.DINSOS, area_id=REGENCY)
        log(f"  search: {_with_recipients():,} KPM determinations for Cek Bansos (rolled back after)", flush=True)
        people = _members(rng, samples)
        full_names = [name for name, _village in people]
        surnames = [name.split()[-1] for name in full_names]
        villages = {code: Region.objects.get(code=code) for code in {v for _name, v in people}}
        log(f"  search: {len(people)} names drawn, e.g. {full_names[:3]}", flush=True)

        for work in (lambda t: _family_list(user, t), lambda t: _api(user, {"search": t})):
            work(full_names[0])  # warm the connection and the plan caches alike for both sides

        cases = [
            ("Dinsos family list, q= full name", lambda t: _family_list(user, t),
             lambda t: _family_list_before(user, t), full_names),
            ("API families ?search= full name", lambda t: _api(user, {"search": t}),
             lambda t: _api_before(user, {"search": t}), full_names),
            ("API families q= surname", lambda t: _api(user, {"q": t}),
             lambda t: _api_before(user, {"q": t}), surnames),
        ]
        for label, after, before, texts in cases:
            times = _timed(after, texts)
            wall = _wall()
            baseline = _timed(before, texts[:baseline_samples])
            log(f"  search: {label}: p95 {_p95(times):.1f} ms, median {statistics.median(times):.1f} ms over "
                f"{len(times)} {wall}; before, median of "
                f"{len(baseline)}: {statistics.median(baseline):.0f} ms", flush=True)
            figures.append(below(f"name search p95 (database), 1 client: {label}{size}", _p95(times),
                                 TARGET_MS, unit="ms", baseline=statistics.median(baseline),
                                 baseline_label=f"before (median of {len(baseline)})"))

        # Part of a word ("ndayani", "regar"): no name has it as a word, so the trigram index answers.
        parts = [word[2:] for word in surnames if len(word) >= 6]
        times = _timed(lambda t: _family_list(user, t), parts)
        log(f"  search: family list, part of a word: p95 {_p95(times):.1f} ms, median "
            f"{statistics.median(times):.1f} ms over {len(times)} {_wall()}", flush=True)
        figures.append(below(f"name search p95 (database), 1 client: Dinsos family list, q= part of a word{size}",
                             _p95(times), TARGET_MS, unit="ms"))

        times = _timed(lambda p: recipients_named(village=villages[p[1]], name=p[0]), people)
        log(f"  search: Cek Bansos: p95 {_p95(times):.1f} ms, median {statistics.median(times):.1f} ms over "
            f"{len(times)} {_wall()}", flush=True)
        figures.append(below(f"name search p95 (database), 1 client: Cek Bansos, full name in a village{size}",
                             _p95(times), TARGET_MS, unit="ms"))

        bad = ["siti " * 200, "%" * 1000, "%%%", "___", " " * 50]
        times = _timed(lambda t: _family_list(user, t), bad * 4)
        log(f"  search: refused input: {sum(times):.2f} ms of database work in all {_wall()}", flush=True)
        figures.append(below("search refused (1,000 characters, only % / _ / spaces): p95 wall-clock, 1 client",
                             _p95(WALL["last"]), TARGET_MS, unit="ms"))
        transaction.set_rollback(True)
    return figures
