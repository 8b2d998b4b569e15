"""Central ingest against a raw COPY of the same rows into the same tables (issue: at least 0.5x), and what
holding the families that clash with the register costs (a few clashes must not slow the batch down)."""
import csv
import datetime as dt
import io
import time

from django.db import connection

from central import clashes
from central.ingest import ATTR_FIELDS, ingest_batch
from central.models import BatchState, CentralBatch, DownloadedPage
from central.protocol import checksum, combined_checksum
from registry.models import DesilRanking, Family, Member, Region
from registry.services import regions_load
from registry.synthetic import generate_households

REGENCY = "12.09"
PAGE_SIZE = 1000


def _truncate() -> None:
    tables = [Member._meta.db_table, DesilRanking._meta.db_table, Family._meta.db_table,
              Member.history.model._meta.db_table, Family.history.model._meta.db_table,
              "verification_roundfamily", "verification_roundevent", "verification_verificationround",
              "central_batchclash"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _copy(cursor, table, columns, rows) -> None:
    buffer = io.StringIO()
    csv.writer(buffer, quoting=csv.QUOTE_NONNUMERIC).writerows(rows)
    buffer.seek(0)
    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", buffer)


def _raw_copy(families: list[dict]) -> float:
    """The baseline: rows already in memory, COPYed straight into the register's tables."""
    now = dt.datetime.now(dt.UTC).isoformat()
    family_columns = ["id", "kk_number", "central_id", "origin", "village_id", "dusun", "rt", "rw", "address",
                      *ATTR_FIELDS, "desil", "version", "created_at", "updated_at"]
    family_rows, member_rows, ranking_rows = [], [], []
    for family_id, f in enumerate(families, start=1):
        family_rows.append((family_id, f["kk_number"], f["central_id"], "central", f["village_code"], f["dusun"],
                            f["rt"], f["rw"], f["address"], *(f["attrs"][a] for a in ATTR_FIELDS), f["desil"], 1,
                            now, now))
        for m in f["members"]:
            member_rows.append((family_id, m["nik"], m["name"], m["sex"], m["birth_place"], m["birth_date"],
                                m["relationship"], m["education"], m["occupation"], m["disability"],
                                m["life_status"], now))
        latest = f["desil_history"][-1]
        ranking_rows.append((family_id, latest["period"], latest["desil"], latest["score"], "central", now))
    started = time.perf_counter()
    with connection.cursor() as cursor:
        _copy(cursor, Family._meta.db_table, family_columns, family_rows)
        _copy(cursor, Member._meta.db_table, ["family_id", "nik", "name", "sex", "birth_place", "birth_date",
                                              "relationship", "education", "occupation", "disability",
                                              "life_status", "updated_at"], member_rows)
        _copy(cursor, DesilRanking._meta.db_table, ["family_id", "period", "desil", "score", "source",
                                                    "created_at"], ranking_rows)
    return time.perf_counter() - started


def _downloaded_batch(families: list[dict], suffix: str = "") -> CentralBatch:
    pages = [families[i:i + PAGE_SIZE] for i in range(0, len(families), PAGE_SIZE)]
    sums = [checksum(p) for p in pages]
    batch = CentralBatch.objects.create(
        batch_id=f"{REGENCY}-PKH-BENCH{suffix}", regency_code=REGENCY, programme="PKH", family_count=len(families),
        member_count=sum(len(f["members"]) for f in families), page_size=PAGE_SIZE, page_count=len(pages),
        checksum=combined_checksum(sums), state=BatchState.DOWNLOADED, pages_done=len(pages))
    for start in range(0, len(pages), 10):
        DownloadedPage.objects.bulk_create(
            DownloadedPage.for_rows(stream="batch", ref=batch.batch_id, number=n + 1, checksum=sums[n], rows=pages[n])
            for n in range(start, min(start + 10, len(pages))))
    return batch


CLASHES = 3  # of each kind: KK clashes, NIK clashes and usulan to link


def _clashing_register(data: list[dict]) -> None:
    """A register holding a few families the batch clashes with, and a few usulan it names by KK."""
    for i in range(CLASHES):
        kk_family = data[100 + i]
        Family.objects.create(kk_number=kk_family["kk_number"], central_id=f"BENCH-KK-{i}",
                              village_id=kk_family["village_code"])
        nik_family = data[200 + i]
        holder = Family.objects.create(kk_number=nik_family["kk_number"][:12] + f"99{i:02d}",
                                       central_id=f"BENCH-NIK-{i}", village_id=nik_family["village_code"])
        person = nik_family["members"][0]
        Member.objects.create(family=holder, nik=person["nik"], name=person["name"], sex=person["sex"],
                              birth_date=person["birth_date"], relationship="head")
        usulan = data[300 + i]
        Family.objects.create(kk_number=usulan["kk_number"], central_id=None, origin=Family.Origin.PROPOSAL,
                              village_id=usulan["village_code"])


def _timed_ingest(batch: CentralBatch, detection: list[float]):
    """Ingest ``batch``; returns (result, seconds) and appends the clash detection's seconds to ``detection``."""
    detect = clashes.clashes_hold_sql

    def timed(cursor, batch):
        started = time.perf_counter()
        try:
            return detect(cursor, batch)
        finally:
            detection.append(time.perf_counter() - started)

    clashes.clashes_hold_sql = timed
    try:
        started = time.perf_counter()
        result = ingest_batch(batch)
        return result, time.perf_counter() - started
    finally:
        clashes.clashes_hold_sql = detect


def run(*, families: int) -> list[tuple]:
    regions_load(only=(REGENCY,))
    villages = list(Region.objects.filter(code__startswith=REGENCY + ".", level=Region.Level.VILLAGE)
                    .values_list("code", "name"))
    print(f"generating {families:,} families ...", flush=True)
    data = [f.as_json() for f in generate_households(villages, families, 2025, as_of=dt.date(2026, 11, 23))]
    rows = families + sum(len(f["members"]) for f in data)

    _truncate()
    print("raw COPY ...", flush=True)
    copy_seconds = _raw_copy(data)
    _truncate()
    batch = _downloaded_batch(data)
    print("ingest ...", flush=True)
    detection: list[float] = []
    result, ingest_seconds = _timed_ingest(batch, detection)
    assert result.families == families and Family.objects.count() == families  # noqa: S101 - a wrong run must stop
    copy_rate, ingest_rate = rows / copy_seconds, rows / ingest_seconds
    print("re-apply into the full register ...", flush=True)
    _again, again_seconds = _timed_ingest(_downloaded_batch(data, "-AGAIN"), detection)

    print(f"ingest with {CLASHES} KK clashes, {CLASHES} NIK clashes, {CLASHES} usulan ...", flush=True)
    _truncate()
    _clashing_register(data)
    held, held_seconds = _timed_ingest(_downloaded_batch(data, "-CLASH"), detection)
    assert held.families_held == 2 * CLASHES  # noqa: S101
    assert Family.objects.filter(origin=Family.Origin.PROPOSAL, central_id__isnull=False).count() == CLASHES  # noqa: S101
    clean, again, clash = detection
    return [
        (f"central ingest, {families:,} families + members ({rows:,} rows)",
         f"{ingest_rate:,.0f} rows/s ({ingest_seconds:.1f}s)", f"raw COPY {copy_rate:,.0f} rows/s "
         f"({copy_seconds:.1f}s)", ingest_rate / copy_rate, ">= 0.50"),
        (f"  same batch, {2 * CLASHES} families held + {CLASHES} usulan linked", f"{held_seconds:.1f}s",
         f"no clash {ingest_seconds:.1f}s", ingest_seconds / held_seconds, ">= 0.80"),
        ("  clash detection: empty / full register / with clashes", f"{clean:.2f}s / {again:.2f}s / {clash:.2f}s",
         f"re-apply {again_seconds:.1f}s", again / again_seconds, "<= 0.10 of the ingest"),
    ]
