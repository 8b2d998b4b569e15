"""Applying a monthly desil publication (rankings, change feed, thresholds, unmatched families, counters),
shown beside a raw COPY of the same rankings into the rankings table (the least any apply can cost), and
rebuilding the KPM list of a payment period from the centre's determinations: each under 10 s at
1,000,000 families."""
import csv
import datetime as dt
import io
import time

from django.db import connection, transaction

from central import desil
from central.models import DesilPublication, DownloadedPage
from central.protocol import checksum, combined_checksum
from distribution.models import Determination, Disbursement, PaymentPeriod
from registry.models import DesilChange, DesilRanking, DesilThreshold, Family, Region
from registry.services import regions_load

from .table import Figure, below

REGENCY = "12.09"
PAGE_SIZE = 1000
PREVIOUS, PERIOD, BASELINE_PERIOD = dt.date(2026, 10, 20), dt.date(2026, 11, 20), dt.date(2026, 9, 20)
UNMATCHED = 1000  # rows naming families the register does not hold
LIMIT_SECONDS = 10
KPM_PROGRAMME, KPM_PERIOD = "BLTS-KESRA", "2025-T4"


def _truncate() -> None:
    tables = [Disbursement._meta.db_table, Determination._meta.db_table,
              DesilChange._meta.db_table, DesilRanking._meta.db_table, DesilThreshold._meta.db_table,
              "central_unmatchedranking", DownloadedPage._meta.db_table, DesilPublication._meta.db_table,
              Family._meta.db_table, "registry_member", "registry_historicalfamily", "registry_historicalmember",
              "verification_roundfamily", "verification_roundevent", "verification_verificationround"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _register(families: int) -> list[str]:
    """``families`` families spread over the regency's villages, ranked in the previous publication: made
    in the database (what they hold does not matter here, only that they exist and are ranked)."""
    villages = list(Region.objects.filter(code__startswith=REGENCY + ".", level=Region.Level.VILLAGE)
                    .values_list("code", flat=True))
    values = []
    for f in Family._meta.concrete_fields:
        if f.name == "id":
            values.append("g")
        elif f.name == "kk_number":
            values.append("lpad(g::text, 16, '0')")
        elif f.name == "central_id":
            values.append("'B' || g")
        elif f.name == "village":
            values.append("(%s::text[])[1 + g %% %s]")
        elif f.name == "desil":
            values.append("1 + (g * 7) %% 10")
        elif f.name in ("created_at", "updated_at"):
            values.append("now()")
        elif f.name == "version":
            values.append("1")
        elif f.null:
            values.append("NULL")
        elif f.get_internal_type() == "BooleanField":
            values.append("false")
        else:
            values.append("''")
    columns = ", ".join(f.column for f in Family._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {Family._meta.db_table} ({columns}) SELECT {', '.join(values)} "
                       "FROM generate_series(1, %s) g", [villages, len(villages), families])
        cursor.execute(f"INSERT INTO {DesilRanking._meta.db_table} (family_id, period, desil, score, source, "
                       f"created_at) SELECT id, %s, desil, desil * 3 - 1.5, 'central', now() "
                       f"FROM {Family._meta.db_table}", [PREVIOUS])
        cursor.execute(f"SELECT setval(pg_get_serial_sequence('{Family._meta.db_table}', 'id'), %s)", [families])
        if connection.in_atomic_block:  # the reduced run inside a test's transaction
            cursor.execute("ANALYZE")
        else:
            # The register a publication meets has stood for a month: autovacuum has been over it (hint bits
            # and visibility map set) and its load has long been checkpointed. Without this, the apply
            # would pay once for the fresh million rows' hint bits and compete with the load's checkpoint.
            cursor.execute(f"VACUUM (ANALYZE) {Family._meta.db_table}, {DesilRanking._meta.db_table}")
            cursor.execute("ANALYZE")
            cursor.execute("CHECKPOINT")
    return villages


def _rows(families: int, villages: list[str]) -> list[dict]:
    """The new publication: three families in ten change desil (4 -> 5 left, 5 -> 4 entered, 1 -> 2 within),
    plus families the register lacks."""
    rows = []
    for g in range(1, families + 1):
        old = 1 + (g * 7) % 10  # g ending in 9: desil 4, in 2: desil 5, in 0: desil 1
        new = old + 1 if g % 10 in (0, 9) else old - 1 if g % 10 == 2 else old
        rows.append({"central_id": f"B{g}", "village_code": villages[g % len(villages)], "desil": new,
                     "score": round(new * 3 - 1.5 + (g % 100) / 100, 3)})
    rows += [{"central_id": f"U{n}", "village_code": villages[n % len(villages)], "desil": 1 + n % 10,
              "score": float(n % 30)} for n in range(UNMATCHED)]
    return rows


def _publication(rows: list[dict]) -> tuple[DesilPublication, float]:
    """The publication's pages stored as the download stores them (JSON, and the rows checked as CSV: work
    done as each page arrives); returns it with the seconds that preparing the pages took in Python."""
    pages = [rows[i:i + PAGE_SIZE] for i in range(0, len(rows), PAGE_SIZE)]
    sums = [checksum(p) for p in pages]
    ref, staging = PERIOD.isoformat(), 0.0
    for start in range(0, len(pages), 50):
        started = time.perf_counter()
        stored = [desil.stored_page(ref=ref, number=n + 1, checksum=sums[n], rows=pages[n])
                  for n in range(start, min(start + 50, len(pages)))]
        staging += time.perf_counter() - started
        DownloadedPage.objects.bulk_create(stored)
    publication = DesilPublication.objects.create(period=PERIOD, row_count=len(rows), page_count=len(pages),
                                                  checksum=combined_checksum(sums))
    return publication, staging


def _raw_copy(rows: list[dict]) -> float:
    """The baseline: the rankings already resolved to family ids, COPYed straight into the rankings table."""
    now = dt.datetime.now(dt.UTC).isoformat()
    matched = [(int(r["central_id"][1:]), BASELINE_PERIOD, r["desil"], r["score"], "central", now)
               for r in rows if r["central_id"].startswith("B")]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(matched)
    buffer.seek(0)
    started = time.perf_counter()
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.copy_expert(f"COPY {DesilRanking._meta.db_table} (family_id, period, desil, score, source, "
                           "created_at) FROM STDIN WITH (FORMAT csv)", buffer)
    seconds = time.perf_counter() - started
    DesilRanking.objects.filter(period=BASELINE_PERIOD).delete()
    if not connection.in_atomic_block:  # the apply measured next finds the table as it was, not a million dead rows
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM {DesilRanking._meta.db_table}")
            cursor.execute("CHECKPOINT")
    return seconds


class _NoDownload:
    def desil_page(self, period, number):  # every page is stored already
        raise AssertionError(f"page {number} of {period} should have been stored")


def _determinations() -> int:
    """The centre's determinations for the KPM period: every family in desil 1-4, once per month of the
    period (made in the database)."""
    period = PaymentPeriod.objects.get(programme_id=KPM_PROGRAMME, code=KPM_PERIOD)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {Determination._meta.db_table} (determination_id, central_id, family_id, village_id, "
            "programme, period, status, receipt_id, received_at) SELECT 'B' || f.id || '-' || m, f.central_id, "
            f"f.id, f.village_id, %s, m, 'kpm', '', now() FROM {Family._meta.db_table} f "
            "CROSS JOIN unnest(%s::text[]) m WHERE f.desil <= 4", [KPM_PROGRAMME, period.months])
        created = cursor.rowcount
        cursor.execute("ANALYZE")
    return created


def _kpm(families: int) -> Figure:
    from accounts.models import Role, User
    from distribution.services import kpm_build

    print("desil: determinations for the KPM list ...", flush=True)
    determined = _determinations()
    user, _created = User.objects.update_or_create(username="bench-kpm",
                                                   defaults={"role": Role.DINSOS, "area_id": REGENCY})
    period = PaymentPeriod.objects.get(programme_id=KPM_PROGRAMME, code=KPM_PERIOD)
    print("desil: KPM list ...", flush=True)
    started = time.perf_counter()
    added = kpm_build(actor=user, period_id=period.pk)
    seconds = time.perf_counter() - started
    assert added == Disbursement.objects.filter(period=period).count() > 0  # noqa: S101 - a wrong run must stop
    copy_seconds = _kpm_raw_copy(period)
    print(f"desil: KPM list of {added:,} families in {seconds:.1f}s (raw COPY {copy_seconds:.1f}s)", flush=True)
    return below(f"KPM list rebuilt for {families:,} families ({added:,} KPM from {determined:,} determinations)",
                 seconds, LIMIT_SECONDS, unit="s", baseline=copy_seconds, baseline_label="raw COPY of the list")


def _kpm_raw_copy(period: PaymentPeriod) -> float:
    """The least the list can cost: the same disbursements removed and COPYed back into the table."""
    table = Disbursement._meta.db_table
    columns = "family_id, programme_id, period_id, channel, amount_planned, amount_paid, status, reason, updated_at"
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {table} WHERE period_id = %s", [period.pk])
        buffer = io.StringIO()
        csv.writer(buffer).writerows(cursor.fetchall())
        buffer.seek(0)
        cursor.execute(f"DELETE FROM {table} WHERE period_id = %s", [period.pk])
        if not connection.in_atomic_block:  # the table as the build found it: no dead rows in the way
            cursor.execute(f"VACUUM {table}")
        started = time.perf_counter()
        with transaction.atomic():
            cursor.copy_expert(f"COPY {table} ({columns}) FROM STDIN WITH (FORMAT csv, FORCE_NOT_NULL (reason))",
                               buffer)
        return time.perf_counter() - started


def run(*, families: int) -> list[Figure]:
    regions_load(only=(REGENCY,))
    _truncate()
    print(f"desil: {families:,} families ranked in the previous publication ...", flush=True)
    rows = _rows(families, _register(families))
    publication, staging_seconds = _publication(rows)
    print("desil: raw COPY ...", flush=True)
    copy_seconds = _raw_copy(rows)
    print("desil: apply ...", flush=True)
    started = time.perf_counter()
    ranked = desil.apply_publication(publication=publication, client=_NoDownload())
    apply_seconds = time.perf_counter() - started
    publication.refresh_from_db()
    expected_changes = sum(1 for g in range(1, families + 1) if g % 10 in (0, 2, 9))
    assert ranked == families and publication.unknown_count == UNMATCHED  # noqa: S101 - a wrong run must stop
    assert publication.changed_count == expected_changes  # noqa: S101
    print("desil: apply again (nothing changes) ...", flush=True)
    started = time.perf_counter()
    desil.apply_publication(publication=publication, client=_NoDownload())
    again_seconds = time.perf_counter() - started
    print(f"desil: applied in {apply_seconds:.1f}s (raw COPY {copy_seconds:.1f}s), again in {again_seconds:.1f}s",
          flush=True)
    return [
        below(f"desil publication applied, {families:,} families ({publication.changed_count:,} changes, "
              f"{UNMATCHED:,} not in the register; the download prepared its {publication.page_count:,} pages, "
              f"JSON and checked CSV, in {staging_seconds:.1f} s as they arrived)", apply_seconds, LIMIT_SECONDS,
              unit="s", baseline=copy_seconds,
              baseline_label="raw COPY of the rankings"),
        below("desil publication applied again (no change)", again_seconds, LIMIT_SECONDS, unit="s",
              baseline=apply_seconds, baseline_label="first apply"),
        _kpm(families),
    ]
