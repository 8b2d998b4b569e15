"""Central ingest against a raw COPY of the same rows into the same tables (issue: at least 0.5x)."""
import csv
import datetime as dt
import io
import time

from django.db import connection

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
              "verification_roundfamily", "verification_roundevent", "verification_verificationround"]
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


def _downloaded_batch(families: list[dict]) -> CentralBatch:
    pages = [families[i:i + PAGE_SIZE] for i in range(0, len(families), PAGE_SIZE)]
    sums = [checksum(p) for p in pages]
    batch = CentralBatch.objects.create(
        batch_id=f"{REGENCY}-PKH-BENCH", regency_code=REGENCY, programme="PKH", family_count=len(families),
        member_count=sum(len(f["members"]) for f in families), page_size=PAGE_SIZE, page_count=len(pages),
        checksum=combined_checksum(sums), state=BatchState.DOWNLOADED, pages_done=len(pages))
    for start in range(0, len(pages), 10):
        DownloadedPage.objects.bulk_create(
            DownloadedPage.for_rows(stream="batch", ref=batch.batch_id, number=n + 1, checksum=sums[n], rows=pages[n])
            for n in range(start, min(start + 10, len(pages))))
    return batch


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
    started = time.perf_counter()
    result = ingest_batch(batch)
    ingest_seconds = time.perf_counter() - started
    assert result.families == families and Family.objects.count() == families  # noqa: S101 - a wrong run must stop
    copy_rate, ingest_rate = rows / copy_seconds, rows / ingest_seconds
    return [(f"central ingest, {families:,} families + members ({rows:,} rows)",
             f"{ingest_rate:,.0f} rows/s ({ingest_seconds:.1f}s)", f"raw COPY {copy_rate:,.0f} rows/s "
             f"({copy_seconds:.1f}s)", ingest_rate / copy_rate, ">= 0.50")]
