"""The mock central's own storage: one SQLite file (``DATA_DIR/central.sqlite3``), kept across restarts.

Every read opens a short-lived connection (WAL lets readers run beside the writer); every write runs in one
``BEGIN IMMEDIATE`` transaction under a single process-wide lock, so counters, sequence numbers and the
idempotency check never race. Cursors handed to clients are the integer ``seq`` of the last item returned.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path
from typing import NamedTuple

from central.protocol import canonical_json, checksum, combined_checksum
from registry.pmt import pmt_score, rank_deciles
from registry.synthetic import FamilyData

from .decide import decide_submission
from .payload import ITEM_LISTS, KINDS, Page
from .schema import item_ordinal, migrate

COUNTERS = ("requests_total", "submission_requests", "faults_fail", "faults_timeout", "faults_drop",
            "faults_duplicate", "proposals_accepted")
DECIDED = ("accepted", "partial", "rejected")
DEADLINE_DAYS = 30


class CanonicalAnswer(NamedTuple):
    """An answer already encoded as canonical JSON (sent as it is), with the page count it is a page of."""
    data: bytes
    page_count: int


class IdempotencyConflict(Exception):
    """The (key, page) is stored with a different body, or the key's header fields differ."""


class RefConflict(ValueError):
    """An item ref already used by another stored page of the same submission."""


class NotDecided(Exception):
    """Outcomes asked for before the centre decided the submission."""


class InvalidCursor(ValueError):
    """A ``since`` value that is not one of our cursors."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def cycle_of(day: dt.date) -> str:
    """The quarterly update cycle a day belongs to: ``YYYY-Qn``."""
    return f"{day.year}-Q{(day.month - 1) // 3 + 1}"


def parse_cursor(since: str | None) -> int:
    if since in (None, ""):
        return 0
    if not since.isdigit() or len(since) > 18:
        raise InvalidCursor(since)
    return int(since)


def _pages(items: Sequence, page_size: int) -> list[list]:
    return [list(items[start:start + page_size]) for start in range(0, len(items), page_size)]


def _batch_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("batch_id", "regency", "programme", "published_at", "deadline", "cycle",
                                      "family_count", "member_count", "page_size", "page_count", "checksum")}


def _publication_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("period", "published_at", "row_count", "page_size", "page_count",
                                      "checksum")}


def _outcome_json(row: sqlite3.Row) -> dict:
    outcome = {"ref": row["ref"], "kind": row["kind"], "outcome": row["outcome"], "reason": row["reason"] or ""}
    if row["new_central_id"] and row["outcome"] == "accepted":
        outcome["central_id"] = row["new_central_id"]
    return outcome


def _determination_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("determination_id", "central_id", "kk_number", "regency", "village_code",
                                      "programme", "period", "status", "receipt_id")}

def _batch_record(conn, *, batch_id: str, regency: str, programme: str, deadline: dt.date | None, cycle: str | None,
                  today: dt.date, families: int, members: int, page_size: int, page_sums: list[str]) -> dict:
    """Store a batch's listing and page checksums (defaults: the cycle of today, a deadline 30 days on); answer
    the batch object as the centre lists it."""
    batch = {
        "batch_id": batch_id, "regency": regency, "programme": programme, "published_at": utc_now(),
        "deadline": (deadline or today + dt.timedelta(days=DEADLINE_DAYS)).isoformat(),
        "cycle": cycle or cycle_of(today), "family_count": families, "member_count": members,
        "page_size": page_size, "page_count": len(page_sums), "checksum": combined_checksum(page_sums),
    }
    conn.execute(
        "INSERT INTO batches (batch_id, regency, programme, published_at, deadline, cycle, family_count, "
        "member_count, page_size, page_count, checksum) VALUES (:batch_id, :regency, :programme, "
        ":published_at, :deadline, :cycle, :family_count, :member_count, :page_size, :page_count, :checksum)",
        batch)
    conn.executemany("INSERT INTO batch_pages (batch_id, page, checksum) VALUES (?, ?, ?)",
                     [(batch_id, number, page_sum) for number, page_sum in enumerate(page_sums, 1)])
    return batch


class Store:
    """All the mock central's state. Safe to share between the server's threads."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        with closing(self._connect()) as conn:
            # WAL is a property of the file: set once, readers then never block the writer.
            conn.execute("PRAGMA journal_mode=WAL")
        with self._write() as conn:
            migrate(conn)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with closing(self._connect()) as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with self._write_lock, closing(self._connect()) as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    # Counters ---------------------------------------------------------------------------------------------

    def bump(self, *names: str) -> None:
        with self._write() as conn:
            self._bump(conn, *names)

    @staticmethod
    def _bump(conn: sqlite3.Connection, *names: str, by: int = 1) -> None:
        for name in names:
            conn.execute("INSERT INTO counters (name, value) VALUES (?, ?) "
                         "ON CONFLICT (name) DO UPDATE SET value = value + excluded.value", (name, by))

    def counters(self) -> dict[str, int]:
        with self._read() as conn:
            stored = dict(conn.execute("SELECT name, value FROM counters").fetchall())
        return {name: stored.get(name, 0) for name in COUNTERS}

    def stats(self) -> dict:
        """Counters and figures derived from what is stored: re-sent pages add no rows, so they count once."""
        counters = self.counters()
        with self._read() as conn:
            batches, families = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(family_count), 0) FROM batches").fetchone()
            submissions = conn.execute(
                "SELECT COALESCE(SUM(status != 'incomplete'), 0) AS received, "
                "COALESCE(SUM(status = 'accepted'), 0) AS accepted, COALESCE(SUM(status = 'partial'), 0) AS partial, "
                "COALESCE(SUM(status = 'rejected'), 0) AS rejected FROM submissions").fetchone()
            pages = conn.execute("SELECT COUNT(*) FROM submission_pages").fetchone()[0]
            outcomes = {(kind, outcome): count for kind, outcome, count in conn.execute(
                "SELECT kind, outcome, COUNT(*) FROM submission_items WHERE outcome IS NOT NULL "
                "GROUP BY kind, outcome")}
            determinations, withdrawn = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'withdrawn'), 0) FROM determinations").fetchone()
            publications = conn.execute("SELECT COUNT(*) FROM desil_publications").fetchone()[0]
        rejected_by_kind = {kind: outcomes.get((kind, "rejected"), 0) for kind in KINDS}
        return {
            "families_published": families, "batches_published": batches,
            "submissions_received": submissions["received"], "submission_requests": counters["submission_requests"],
            "submission_pages_received": pages, "submissions_accepted": submissions["accepted"],
            "submissions_partial": submissions["partial"], "submissions_rejected": submissions["rejected"],
            **{f"{name}_applied": outcomes.get((kind, "accepted"), 0) for name, kind in ITEM_LISTS},
            "items_rejected": sum(rejected_by_kind.values()), "rejected_by_kind": rejected_by_kind,
            "determinations": determinations, "determinations_withdrawn": withdrawn,
            "desil_publications": publications, "requests_total": counters["requests_total"],
        }

    # Batches ----------------------------------------------------------------------------------------------

    def has_batch(self, regency: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM batches WHERE regency = ? LIMIT 1", (regency,)).fetchone() is not None

    def batch_count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0]

    def publish_batch(self, regency: str, programme: str, families: list[FamilyData], page_size: int, *,
                      deadline: dt.date | None = None, cycle: str | None = None) -> dict:
        """Store generated families as the next batch of ``regency``+``programme`` and answer the batch object.

        Identifiers are made unique across everything the mock holds first: a second batch generated with the
        same seed, or another seed's NIK serials, would otherwise reuse central ids, NIKs or KK numbers.
        Defaults: the cycle of today, a deadline 30 days from today.
        """
        if not families:
            raise ValueError("a batch needs at least one family")
        today = dt.date.today()
        with self._write() as conn:
            self._make_identifiers_unique(conn, families)
            seq = conn.execute("SELECT COUNT(*) FROM batches WHERE regency = ? AND programme = ?",
                               (regency, programme)).fetchone()[0] + 1
            batch_id = f"{regency}-{programme}-{seq:04d}"
            documents = [family.as_json() for family in families]
            pages = _pages(documents, page_size)
            page_checksums = [checksum(page) for page in pages]
            batch = _batch_record(conn, batch_id=batch_id, regency=regency, programme=programme, deadline=deadline,
                                  cycle=cycle, today=today, families=len(documents),
                                  members=sum(len(f.members) for f in families), page_size=page_size,
                                  page_sums=page_checksums)
            conn.executemany(
                "INSERT INTO batch_families (batch_id, position, page, central_id, family_json) "
                "VALUES (?, ?, ?, ?, ?)",
                [(batch_id, position, position // page_size + 1, doc["central_id"],
                  canonical_json(doc).decode("utf-8")) for position, doc in enumerate(documents)])
            conn.executemany(
                "INSERT INTO families (central_id, regency, village_code, kk_number, attrs_json, living_members, "
                "score, desil, origin, dusun, rt, rw, address) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.central_id, regency, f.village_code, f.kk_number, json.dumps(f.attrs), f.living_members,
                  f.score, f.desil, f"batch:{batch_id}", f.dusun, f.rt, f.rw, f.address) for f in families])
            conn.executemany(
                "INSERT INTO members (central_id, position, nik, life_status, member_json) VALUES (?, ?, ?, ?, ?)",
                [(doc["central_id"], position, member["nik"], member["life_status"],
                  json.dumps({**member, "life_event_date": None}, ensure_ascii=False))
                 for doc in documents for position, member in enumerate(doc["members"])])
            numbers = [f.kk_number for f in families] + [m.nik for f in families for m in f.members]
            conn.executemany("INSERT INTO identifiers (number) VALUES (?)", [(n,) for n in numbers])
        return batch
    def publish_documents(self, regency: str, programme: str, documents: Iterable[dict], page_size: int, *,
                          deadline: dt.date | None = None, cycle: str | None = None, chunk: int = 5000) -> dict:
        """Store a stream of family documents as the next batch of ``regency``+``programme``, a chunk at a time,
        and answer the batch object: for batches too large to hold in memory (the benchmarks' regency of a
        million families). The caller guarantees unique identifiers; only the batch tables are written, so
        the batch is for pulling (``/v1/families`` does not know its families)."""
        today = dt.date.today()
        with self._write() as conn:
            seq = conn.execute("SELECT COUNT(*) FROM batches WHERE regency = ? AND programme = ?",
                               (regency, programme)).fetchone()[0] + 1
            batch_id = f"{regency}-{programme}-{seq:04d}"
            page_sums, families, members = [], 0, 0
            rows: list[tuple] = []
            page_hash = None
            for position, doc in enumerate(documents):
                text = canonical_json(doc)
                # A page's checksum covers canonical_json(list): "[" + the documents joined by "," + "]".
                if position % page_size == 0:
                    if page_hash is not None:
                        page_hash.update(b"]")
                        page_sums.append(page_hash.hexdigest())
                    page_hash = hashlib.sha256(b"[")
                else:
                    page_hash.update(b",")
                page_hash.update(text)
                rows.append((batch_id, position, position // page_size + 1, doc["central_id"], text.decode()))
                families = position + 1
                members += len(doc.get("members") or [])
                if len(rows) >= chunk:
                    conn.executemany("INSERT INTO batch_families (batch_id, position, page, central_id, "
                                     "family_json) VALUES (?, ?, ?, ?, ?)", rows)
                    rows = []
            if page_hash is None:
                raise ValueError("a batch needs at least one family")
            page_hash.update(b"]")
            page_sums.append(page_hash.hexdigest())
            conn.executemany("INSERT INTO batch_families (batch_id, position, page, central_id, family_json) "
                             "VALUES (?, ?, ?, ?, ?)", rows)
            batch = _batch_record(conn, batch_id=batch_id, regency=regency, programme=programme, deadline=deadline,
                                  cycle=cycle, today=today, families=families, members=members,
                                  page_size=page_size, page_sums=page_sums)
        return batch

    def batch_documents(self, batch_id: str) -> Iterator[dict]:
        """The documents of a stored batch in order, streamed (to publish them again, changed or not)."""
        with self._read() as conn:
            for (text,) in conn.execute("SELECT family_json FROM batch_families WHERE batch_id = ? "
                                        "ORDER BY position", (batch_id,)):
                yield json.loads(text)

    def republish(self, batch_id: str, page_size: int, *, change: Callable[[int, dict], dict] | None = None) -> dict:
        """Publish a stored batch's families again as the next batch (``change(index, document)`` may alter
        some): the centre's re-publication of a regency."""
        batch = self.get_batch(batch_id)
        documents = self.batch_documents(batch_id)
        if change:
            documents = (change(index, doc) for index, doc in enumerate(documents))
        return self.publish_documents(batch["regency"], batch["programme"], documents, page_size)

    @staticmethod
    def _make_identifiers_unique(conn: sqlite3.Connection, families: list[FamilyData]) -> None:
        central_ids = {row[0] for row in conn.execute("SELECT central_id FROM families")}
        numbers = {row[0] for row in conn.execute("SELECT number FROM identifiers")}

        def fresh_number(number: str) -> str:
            # Keep the 12-digit prefix (kecamatan + date): only the serial changes, so the number stays valid.
            if number not in numbers:
                numbers.add(number)
                return number
            prefix = number[:12]
            for serial in range(1, 10000):
                candidate = f"{prefix}{serial:04d}"
                if candidate not in numbers:
                    numbers.add(candidate)
                    return candidate
            raise ValueError(f"no free serial left for prefix {prefix}")

        for family in families:
            if family.central_id in central_ids:
                # The generator's id ends in seed (3 digits) + index (7): move to another "seed" slot.
                prefix, tail = family.central_id[:-10], int(family.central_id[-10:])
                step = 1
                while f"{prefix}{(tail + step * 10**7) % 10**10:010d}" in central_ids:
                    step += 1
                family.central_id = f"{prefix}{(tail + step * 10**7) % 10**10:010d}"
            central_ids.add(family.central_id)
            family.kk_number = fresh_number(family.kk_number)
            for member in family.members:
                member.nik = fresh_number(member.nik)

    def list_batches(self, regency: str | None, since: str | None, limit: int) -> dict:
        cursor = parse_cursor(since)
        query, params = "SELECT * FROM batches WHERE seq > ?", [cursor]
        if regency:
            query, params = query + " AND regency = ?", [*params, regency]
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY seq LIMIT ?", [*params, limit + 1]).fetchall()
        return self._cursor_page(rows, limit, since, "batches", _batch_json)

    @staticmethod
    def _cursor_page(rows: list[sqlite3.Row], limit: int, since: str | None, key: str, render) -> dict:
        # One row beyond the limit tells whether there is more, without a second query.
        shown = rows[:limit]
        next_cursor = str(shown[-1]["seq"]) if shown else (since or "0")
        return {key: [render(row) for row in shown], "next_cursor": next_cursor, "has_more": len(rows) > limit}

    def get_batch(self, batch_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
        return _batch_json(row) if row else None

    def batch_page_checksums(self, batch_id: str) -> list[str] | None:
        with self._read() as conn:
            if conn.execute("SELECT 1 FROM batches WHERE batch_id = ?", (batch_id,)).fetchone() is None:
                return None
            return [row[0] for row in conn.execute("SELECT checksum FROM batch_pages WHERE batch_id = ? "
                                                   "ORDER BY page", (batch_id,))]

    def batch_page(self, batch_id: str, page: int) -> dict | None:
        with self._read() as conn:
            batch = conn.execute("SELECT page_count FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if batch is None or not 1 <= page <= batch["page_count"]:
                return None
            stored = conn.execute("SELECT checksum FROM batch_pages WHERE batch_id = ? AND page = ?",
                                  (batch_id, page)).fetchone()["checksum"]
            rows = conn.execute("SELECT family_json FROM batch_families WHERE batch_id = ? AND page = ? "
                                "ORDER BY position", (batch_id, page)).fetchall()
        families = [json.loads(row["family_json"]) for row in rows]
        return {"batch_id": batch_id, "page": page, "page_count": batch["page_count"], "families": families,
                "checksum": stored}

    def batch_page_canonical(self, batch_id: str, page: int) -> CanonicalAnswer | None:
        """The page as ``batch_page`` answers it, already encoded as canonical JSON from the families' stored
        canonical text: nothing decoded or encoded per family, and the rows are byte for byte what the page
        checksum covers (a client may hash them as they arrive)."""
        with self._read() as conn:
            batch = conn.execute("SELECT page_count FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
            if batch is None or not 1 <= page <= batch["page_count"]:
                return None
            stored = conn.execute("SELECT checksum FROM batch_pages WHERE batch_id = ? AND page = ?",
                                  (batch_id, page)).fetchone()["checksum"]
            rows = conn.execute("SELECT family_json FROM batch_families WHERE batch_id = ? AND page = ? "
                                "ORDER BY position", (batch_id, page)).fetchall()
        # Sorted keys: batch_id, checksum, families, page, page_count.
        head = canonical_json({"batch_id": batch_id, "checksum": stored})[:-1]
        tail = canonical_json({"page": page, "page_count": batch["page_count"]})[1:]
        families = ",".join(row["family_json"] for row in rows).encode("utf-8")
        return CanonicalAnswer(b"".join((head, b',"families":[', families, b"],", tail)), batch["page_count"])

    # Submissions ------------------------------------------------------------------------------------------

    def receive_page(self, key: str, page: Page, body_hash: str) -> tuple[dict, bool]:
        """Store one page of the submission under ``key`` once: (receipt, newly stored).

        Raises ``IdempotencyConflict`` (the page stored with another body, or header fields that differ from
        the key's first page) and ``RefConflict`` (a ref another stored page of the key already uses).
        """
        header_hash = checksum(page.header)
        now = utc_now()
        with self._write() as conn:
            row = conn.execute("SELECT * FROM submissions WHERE idempotency_key = ?", (key,)).fetchone()
            if row is None:
                header = page.header
                seq = conn.execute(
                    "INSERT INTO submissions (idempotency_key, protocol, batch_id, round_ref, village_code, programme,"
                    " page_count, header_hash, status, received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'incomplete', ?)",
                    (key, header["protocol"], header["batch_id"], header["round_ref"], header["village_code"],
                     header["programme"], header["page_count"], header_hash, now)).lastrowid
                conn.execute("UPDATE submissions SET receipt_id = ? WHERE seq = ?", (f"R-{seq:06d}", seq))
            else:
                seq = row["seq"]
                if row["header_hash"] != header_hash:
                    raise IdempotencyConflict("this Idempotency-Key's first page has other header fields "
                                              "(protocol, batch_id, round_ref, village_code, programme, page_count)")
                stored = conn.execute("SELECT body_hash FROM submission_pages WHERE submission_seq = ? AND page = ?",
                                      (seq, page.page)).fetchone()
                if stored is not None:
                    if stored["body_hash"] != body_hash:
                        raise IdempotencyConflict(f"page {page.page} of this Idempotency-Key was already stored "
                                                  "with a different body")
                    return self._receipt(conn, row), False
                used = conn.execute(
                    "SELECT ref FROM submission_items WHERE submission_seq = ? AND ref IN "
                    "(SELECT value FROM json_each(?)) ORDER BY ordinal LIMIT 1",
                    (seq, json.dumps([item["ref"] for _kind, item in page.items]))).fetchone()
                if used is not None:
                    raise RefConflict(f"ref {used['ref']} is already used by another page of this submission")
            conn.execute("INSERT INTO submission_pages (submission_seq, page, body_hash, received_at) "
                         "VALUES (?, ?, ?, ?)", (seq, page.page, body_hash, now))
            conn.executemany(
                "INSERT INTO submission_items (submission_seq, ordinal, page, kind, ref, item_json) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(seq, item_ordinal(page.page, position), page.page, kind, item["ref"],
                  json.dumps(item, ensure_ascii=False)) for position, (kind, item) in enumerate(page.items)])
            # Complete once every page 1..page_count is stored; decided in the order submissions completed.
            conn.execute(
                "UPDATE submissions SET status = 'received', completed_seq = "
                "(SELECT COALESCE(MAX(completed_seq), 0) + 1 FROM submissions) WHERE seq = ? AND status = 'incomplete' "
                "AND page_count = (SELECT COUNT(*) FROM submission_pages WHERE submission_seq = ?)", (seq, seq))
            row = conn.execute("SELECT * FROM submissions WHERE seq = ?", (seq,)).fetchone()
            return self._receipt(conn, row), True

    @staticmethod
    def _receipt(conn: sqlite3.Connection, row: sqlite3.Row) -> dict:
        seq = row["seq"]
        pages = [page for (page,) in conn.execute(
            "SELECT page FROM submission_pages WHERE submission_seq = ? ORDER BY page", (seq,))]
        counts = dict(conn.execute("SELECT kind, COUNT(*) FROM submission_items WHERE submission_seq = ? "
                                   "GROUP BY kind", (seq,)).fetchall())
        receipt = {"receipt_id": row["receipt_id"], "idempotency_key": row["idempotency_key"],
                   "protocol": row["protocol"], "status": row["status"], "page_count": row["page_count"],
                   "pages_received": pages, "received_at": row["received_at"],
                   "result_count": counts.get("result", 0), "proposal_count": counts.get("proposal", 0),
                   "item_counts": {name: counts.get(kind, 0) for name, kind in ITEM_LISTS}}
        if row["decided_at"]:
            receipt["decided_at"] = row["decided_at"]
            outcomes = dict(conn.execute("SELECT outcome, COUNT(*) FROM submission_items WHERE submission_seq = ? "
                                         "AND outcome IS NOT NULL GROUP BY outcome", (seq,)).fetchall())
            receipt["outcome_counts"] = {name: outcomes.get(name, 0) for name in ("accepted", "rejected")}
        if row["reason"]:
            receipt["reason"] = row["reason"]
        return receipt

    def receipt(self, receipt_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM submissions WHERE receipt_id = ?", (receipt_id,)).fetchone()
            return self._receipt(conn, row) if row else None

    def outcomes(self, receipt_id: str, since: str | None, limit: int) -> dict | None:
        """Per-item outcomes of a decided submission, cursor-paged; None for an unknown receipt."""
        cursor = parse_cursor(since)
        with self._read() as conn:
            row = conn.execute("SELECT seq, status FROM submissions WHERE receipt_id = ?", (receipt_id,)).fetchone()
            if row is None:
                return None
            if row["status"] not in DECIDED:
                raise NotDecided(row["status"])
            rows = conn.execute(
                "SELECT ordinal AS seq, ref, kind, outcome, reason, new_central_id FROM submission_items "
                "WHERE submission_seq = ? AND ordinal > ? ORDER BY ordinal LIMIT ?",
                (row["seq"], cursor, limit + 1)).fetchall()
        return self._cursor_page(rows, limit, since, "outcomes", _outcome_json)

    def accept_submissions(self, today: dt.date | None = None) -> dict:
        """Decide every complete submission in the order they became complete (``decide.py``)."""
        totals = {"decided": 0, "accepted": 0, "partial": 0, "rejected": 0, "determinations": 0, "withdrawn": 0,
                  "items": {"accepted": 0, "rejected": 0}}
        with self._write() as conn:
            for submission in conn.execute("SELECT * FROM submissions WHERE status = 'received' "
                                           "ORDER BY completed_seq").fetchall():
                summary = decide_submission(conn, submission, today=today or dt.date.today())
                totals["decided"] += 1
                totals[summary.status] += 1
                totals["determinations"] += summary.determinations
                totals["withdrawn"] += summary.withdrawn
                totals["items"]["accepted"] += summary.accepted
                totals["items"]["rejected"] += summary.rejected
        return totals

    # Families ---------------------------------------------------------------------------------------------

    def family(self, central_id: str) -> dict | None:
        """The centre's view of one family: data, members, score and what submissions did to it."""
        with self._read() as conn:
            row = conn.execute("SELECT * FROM families WHERE central_id = ?", (central_id,)).fetchone()
            if row is None:
                return None
            members = [{"life_event_date": None, **json.loads(m["member_json"])} for m in conn.execute(
                "SELECT member_json FROM members WHERE central_id = ? ORDER BY position", (central_id,))]
            results = [dict(r) for r in conn.execute(
                "SELECT round_ref, receipt_id, decision, reason FROM final_results WHERE central_id = ? "
                "ORDER BY round_ref", (central_id,))]
            recommendation = conn.execute("SELECT recommendation, visited_on, receipt_id FROM recommendations "
                                          "WHERE central_id = ?", (central_id,)).fetchone()
            reports = [dict(r) for r in conn.execute(
                "SELECT kind, reason, resolution, received_on, receipt_id FROM reports WHERE central_id = ? "
                "ORDER BY received_on, kind, reason", (central_id,))]
        family = {name: row[name] for name in ("central_id", "kk_number", "regency", "village_code", "dusun", "rt",
                                               "rw", "address", "latitude", "longitude")}
        family.update(attrs=json.loads(row["attrs_json"]), members=members, living_members=row["living_members"],
                      score=row["score"], desil=row["desil"], origin=row["origin"], final_results=results,
                      recommendation=dict(recommendation) if recommendation else None, reports=reports)
        return family

    # Determinations ---------------------------------------------------------------------------------------

    def list_determinations(self, regency: str | None, since: str | None, limit: int) -> dict:
        cursor = parse_cursor(since)
        query, params = "SELECT * FROM determinations WHERE seq > ?", [cursor]
        if regency:
            query, params = query + " AND regency = ?", [*params, regency]
        with self._read() as conn:
            rows = conn.execute(query + " ORDER BY seq LIMIT ?", [*params, limit + 1]).fetchall()
        return self._cursor_page(rows, limit, since, "determinations", _determination_json)

    # Desil publications -----------------------------------------------------------------------------------

    def publish_desil(self, period: str, page_size: int) -> dict:
        """Rank every family the mock holds by the PMT over its current attrs; replace ``period`` if present.

        A replaced publication gets a new sequence number, so clients following the cursor see it again.
        """
        with self._write() as conn:
            families = conn.execute("SELECT seq, central_id, village_code, attrs_json, living_members FROM families "
                                    "ORDER BY seq").fetchall()
            scores = [pmt_score(json.loads(f["attrs_json"]), f["living_members"]) for f in families]
            deciles = rank_deciles(scores)
            conn.executemany("UPDATE families SET score = ?, desil = ? WHERE seq = ?",
                             [(s, d, f["seq"]) for f, s, d in zip(families, scores, deciles, strict=True)])
            rows = [{"central_id": f["central_id"], "village_code": f["village_code"], "desil": d, "score": s}
                    for f, s, d in zip(families, scores, deciles, strict=True)]
            pages = _pages(rows, page_size)
            page_checksums = [checksum(page) for page in pages]
            for table in ("desil_rows", "desil_pages", "desil_publications"):
                conn.execute(f"DELETE FROM {table} WHERE period = ?", (period,))  # noqa: S608 - fixed table names  # nosec B608
            publication = {"period": period, "published_at": utc_now(), "row_count": len(rows),
                           "page_size": page_size, "page_count": len(pages),
                           "checksum": combined_checksum(page_checksums)}
            conn.execute("INSERT INTO desil_publications (period, published_at, row_count, page_size, page_count, "
                         "checksum) VALUES (:period, :published_at, :row_count, :page_size, :page_count, :checksum)",
                         publication)
            conn.executemany("INSERT INTO desil_pages (period, page, checksum) VALUES (?, ?, ?)",
                             [(period, number, page_sum) for number, page_sum in enumerate(page_checksums, 1)])
            conn.executemany(
                "INSERT INTO desil_rows (period, position, page, central_id, village_code, desil, score) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [(period, position, position // page_size + 1, row["central_id"], row["village_code"], row["desil"],
                  row["score"]) for position, row in enumerate(rows)])
        return publication

    def list_publications(self, since: str | None, limit: int) -> dict:
        cursor = parse_cursor(since)
        with self._read() as conn:
            rows = conn.execute("SELECT * FROM desil_publications WHERE seq > ? ORDER BY seq LIMIT ?",
                                (cursor, limit + 1)).fetchall()
        return self._cursor_page(rows, limit, since, "publications", _publication_json)

    def publication_page(self, period: str, page: int) -> dict | None:
        with self._read() as conn:
            publication = conn.execute("SELECT page_count FROM desil_publications WHERE period = ?",
                                       (period,)).fetchone()
            if publication is None or not 1 <= page <= publication["page_count"]:
                return None
            stored = conn.execute("SELECT checksum FROM desil_pages WHERE period = ? AND page = ?",
                                  (period, page)).fetchone()["checksum"]
            rows = conn.execute("SELECT central_id, village_code, desil, score FROM desil_rows WHERE period = ? "
                                "AND page = ? ORDER BY position", (period, page)).fetchall()
        # Rows published before v2 have no village_code: served as published, so their checksum still holds.
        return {"period": period, "page": page, "page_count": publication["page_count"],
                "rows": [{key: value for key, value in dict(row).items() if value is not None or key != "village_code"}
                         for row in rows], "checksum": stored}
