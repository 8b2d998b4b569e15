"""The mock central's own storage: one SQLite file (``DATA_DIR/central.sqlite3``), kept across restarts.

Every read opens a short-lived connection (WAL lets readers run beside the writer); every write runs in one
``BEGIN IMMEDIATE`` transaction under a single process-wide lock, so counters, sequence numbers and the
idempotency check never race. Cursors handed to clients are the integer ``seq`` of the last item returned.
"""
from __future__ import annotations

import datetime as dt
import json
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from pathlib import Path

from central.protocol import canonical_json, checksum, combined_checksum
from registry.pmt import pmt_score, rank_deciles
from registry.synthetic import FamilyData

DECISIONS = ("eligible", "not_eligible", "corrected")
# Decisions that make a family a KPM candidate, and the desil at or below which it is determined.
KPM_DECISIONS = ("eligible", "corrected")
KPM_MAX_DESIL = 4
COUNTERS = ("requests_total", "submission_requests", "faults_fail", "faults_timeout", "faults_drop",
            "faults_duplicate", "proposals_accepted")

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, batch_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    programme TEXT NOT NULL, published_at TEXT NOT NULL, family_count INTEGER NOT NULL,
    member_count INTEGER NOT NULL, page_size INTEGER NOT NULL, page_count INTEGER NOT NULL,
    checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batch_pages (
    batch_id TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (batch_id, page));
CREATE TABLE IF NOT EXISTS batch_families (
    batch_id TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL, central_id TEXT NOT NULL,
    family_json TEXT NOT NULL, PRIMARY KEY (batch_id, position));
CREATE INDEX IF NOT EXISTS batch_families_page ON batch_families (batch_id, page, position);
CREATE TABLE IF NOT EXISTS families (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, central_id TEXT NOT NULL UNIQUE, regency TEXT NOT NULL,
    village_code TEXT NOT NULL, kk_number TEXT NOT NULL, attrs_json TEXT NOT NULL,
    living_members INTEGER NOT NULL, score REAL NOT NULL, desil INTEGER NOT NULL, origin TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS identifiers (number TEXT PRIMARY KEY) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS submissions (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, receipt_id TEXT UNIQUE, idempotency_key TEXT NOT NULL UNIQUE,
    body_hash TEXT NOT NULL, body_json TEXT NOT NULL, status TEXT NOT NULL, received_at TEXT NOT NULL,
    decided_at TEXT, reason TEXT, result_count INTEGER NOT NULL, proposal_count INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS determinations (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, determination_id TEXT UNIQUE, central_id TEXT NOT NULL,
    kk_number TEXT NOT NULL, regency TEXT NOT NULL, village_code TEXT NOT NULL, programme TEXT NOT NULL,
    period TEXT NOT NULL, status TEXT NOT NULL, receipt_id TEXT NOT NULL,
    UNIQUE (central_id, programme, period));
CREATE INDEX IF NOT EXISTS determinations_regency ON determinations (regency, seq);
CREATE TABLE IF NOT EXISTS desil_publications (
    seq INTEGER PRIMARY KEY AUTOINCREMENT, period TEXT NOT NULL UNIQUE, published_at TEXT NOT NULL,
    row_count INTEGER NOT NULL, page_size INTEGER NOT NULL, page_count INTEGER NOT NULL, checksum TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS desil_pages (
    period TEXT NOT NULL, page INTEGER NOT NULL, checksum TEXT NOT NULL, PRIMARY KEY (period, page));
CREATE TABLE IF NOT EXISTS desil_rows (
    period TEXT NOT NULL, position INTEGER NOT NULL, page INTEGER NOT NULL, central_id TEXT NOT NULL,
    desil INTEGER NOT NULL, score REAL NOT NULL, PRIMARY KEY (period, position));
CREATE INDEX IF NOT EXISTS desil_rows_page ON desil_rows (period, page, position);
"""


class IdempotencyConflict(Exception):
    """The idempotency key is already stored with a different body."""


class InvalidCursor(ValueError):
    """A ``since`` value that is not one of our cursors."""


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


def regency_of(village_code: str) -> str:
    return ".".join(village_code.split(".")[:2])


def parse_cursor(since: str | None) -> int:
    if since in (None, ""):
        return 0
    if not since.isdigit() or len(since) > 18:
        raise InvalidCursor(since)
    return int(since)


def _pages(items: Sequence, page_size: int) -> list[list]:
    return [list(items[start:start + page_size]) for start in range(0, len(items), page_size)]


def _batch_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("batch_id", "regency", "programme", "published_at", "family_count",
                                      "member_count", "page_size", "page_count", "checksum")}


def _publication_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("period", "published_at", "row_count", "page_size", "page_count",
                                      "checksum")}


def _determination_json(row: sqlite3.Row) -> dict:
    return {key: row[key] for key in ("determination_id", "central_id", "kk_number", "regency", "village_code",
                                      "programme", "period", "status", "receipt_id")}


def _receipt_json(row: sqlite3.Row) -> dict:
    receipt = {"receipt_id": row["receipt_id"], "idempotency_key": row["idempotency_key"],
               "status": row["status"], "received_at": row["received_at"], "result_count": row["result_count"],
               "proposal_count": row["proposal_count"]}
    if row["decided_at"]:
        receipt["decided_at"] = row["decided_at"]
    if row["reason"]:
        receipt["reason"] = row["reason"]
    return receipt


def _living(members: list[dict]) -> int:
    return sum(1 for member in members if member.get("life_status", "present") == "present")


class Store:
    """All the mock central's state. Safe to share between the server's threads."""

    def __init__(self, path: Path | str):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        with closing(self._connect()) as conn:
            # WAL is a property of the file: set once, readers then never block the writer.
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(SCHEMA)

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
        counters = self.counters()
        with self._read() as conn:
            batches, families = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(family_count), 0) FROM batches").fetchone()
            received, accepted = conn.execute(
                "SELECT COUNT(*), COALESCE(SUM(status = 'accepted'), 0) FROM submissions").fetchone()
            determinations = conn.execute("SELECT COUNT(*) FROM determinations").fetchone()[0]
            publications = conn.execute("SELECT COUNT(*) FROM desil_publications").fetchone()[0]
        return {
            "families_published": families, "batches_published": batches, "submissions_received": received,
            "submission_requests": counters["submission_requests"], "submissions_accepted": accepted,
            "determinations": determinations, "desil_publications": publications,
            "requests_total": counters["requests_total"],
        }

    # Batches ----------------------------------------------------------------------------------------------

    def has_batch(self, regency: str) -> bool:
        with self._read() as conn:
            return conn.execute("SELECT 1 FROM batches WHERE regency = ? LIMIT 1", (regency,)).fetchone() is not None

    def batch_count(self) -> int:
        with self._read() as conn:
            return conn.execute("SELECT COUNT(*) FROM batches").fetchone()[0]

    def publish_batch(self, regency: str, programme: str, families: list[FamilyData], page_size: int) -> dict:
        """Store generated families as the next batch of ``regency``+``programme`` and answer the batch object.

        Identifiers are made unique across everything the mock holds first: a second batch generated with the
        same seed, or another seed's NIK serials, would otherwise reuse central ids, NIKs or KK numbers.
        """
        if not families:
            raise ValueError("a batch needs at least one family")
        with self._write() as conn:
            self._make_identifiers_unique(conn, families)
            seq = conn.execute("SELECT COUNT(*) FROM batches WHERE regency = ? AND programme = ?",
                               (regency, programme)).fetchone()[0] + 1
            batch_id = f"{regency}-{programme}-{seq:04d}"
            documents = [family.as_json() for family in families]
            pages = _pages(documents, page_size)
            page_checksums = [checksum(page) for page in pages]
            batch = {
                "batch_id": batch_id, "regency": regency, "programme": programme, "published_at": utc_now(),
                "family_count": len(documents), "member_count": sum(len(f.members) for f in families),
                "page_size": page_size, "page_count": len(pages), "checksum": combined_checksum(page_checksums),
            }
            conn.execute(
                "INSERT INTO batches (batch_id, regency, programme, published_at, family_count, member_count, "
                "page_size, page_count, checksum) VALUES (:batch_id, :regency, :programme, :published_at, "
                ":family_count, :member_count, :page_size, :page_count, :checksum)", batch)
            conn.executemany("INSERT INTO batch_pages (batch_id, page, checksum) VALUES (?, ?, ?)",
                             [(batch_id, number, page_sum) for number, page_sum in enumerate(page_checksums, 1)])
            conn.executemany(
                "INSERT INTO batch_families (batch_id, position, page, central_id, family_json) "
                "VALUES (?, ?, ?, ?, ?)",
                [(batch_id, position, position // page_size + 1, doc["central_id"],
                  canonical_json(doc).decode("utf-8")) for position, doc in enumerate(documents)])
            conn.executemany(
                "INSERT INTO families (central_id, regency, village_code, kk_number, attrs_json, living_members, "
                "score, desil, origin) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(f.central_id, regency, f.village_code, f.kk_number, json.dumps(f.attrs), f.living_members,
                  f.score, f.desil, f"batch:{batch_id}") for f in families])
            numbers = [f.kk_number for f in families] + [m.nik for f in families for m in f.members]
            conn.executemany("INSERT INTO identifiers (number) VALUES (?)", [(n,) for n in numbers])
        return batch

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

    # Submissions ------------------------------------------------------------------------------------------

    def receive_submission(self, key: str, body: dict) -> tuple[dict, bool]:
        """Store a submission once per idempotency key: (receipt, created). Raises ``IdempotencyConflict``."""
        body_hash = checksum(body)
        with self._write() as conn:
            row = conn.execute("SELECT * FROM submissions WHERE idempotency_key = ?", (key,)).fetchone()
            if row is not None:
                if row["body_hash"] != body_hash:
                    raise IdempotencyConflict(key)
                return _receipt_json(row), False
            seq = conn.execute(
                "INSERT INTO submissions (idempotency_key, body_hash, body_json, status, received_at, result_count, "
                "proposal_count) VALUES (?, ?, ?, 'received', ?, ?, ?)",
                (key, body_hash, json.dumps(body, ensure_ascii=False), utc_now(), len(body["results"]),
                 len(body.get("proposals") or []))).lastrowid
            conn.execute("UPDATE submissions SET receipt_id = ? WHERE seq = ?", (f"R-{seq:06d}", seq))
            row = conn.execute("SELECT * FROM submissions WHERE seq = ?", (seq,)).fetchone()
        return _receipt_json(row), True

    def receipt(self, receipt_id: str) -> dict | None:
        with self._read() as conn:
            row = conn.execute("SELECT * FROM submissions WHERE receipt_id = ?", (receipt_id,)).fetchone()
        return _receipt_json(row) if row else None

    def accept_submissions(self, today: dt.date | None = None) -> dict:
        """Accept every received submission: corrections, determinations and proposals take effect.

        A submission naming a family the mock does not hold is rejected whole, as a real registry would.
        """
        period = (today or dt.date.today()).strftime("%Y-%m")
        accepted = rejected = determinations = 0
        with self._write() as conn:
            for submission in conn.execute(
                    "SELECT * FROM submissions WHERE status = 'received' ORDER BY seq").fetchall():
                body = json.loads(submission["body_json"])
                decided_at = utc_now()
                families = {}
                for result in body["results"]:
                    row = conn.execute("SELECT * FROM families WHERE central_id = ?",
                                       (result["central_id"],)).fetchone()
                    if row is not None:
                        families[row["central_id"]] = row
                unknown = sorted({r["central_id"] for r in body["results"]} - families.keys())
                if unknown:
                    conn.execute("UPDATE submissions SET status = 'rejected', decided_at = ?, reason = ? "
                                 "WHERE seq = ?", (decided_at, f"unknown central_id: {', '.join(unknown[:5])}",
                                                   submission["seq"]))
                    rejected += 1
                    continue
                for result in body["results"]:
                    family = families[result["central_id"]]
                    if result["decision"] in KPM_DECISIONS and 1 <= family["desil"] <= KPM_MAX_DESIL:
                        determinations += self._determine(conn, family, body["programme"], period,
                                                          submission["receipt_id"])
                    corrections = result.get("corrections") or {}
                    if corrections:
                        # Whatever the decision, what the verifier saw is the registry's data from now on.
                        attrs = {**json.loads(family["attrs_json"]), **corrections}
                        conn.execute("UPDATE families SET attrs_json = ? WHERE seq = ?",
                                     (json.dumps(attrs), family["seq"]))
                for proposal in body.get("proposals") or []:
                    self._add_proposal(conn, proposal, body["village_code"], submission["receipt_id"])
                conn.execute("UPDATE submissions SET status = 'accepted', decided_at = ? WHERE seq = ?",
                             (decided_at, submission["seq"]))
                accepted += 1
        return {"accepted": accepted, "rejected": rejected, "determinations": determinations}

    @staticmethod
    def _determine(conn: sqlite3.Connection, family: sqlite3.Row, programme: str, period: str,
                   receipt_id: str) -> int:
        # One determination per family, programme and month, however many submissions name the family.
        cursor = conn.execute(
            "INSERT OR IGNORE INTO determinations (central_id, kk_number, regency, village_code, programme, period, "
            "status, receipt_id) VALUES (?, ?, ?, ?, ?, ?, 'kpm', ?)",
            (family["central_id"], family["kk_number"], family["regency"], family["village_code"], programme,
             period, receipt_id))
        if cursor.rowcount != 1:
            return 0
        conn.execute("UPDATE determinations SET determination_id = ? WHERE seq = ?",
                     (f"D-{cursor.lastrowid:06d}", cursor.lastrowid))
        return 1

    def _add_proposal(self, conn: sqlite3.Connection, proposal: dict, village_code: str, receipt_id: str) -> None:
        village = proposal.get("village_code") or village_code
        self._bump(conn, "proposals_accepted")
        number = conn.execute("SELECT value FROM counters WHERE name = 'proposals_accepted'").fetchone()[0]
        central_id = f"P{village.replace('.', '')}{number:06d}"
        members = proposal.get("members") or []
        # Score and desil stay 0 until the next desil publication ranks the new family.
        conn.execute(
            "INSERT INTO families (central_id, regency, village_code, kk_number, attrs_json, living_members, score, "
            "desil, origin) VALUES (?, ?, ?, ?, ?, ?, 0, 0, ?)",
            (central_id, regency_of(village), village, str(proposal.get("kk_number") or ""),
             json.dumps(proposal.get("attrs") or {}), _living(members), f"proposal:{receipt_id}"))

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
            families = conn.execute("SELECT seq, central_id, attrs_json, living_members FROM families "
                                    "ORDER BY seq").fetchall()
            scores = [pmt_score(json.loads(f["attrs_json"]), f["living_members"]) for f in families]
            deciles = rank_deciles(scores)
            conn.executemany("UPDATE families SET score = ?, desil = ? WHERE seq = ?",
                             [(s, d, f["seq"]) for f, s, d in zip(families, scores, deciles, strict=True)])
            rows = [{"central_id": f["central_id"], "desil": d, "score": s}
                    for f, s, d in zip(families, scores, deciles, strict=True)]
            pages = _pages(rows, page_size)
            page_checksums = [checksum(page) for page in pages]
            for table in ("desil_rows", "desil_pages", "desil_publications"):
                conn.execute(f"DELETE FROM {table} WHERE period = ?", (period,))  # noqa: S608 - fixed table names
            publication = {"period": period, "published_at": utc_now(), "row_count": len(rows),
                           "page_size": page_size, "page_count": len(pages),
                           "checksum": combined_checksum(page_checksums)}
            conn.execute("INSERT INTO desil_publications (period, published_at, row_count, page_size, page_count, "
                         "checksum) VALUES (:period, :published_at, :row_count, :page_size, :page_count, :checksum)",
                         publication)
            conn.executemany("INSERT INTO desil_pages (period, page, checksum) VALUES (?, ?, ?)",
                             [(period, number, page_sum) for number, page_sum in enumerate(page_checksums, 1)])
            conn.executemany(
                "INSERT INTO desil_rows (period, position, page, central_id, desil, score) VALUES (?, ?, ?, ?, ?, ?)",
                [(period, position, position // page_size + 1, row["central_id"], row["desil"], row["score"])
                 for position, row in enumerate(rows)])
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
            rows = conn.execute("SELECT central_id, desil, score FROM desil_rows WHERE period = ? AND page = ? "
                                "ORDER BY position", (period, page)).fetchall()
        return {"period": period, "page": page, "page_count": publication["page_count"],
                "rows": [dict(row) for row in rows], "checksum": stored}
