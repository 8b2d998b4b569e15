"""Central ingest, measured as a user meets it: the mock centre (``run_mock_central``, its own process over HTTP)
serves a regency's batch and ``sync_central pull`` (its own process) downloads and applies it. Each pull is
compared with a raw ``COPY`` of the same rows into the same tables, measured in the same run; the pull's peak
RSS is read from the kernel (``wait4``'s ru_maxrss of that process).

Figures: a new regency; the same batch published again unchanged; again with 10% of the families changed; a
new regency whose batch has 1% bad rows (held per row, the rest applied); a new regency again, applied by a
Celery worker with 1, 2 and 4 processes taking the batch's page ranges (``central.stage_batch_pages``),
timed from the task sent to the batch applied. The batches are written into the
mock's own store a chunk at a time (``Store.publish_documents``), so a million families never sit in memory;
the baseline's rows go to CSV files first and only the COPY is timed.
"""
from __future__ import annotations

import csv
import datetime as dt
import json
import os
import re
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.db import connection

from central.ingest import ATTR_FIELDS
from central.mock.store import Store
from central.models import BatchHeldRow, BatchState, CentralBatch, DownloadedPage, SyncCursor
from central.protocol import checksum, combined_checksum
from registry.models import DesilChange, DesilRanking, Family, Member, Region
from registry.services import regions_load
from registry.synthetic import generate_households

from .table import Figure, at_least, at_least_ratio_of_time, below

REGENCY = "12.09"
PAGE_SIZE = 500
CHUNK = 25_000  # families generated at a time (as benchmarks.regency does)
AS_OF = dt.date(2026, 11, 23)
SEED = 2025
TOKEN = "bench-token"  # noqa: S105 - the mock's token, only on this machine
RSS_LIMIT_MB = 512
CHANGED_EVERY = 10  # one family in ten changed
BAD_EVERY = 100  # one family in a hundred broken
FAMILY_COPY_COLUMNS = ["id", "kk_number", "central_id", "origin", "village_id", "dusun", "rt", "rw", "address",
                       *ATTR_FIELDS, "desil", "version", "created_at", "updated_at"]
MEMBER_COPY_COLUMNS = ["family_id", "nik", "name", "sex", "birth_place", "birth_date", "relationship",
                       "education", "occupation", "disability", "life_status", "updated_at"]
RANKING_COPY_COLUMNS = ["family_id", "period", "desil", "score", "source", "created_at"]


def _truncate() -> None:
    # The rankings and the change feed are listed: their link to the family is not a database constraint,
    # so TRUNCATE ... CASCADE does not reach them.
    tables = [Member._meta.db_table, DesilRanking._meta.db_table, DesilChange._meta.db_table, Family._meta.db_table,
              Member.history.model._meta.db_table, Family.history.model._meta.db_table,
              "verification_roundfamily", "verification_roundevent", "verification_verificationround",
              "central_batchclash", "central_batchheldrow", "central_familydigest"]
    with connection.cursor() as cursor:
        cursor.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")


def _downloaded_batch(families: list[dict], suffix: str = "") -> CentralBatch:
    """A batch already downloaded into the portal (for benchmarks that need a register, not a pull)."""
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


# -- the batch and the baseline's rows --------------------------------------------------------------------
class _Regency:
    """Generates the regency chunk by chunk; as each document goes to the mock, its rows go to the baseline's
    CSV files."""

    def __init__(self, families: int, folder: Path):
        self.families, self.folder = families, folder
        self.rows = 0
        self.now = dt.datetime.now(dt.UTC).isoformat()
        self.villages = list(Region.objects.filter(code__startswith=REGENCY + ".", level=Region.Level.VILLAGE)
                             .order_by("code").values_list("code", "name"))

    def documents(self):
        files = {name: open(self.folder / f"{name}.csv", "w", newline="")  # noqa: SIM115 - closed below
                 for name in ("family", "member", "ranking")}
        writers = {name: csv.writer(f, quoting=csv.QUOTE_NONNUMERIC) for name, f in files.items()}
        family_id = 0
        try:
            for chunk, start in enumerate(range(0, self.families, CHUNK)):
                size = min(CHUNK, self.families - start)
                for f in generate_households(self.villages, size, SEED + chunk, as_of=AS_OF,
                                             serial_base=chunk * 200):
                    doc = f.as_json()
                    family_id += 1
                    writers["family"].writerow((
                        family_id, doc["kk_number"], doc["central_id"], "central", doc["village_code"], doc["dusun"],
                        doc["rt"], doc["rw"], doc["address"], *(doc["attrs"][a] for a in ATTR_FIELDS), doc["desil"],
                        1, self.now, self.now))
                    for m in doc["members"]:
                        writers["member"].writerow((
                            family_id, m["nik"], m["name"], m["sex"], m["birth_place"], m["birth_date"],
                            m["relationship"], m["education"], m["occupation"], m["disability"], m["life_status"],
                            self.now))
                    latest = doc["desil_history"][-1]
                    writers["ranking"].writerow((family_id, latest["period"], latest["desil"], latest["score"],
                                                 "central", self.now))
                    self.rows += 1 + len(doc["members"])
                    yield doc
                print(f"  generated {family_id:,} families", flush=True)
        finally:
            for f in files.values():
                f.close()

    def raw_copy(self) -> float:
        """The baseline: the same rows COPYed straight into the register's tables (only the COPY is timed)."""
        started = time.perf_counter()
        with connection.cursor() as cursor:
            for name, table, columns in (("family", Family._meta.db_table, FAMILY_COPY_COLUMNS),
                                         ("member", Member._meta.db_table, MEMBER_COPY_COLUMNS),
                                         ("ranking", DesilRanking._meta.db_table, RANKING_COPY_COLUMNS)):
                with open(self.folder / f"{name}.csv") as source:
                    cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv)", source)
        return time.perf_counter() - started


def _changed(index: int, doc: dict) -> dict:
    if index % CHANGED_EVERY == 0:
        doc["address"] = doc["address"] + " (baru)"
        doc["members"][0]["occupation"] = "Petani"
    return doc


def _broken(index: int, doc: dict) -> dict:
    if index % BAD_EVERY == 7:
        doc["members"][0]["nik"] = "12345"
    return doc


# -- the two processes -------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _start_mock(folder: Path) -> tuple[subprocess.Popen, str]:
    port = _free_port()
    log = folder / "mock.log"
    with open(log, "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", "run_mock_central", "--port", str(port), "--data-dir", str(folder),
             "--token", TOKEN, "--page-size", str(PAGE_SIZE)], cwd=settings.BASE_DIR, stdout=output,
            stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        match = re.search(r"mock central listening on (http://\S+)", log.read_text(errors="replace"))
        if match:
            return process, match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"mock central did not start: {log.read_text(errors='replace')}")


def _pull(base_url: str, folder: Path) -> tuple[float, float, dict]:
    """``sync_central pull`` in its own process: (seconds of the command, peak RSS in MB, its summary)."""
    env = {**os.environ, "CENTRAL_API_URL": base_url, "CENTRAL_API_TOKEN": TOKEN}
    with open(folder / "pull.out", "wb") as output:
        process = subprocess.Popen(  # noqa: S603 - our own manage.py, fixed arguments
            [sys.executable, "manage.py", "sync_central", "pull", "--regency", REGENCY], cwd=settings.BASE_DIR,
            env=env, stdout=output, stderr=subprocess.STDOUT)
        _pid, status, usage = os.wait4(process.pid, 0)
        process.returncode = os.waitstatus_to_exitcode(status)
    text = (folder / "pull.out").read_text(errors="replace")
    if process.returncode != 0:
        raise RuntimeError(f"sync_central pull failed: {text[-2000:]}")
    summary = json.loads(text.strip().splitlines()[-1])
    return float(summary["seconds"]), usage.ru_maxrss / 1024, summary


# The Celery page-range apply is measured with workers of these many processes (BENCH_WORKER_PROCESSES, "1,2,4"):
# the reduced run in the test suite takes one, since at its size the split says nothing.
# An empty value leaves the Celery figures out (the full run's last ones are in docs/performance/ingest.md).
WORKER_PROCESSES = tuple(int(n) for n in os.environ.get("BENCH_WORKER_PROCESSES", "1,2,4").split(",") if n.strip())


def _broker_url() -> str:
    """Redis for the workers' queue and the batch lock: the one configured, else the local server's db 13."""
    url = os.environ.get("CELERY_BROKER_URL", "")
    return url if url.startswith("redis://") else "redis://127.0.0.1:6379/13"


def _worker_pull(base_url: str, folder: Path, processes: int) -> float:
    """A new regency applied by one Celery worker of ``processes`` processes (prefork) taking its page ranges:
    seconds from ``central.pull_batches`` sent to the batch applied."""
    broker = _broker_url()
    queue = f"bench-{os.getpid()}-{processes}"
    env = {**os.environ, "CENTRAL_API_URL": base_url, "CENTRAL_API_TOKEN": TOKEN, "CELERY_BROKER_URL": broker,
           "CELERY_TASK_DEFAULT_QUEUE": queue, "CELERY_TASK_ALWAYS_EAGER": "0",
           "CACHE_URL": broker.rsplit("/", 1)[0] + "/12"}
    env["CACHE_URL"] = env["CACHE_URL"].replace("redis://", "rediscache://", 1)
    log = folder / f"worker-{processes}.log"
    with open(log, "wb") as output:
        worker = subprocess.Popen(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "celery", "-A", "dtsen_portal", "worker", "-Q", queue, "-c", str(processes),
             "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "INFO"],
            cwd=settings.BASE_DIR, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while "ready." not in log.read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"celery worker did not start: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        before = CentralBatch.objects.count()
        started = time.perf_counter()
        subprocess.run(  # noqa: S603 - our own interpreter, fixed arguments
            [sys.executable, "-m", "celery", "-A", "dtsen_portal", "call", "central.pull_batches", "--queue", queue],
            cwd=settings.BASE_DIR, env=env, check=True, capture_output=True, timeout=60)
        while True:
            batch = _latest_batch() if CentralBatch.objects.count() > before else None
            if batch and batch.state in (BatchState.INGESTED, BatchState.QUARANTINED):
                break
            if worker.poll() is not None:
                raise RuntimeError(f"celery worker stopped: {log.read_text(errors='replace')[-2000:]}")
            time.sleep(0.2)
        seconds = time.perf_counter() - started
        if batch.state != BatchState.INGESTED:
            raise RuntimeError(f"the workers held the batch: {batch.last_error}")
        ranges = log.read_text(errors="replace").count("Task central.stage_batch_pages[")
        print(f"  {processes} worker process(es): {seconds:.1f} s, {ranges // 2} page-range tasks", flush=True)
        return seconds
    finally:
        worker.terminate()
        worker.wait(timeout=60)


def _latest_batch() -> CentralBatch:
    return CentralBatch.objects.order_by("-created_at", "-pk").first()


def _history_rows() -> int:
    return Family.history.count() + Member.history.count()


def run(families: int) -> list[Figure]:
    regions_load(only=(REGENCY,))
    _truncate()
    # A fresh mock centre numbers its batches from 1 again: the portal forgets what it saw of another one.
    CentralBatch.objects.all().delete()
    SyncCursor.objects.all().delete()
    DownloadedPage.objects.all().delete()
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        folder = Path(tmp)
        store = Store(folder / "central.sqlite3")
        regency = _Regency(families, folder)
        print(f"ingest: publishing {families:,} families in the mock centre ...", flush=True)
        first = store.publish_documents(REGENCY, "PKH", regency.documents(), PAGE_SIZE)
        rows = regency.rows
        print("ingest: raw COPY baseline ...", flush=True)
        copy_seconds = regency.raw_copy()
        _truncate()
        mock, base_url = _start_mock(folder)
        try:
            print("ingest: sync_central pull of the new regency ...", flush=True)
            new_seconds, new_rss, _summary = _pull(base_url, folder)
            batch = _latest_batch()
            assert batch.state == BatchState.INGESTED and batch.rows_held == 0, batch.last_error  # noqa: S101
            assert Family.objects.count() == families  # noqa: S101 - a wrong run must stop

            print("ingest: the same batch published again, unchanged ...", flush=True)
            store.republish(first["batch_id"], PAGE_SIZE)
            history = _history_rows()
            same_seconds, same_rss, _summary = _pull(base_url, folder)
            batch = _latest_batch()
            assert batch.state == BatchState.INGESTED and batch.families_changed == 0  # noqa: S101
            silent = _history_rows() == history

            print(f"ingest: published again with one family in {CHANGED_EVERY} changed ...", flush=True)
            store.republish(first["batch_id"], PAGE_SIZE, change=_changed)
            history = _history_rows()
            changed_seconds, changed_rss, _summary = _pull(base_url, folder)
            batch = _latest_batch()
            expected = (families + CHANGED_EVERY - 1) // CHANGED_EVERY
            assert batch.families_changed == expected, batch.families_changed  # noqa: S101
            audited = _history_rows() - history  # one family row and one member row per changed family

            print(f"ingest: a new regency with one family in {BAD_EVERY} bad ...", flush=True)
            _truncate()
            store.republish(first["batch_id"], PAGE_SIZE, change=_broken)
            bad_seconds, bad_rss, _summary = _pull(base_url, folder)
            batch = _latest_batch()
            bad = len(range(7, families, BAD_EVERY))
            assert batch.state == BatchState.INGESTED and batch.rows_held == bad  # noqa: S101
            assert BatchHeldRow.objects.filter(batch=batch).count() == bad  # noqa: S101
            assert Family.objects.count() == families - bad  # noqa: S101

            by_workers = {}
            for processes in WORKER_PROCESSES:
                print(f"ingest: a new regency applied by a worker of {processes} process(es) ...", flush=True)
                _truncate()
                DownloadedPage.objects.all().delete()  # a new regency: every page comes from the centre
                store.republish(first["batch_id"], PAGE_SIZE)
                by_workers[processes] = _worker_pull(base_url, folder, processes)
                assert Family.objects.count() == families  # noqa: S101
        finally:
            mock.terminate()
            mock.wait(timeout=30)
    size = f"{families:,} families, {rows:,} rows, {settings.CENTRAL_PULL_PROCESSES} processes"
    copy_label = "raw COPY"
    return [
        at_least_ratio_of_time(f"sync_central pull of a new regency ({size})", new_seconds, copy_seconds, 0.6,
                               baseline_label=copy_label),
        below("  peak RSS of that pull", new_rss, RSS_LIMIT_MB, unit="MB"),
        at_least_ratio_of_time("re-pull of the same batch, unchanged", same_seconds, copy_seconds, 0.8,
                               baseline_label=copy_label),
        at_least("  history rows written by the unchanged re-pull (1 = none)", 1.0 if silent else 0.0, 1.0, unit=""),
        at_least_ratio_of_time(f"re-pull with 1 family in {CHANGED_EVERY} changed ({expected:,}; {audited:,} "
                               "history rows)", changed_seconds, copy_seconds, 0.5, baseline_label=copy_label),
        at_least_ratio_of_time(f"pull of a new regency with 1% bad rows ({bad:,} held with reasons)", bad_seconds,
                               copy_seconds * (families - bad) / families, 0.6, baseline_label=copy_label),
        below("  peak RSS of the pulls (unchanged / changed / bad rows)", max(same_rss, changed_rss, bad_rss),
              RSS_LIMIT_MB, unit="MB"),
        *(at_least_ratio_of_time(f"new regency by Celery page-range tasks, {n} worker process{'es' if n > 1 else ''}",
                                 seconds, copy_seconds, 0.6, baseline_label=copy_label)
          for n, seconds in by_workers.items()),
    ]
