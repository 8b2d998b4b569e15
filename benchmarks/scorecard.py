"""The update cycle's scorecard at a large regency's size: ``python -m benchmarks.scorecard``.

Builds, set-based, one regency of SCORECARD_VILLAGES villages (Pidie, 730) with SCORECARD_ROUNDS rounds (400)
holding SCORECARD_FAMILIES families (1,000,000) in every state of the cycle: events, Musdesus, submissions with
one item per family for the approved rounds. Then times the scorecard selector, the page and the export as a
Dinsos user and prints their query counts. Needs DATABASE_URL=postgres://... (a scratch database is created
beside it and dropped at the end, as ``make bench`` does).
"""
import datetime as dt
import os
import statistics
import time

REGENCY = "11.07"  # Kabupaten Pidie: 730 villages, more than most regencies


def _build(*, rounds: int, families: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import Role, User
    from central.models import Submission, SubmissionItem
    from registry.models import Family, Region
    from verification.models import Musdesus, RoundEvent, RoundFamily, RoundState, VerificationRound
    from verification.services import cycle_of, period_ensure

    today = timezone.localdate()
    period = period_ensure(code=cycle_of(today))
    villages = list(Region.objects.filter(code__startswith=f"{REGENCY}.", level=Region.Level.VILLAGE)
                    .order_by("code").values_list("code", flat=True))[:rounds]
    operator = User.objects.create(username="bench-operator", role=Role.VILLAGE_OPERATOR, area_id=villages[0])
    User.objects.create(username="bench-dinsos", role=Role.DINSOS, area_id=REGENCY)

    # Families: every column Django would write, generated in the database.
    values = {"kk_number": "lpad(g::text, 16, '0')", "central_id": "'B' || g", "origin": "'central'",
              "village_id": "(%s::text[])[1 + g %% %s]", "desil": "1 + g %% 10", "version": "1",
              "created_at": "now()", "updated_at": "now()"}
    columns, expressions = [], []
    for f in Family._meta.concrete_fields:
        if f.primary_key:
            continue
        columns.append(f.column)
        expressions.append(values.get(f.column) or ("NULL" if f.null else "false" if f.get_internal_type()
                                                    == "BooleanField" else "''"))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Family._meta.db_table} ({', '.join(columns)}) "
                       f"SELECT {', '.join(expressions)} FROM generate_series(1, %s) g",
                       [villages, len(villages), families])
    print(f"  {families:,} families in {time.perf_counter() - started:.1f}s", flush=True)

    # Rounds in every state of the cycle, by village number.
    states = [RoundState.OPEN, RoundState.IN_VERIFICATION, RoundState.MUSDESUS_HELD, RoundState.SUBMITTED,
              RoundState.RETURNED, RoundState.APPROVED, RoundState.SENT, RoundState.ACKNOWLEDGED]
    VerificationRound.objects.bulk_create(
        VerificationRound(village_id=code, batch_ref=f"{REGENCY}-PKH-BENCH", programme="PKH", period=period,
                          deadline=period.verval_deadline) for code in villages)
    round_ids = dict(VerificationRound.objects.values_list("village_id", "id"))
    by_state = {}
    for n, code in enumerate(villages):
        by_state.setdefault(states[n % len(states)], []).append(round_ids[code])
    for state, ids in by_state.items():
        VerificationRound.objects.filter(pk__in=ids).update(state=state)
    later = [s for s in states if states.index(s) >= states.index(RoundState.MUSDESUS_HELD)]
    submitted = [s for s in states if states.index(s) >= states.index(RoundState.SUBMITTED)]
    approved = [RoundState.APPROVED, RoundState.SENT, RoundState.ACKNOWLEDGED]
    ids_in = lambda group: [i for s in group for i in by_state.get(s, [])]  # noqa: E731
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {RoundFamily._meta.db_table} (round_id, family_id, decision, reason, note, evidence, "
            "is_proposal, return_note, version, flagged, centre_outcome, centre_reason) "
            "SELECT r.id, f.id, CASE WHEN r.state IN %s OR f.id %% 10 < 6 THEN 'eligible' ELSE '' END, '', '', '', "
            "false, '', 1, false, '', '' "
            f"FROM {Family._meta.db_table} f JOIN {VerificationRound._meta.db_table} r ON r.village_id = f.village_id",
            [tuple(str(s) for s in later)])
        cursor.execute(f"ANALYZE {RoundFamily._meta.db_table}")
    print(f"  {RoundFamily.objects.count():,} families in {len(villages)} rounds in "
          f"{time.perf_counter() - started:.1f}s", flush=True)

    now = timezone.now()
    Musdesus.objects.bulk_create(
        Musdesus(round_id=i, held_on=today - dt.timedelta(days=20), place="Balai desa", chair="Kades",
                 document_number=f"BA-BENCH-{i}", recorded_by=operator, signed_off_by=operator,
                 signed_off_at=now - dt.timedelta(days=19)) for i in ids_in(later))
    events = []
    for n, i in enumerate(ids_in(submitted)):
        events.append(RoundEvent(round_id=i, from_state="musdesus_held", to_state="submitted", actor=operator))
        if n % 3 == 0:
            events += [RoundEvent(round_id=i, from_state="submitted", to_state="returned", actor=operator),
                       RoundEvent(round_id=i, from_state="musdesus_held", to_state="submitted", actor=operator)]
    for i in ids_in(approved):
        events.append(RoundEvent(round_id=i, from_state="submitted", to_state="approved", actor=operator))
    RoundEvent.objects.bulk_create(events)
    Submission.objects.bulk_create(
        Submission(round_id=i, state=Submission.State.ACKNOWLEDGED if n % 2 else Submission.State.SENT,
                   sent_at=now, acknowledged_at=now if n % 2 else None) for n, i in enumerate(ids_in(approved)))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        # One result per family of an approved round, one in fifty rejected by the centre.
        cursor.execute(
            f"INSERT INTO {SubmissionItem._meta.db_table} (submission_id, kind, ref, page, entry_id, family_id, "
            "payload, outcome, reason, central_id) "
            "SELECT s.id, 'result', 'r' || e.id, 1, e.id, e.family_id, '{}'::jsonb, "
            "CASE WHEN e.id %% 50 = 0 THEN 'rejected' ELSE 'accepted' END, '', '' "
            f"FROM {Submission._meta.db_table} s JOIN {RoundFamily._meta.db_table} e ON e.round_id = s.round_id", [])
        cursor.execute("ANALYZE")
    print(f"  {SubmissionItem.objects.count():,} submitted items in {time.perf_counter() - started:.1f}s",
          flush=True)


def _timed(fn, repeat: int = 5) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    fn()  # warm the caches once, as a page already visited
    seconds = []
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            fn()
            seconds.append(time.perf_counter() - started)
    return statistics.median(seconds), len(queries.captured_queries)


def run(*, rounds: int, families: int) -> list[tuple]:
    from django.conf import settings
    from django.test import Client, override_settings
    from django.urls import reverse

    from accounts.models import User
    from monitoring import selectors
    from registry.services import regions_load
    from verification.models import UpdatePeriod

    regions_load(only=(REGENCY,))
    print(f"building {rounds} rounds with {families:,} families ...", flush=True)
    _build(rounds=rounds, families=families)
    dinsos = User.objects.get(username="bench-dinsos")
    period = UpdatePeriod.objects.get()
    client = Client()
    client.force_login(dinsos)
    rows = []
    selector_s, selector_q = _timed(lambda: selectors.scorecard(user=dinsos, period=period, regency=dinsos.area))
    card = selectors.scorecard(user=dinsos, period=period, regency=dinsos.area)
    rows.append((f"scorecard selector, {len(card.rows)} rows", f"{selector_s * 1000:.0f} ms", f"{selector_q} queries"))
    print(rows[-1], flush=True)
    # Pages render without collectstatic here, as in the tests.
    with override_settings(STORAGES={**settings.STORAGES, "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}}):
        page_s, page_q = _timed(lambda: client.get(reverse("scorecard")))
        assert client.get(reverse("scorecard")).status_code == 200  # noqa: S101 - a broken page must stop the run
        rows.append(("scorecard page (Dinsos, whole regency)", f"{page_s * 1000:.0f} ms", f"{page_q} queries"))
        export_s, export_q = _timed(lambda: client.get(reverse("scorecard-export", args=["xlsx"])))
        rows.append(("scorecard export (xlsx)", f"{export_s * 1000:.0f} ms", f"{export_q} queries"))
    return rows


def main() -> None:
    from .__main__ import _drop, _scratch_database

    original_url = os.environ.get("DATABASE_URL", "")
    bench_name = _scratch_database()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dtsen_portal.settings")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "testserver"
    import django

    django.setup()
    from django.core.management import call_command

    try:
        call_command("migrate", verbosity=0)
        rows = run(rounds=int(os.environ.get("SCORECARD_ROUNDS", "400")),
                   families=int(os.environ.get("SCORECARD_FAMILIES", "1000000")))
    finally:
        _drop(bench_name, original_url)
    width = max(len(r[0]) for r in rows)
    print()
    for name, measured, queries in rows:
        print(f"{name:<{width}}  {measured:>10}  {queries}")


if __name__ == "__main__":
    main()
